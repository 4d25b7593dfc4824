"""A doorbell for idle workers on this machine: a named pipe in the data folder.

Idle workers look at the queue every `poll_idle_seconds`, so a job created
just after a look waits for the next one. The service rings this bell when it
queues a job, and an idle worker on the same machine wakes and claims it at
once. The bell is only a hint; the database stays the queue. A ring nobody
hears costs one poll interval, and workers on other machines (PostgreSQL
shared by several hosts) simply poll. Where named pipes don't exist
(Windows), ringing does nothing and waiting is a plain sleep.
"""

from __future__ import annotations

import errno
import os
import select
import threading
from pathlib import Path

BELL = "queue.bell"


class Doorbell:
    def __init__(self, data_dir: str | Path):
        self.path = Path(data_dir) / BELL
        self._fd: int | None = None

    def ring(self) -> None:
        """Wake one waiting worker, if any; never blocks, never fails the caller."""
        if not hasattr(os, "mkfifo"):
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no such pipe (no worker ever listened here) or no reader: nobody to wake
            return
        try:
            os.write(fd, b".")
        except OSError as exc:  # a full pipe already holds plenty of rings
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise
        finally:
            os.close(fd)

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Sleep until a ring or `timeout` seconds; True if rung. Rings already waiting count."""
        if not hasattr(os, "mkfifo"):
            (stop or threading.Event()).wait(timeout)
            return False
        if self._fd is None:
            try:
                os.mkfifo(self.path, 0o600)
            except FileExistsError:
                pass
            # Read and write: with a writer always open (ourselves), the pipe never reads as
            # closed, so select() sleeps instead of returning at once with end-of-file.
            self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return False
        try:
            while os.read(self._fd, 4096):  # take every ring: one look at the queue answers them all
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
