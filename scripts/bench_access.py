"""Benchmark the access program's cost per request. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_access.py [--requests 2000] [--database-url URL]

1. In-process: Access.authenticate (key lookup, revocation/suspension check,
   scope, rate counter, address/agent sightings, leak rules) per call.
2. Over HTTP: GET /v1/models latency through the whole app (TestClient, no
   network), as a yardstick for what auth adds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from openreel.api.app import create_app
    from openreel.service.settings import Settings
    with tempfile.TemporaryDirectory() as d:
        settings = Settings(data_dir=Path(d), database_url=args.database_url, leak_rules={"rate_floor": 10**9})
        app = create_app(settings)
        access = app.state.service.access
        user = access.create_user("bench", "creator")
        key, _ = access.create_key(user["id"], "bench")
        for _ in range(50):  # warm-up
            access.authenticate(f"Bearer {key}", "127.0.0.1", "bench", "videos:read")
        times = []
        for _ in range(args.requests):
            t = time.perf_counter()
            access.authenticate(f"Bearer {key}", "127.0.0.1", "bench", "videos:read")
            times.append(time.perf_counter() - t)
        client = TestClient(app)
        headers = {"authorization": f"Bearer {key}"}
        http = []
        for _ in range(min(args.requests, 1000)):
            t = time.perf_counter()
            assert client.get("/v1/models", headers=headers).status_code == 200
            http.append(time.perf_counter() - t)
        db = settings.db_url().split("://")[0]
        print(f"database: {db}; {args.requests} calls")
        print(f"authenticate(): p50 {1000 * statistics.median(times):.3f} ms, p99 {1000 * pct(times, 99):.3f} ms")
        print(f"GET /v1/models end to end in-process: p50 {1000 * statistics.median(http):.3f} ms, "
              f"p99 {1000 * pct(http, 99):.3f} ms")


if __name__ == "__main__":
    main()
