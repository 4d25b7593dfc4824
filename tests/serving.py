"""A live `openreel serve` on loopback, for tests that drive it like a user would."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`openreel serve` as a subprocess, with its own data folder and (by default) SQLite."""

    def __init__(self, data_dir: Path, workers: int = 1, env: dict | None = None, port: int | None = None,
                 admin_key: str | None = None):
        self.data_dir, self.workers = Path(data_dir), workers
        self.port = port or free_port()
        self.admin_key = admin_key or "ork_" + secrets.token_urlsafe(32)  # reuse one to restart on the same data
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "OPENREEL_DATA_DIR": str(self.data_dir), "OPENREEL_LEASE_SECONDS": "4",
                    "OPENREEL_HEARTBEAT_SECONDS": "0.5", "OPENREEL_POLL_AFTER_MS": "100",
                    "OPENREEL_POLL_IDLE_SECONDS": "0.1", "OMP_NUM_THREADS": "1",
                    "OPENREEL_BOOTSTRAP_ADMIN_KEY": self.admin_key,
                    # Tests poll 10 times a second; the leak tests set their own rules.
                    "OPENREEL_LEAK_RULES": '{"rate_floor": 1000000}', **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir / f"server-{self.port}.log"

    def start(self, wait_workers: bool = True) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openreel.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, f"server exited: {self.log.read_text()[-3000:]}"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise TimeoutError(f"server did not start: {self.log.read_text()[-3000:]}")
        if wait_workers:
            self.wait_workers_ready()
        return self

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-f", f"openreel.service.worker.*--watch-parent {self.proc.pid}"],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def wait_workers_ready(self, timeout: float = 120) -> None:
        """Until every worker has logged that its model is loaded."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.log.read_text(errors="replace").count(" ready") >= self.workers:
                return
            time.sleep(0.2)
        raise TimeoutError("workers did not load the model in time")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        # Workers watch their parent and leave within a poll interval; make sure.
        deadline = time.time() + 10
        while self.proc and self.worker_pids() and time.time() < deadline:
            time.sleep(0.2)
        for pid in self.proc and self.worker_pids() or []:
            os.kill(pid, signal.SIGKILL)

    def client(self, api_key: str | None = None, **kw):
        import openai
        return openai.OpenAI(base_url=self.url + "/v1", api_key=api_key or self.admin_key, max_retries=0, **kw)

    @property
    def http(self) -> httpx.Client:
        """Plain HTTP with the admin key."""
        return self.as_key(self.admin_key)

    def as_key(self, key: str | None, **kw) -> httpx.Client:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)


class Receiver:
    """A webhook endpoint that fails its first `fail_first` deliveries, then accepts."""

    def __init__(self, fail_first: int = 1):
        self.got: list[tuple[dict, str]] = []
        self.arrived: list[float] = []  # time.perf_counter() of each accepted delivery, beside got
        self.changed = threading.Condition()  # notified on every accepted delivery
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                outer.calls += 1
                status = 500 if outer.calls <= fail_first else 200
                if status == 200:
                    with outer.changed:
                        outer.arrived.append(time.perf_counter())
                        outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                        outer.changed.notify_all()
                self.send_response(status)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def wait(self, until, timeout: float) -> bool:
        """Block (without spinning) until until() is true after some delivery, or timeout seconds."""
        with self.changed:
            return self.changed.wait_for(until, timeout)
