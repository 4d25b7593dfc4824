"""`openreel serve`: the HTTP app under uvicorn, plus supervised worker processes.

The API process never generates; it only stores jobs. N worker processes
(python -m openreel.service.worker) each load the model once and keep it.
A supervisor thread restarts any worker that dies; the lost job comes back
through the lease reaper. Workers exit by themselves if this process dies,
even by kill -9, so a restart never finds stale workers competing.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from ..service.settings import Settings

log = logging.getLogger("openreel.serve")


class WorkerPool:
    def __init__(self, settings: Settings, count: int, env: dict | None = None):
        self.settings, self.count = settings, count
        self.env = {**os.environ, **(env or {})}
        self.procs: dict[int, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self.restarts = 0

    def _start(self, slot: int) -> None:
        cmd = [sys.executable, "-m", "openreel.service.worker", "--name", f"w{slot}-{os.getpid()}-{self.restarts}",
               "--watch-parent", str(os.getpid())]
        self.procs[slot] = subprocess.Popen(cmd, env=self.env)
        log.info("worker %d started (pid %d)", slot, self.procs[slot].pid)

    def start(self) -> None:
        for slot in range(self.count):
            self._start(slot)
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        while not self.stopping.wait(1.0):
            for slot, proc in list(self.procs.items()):
                if proc.poll() is not None and not self.stopping.is_set():
                    log.warning("worker %d (pid %d) exited with %s; starting another", slot, proc.pid, proc.returncode)
                    self.restarts += 1
                    self._start(slot)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None) -> None:
    import uvicorn

    from .app import create_app
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Children read the same settings from the environment.
    env = {"OPENREEL_DATA_DIR": str(settings.data_dir.resolve()), "OPENREEL_DATABASE_URL": settings.database_url}
    app = create_app(settings)  # creates the tables before any worker starts
    pool = WorkerPool(settings, settings.workers if workers is None else workers, env)
    pool.start()
    try:
        # Only uvicorn decides the client address: from X-Forwarded-For (and -Proto) only when the peer is one
        # of OPENREEL_FORWARDED_ALLOW_IPS; empty (the default) trusts no proxy header at all.
        trusted = settings.forwarded_allow_ips.strip()
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=bool(trusted),
                    forwarded_allow_ips=trusted or None)
    finally:
        pool.stop()
