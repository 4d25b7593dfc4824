"""Benchmark the Videos API server. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_api.py [--jobs 10] [--pollers 200] [--seconds 4]

1. Overhead: end-to-end job time through the API (create -> completed, seen by
   a client polling every 20 ms) divided by a direct VideoPipeline call for
   the same request (generation + MP4 encoding), both with the model loaded.
2. Poll latency: p50/p99 of GET /v1/videos/{id} with N concurrent pollers
   while jobs run.
3. Create throughput: POST /v1/videos per second, 16 clients at once.

It starts its own `openreel serve` (SQLite, 1 worker) in a temporary folder. API jobs include
everything a served video gets: authentication, moderation, the watermark, C2PA signing of the
MP4 and its stills, and the thumbnail and sprite sheet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serving import Server  # noqa: E402

PROMPT = "a red circle moving right on a navy background"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def direct_times(n: int, seconds: int) -> list[float]:
    from openreel.pipeline import VideoPipeline
    pipe = VideoPipeline.from_pretrained()
    pipe(PROMPT, seconds=seconds, seed=0)  # warm-up
    out = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(n):
            t = time.perf_counter()
            pipe(PROMPT, seconds=seconds, size="64x64", seed=i).save(Path(d) / "v.mp4")
            out.append(time.perf_counter() - t)
    del pipe
    return out


async def api_times(srv: Server, n: int, seconds: int, every: float = 0.02) -> list[float]:
    """Create -> completed as a client sees it, polling every `every` s on one keep-alive connection
    (a bare client: each poll costs the shared CPU little, so it measures the job, not the polling)."""
    auth = {"authorization": f"Bearer {srv.admin_key}"}
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)

    async def run(i: int) -> float:
        t = time.perf_counter()
        async with httpx.AsyncClient(base_url=srv.url, headers=auth) as c:
            vid = (await c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": seconds,
                                                    "seed": i})).json()["id"]
        request = (f"GET /v1/videos/{vid} HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                   f"authorization: Bearer {srv.admin_key}\r\n\r\n").encode()
        while json.loads((await _get(reader, writer, request))[2])["status"] not in ("completed", "failed"):
            await asyncio.sleep(every)
        return time.perf_counter() - t

    await run(10_000)  # warm-up
    out = [await run(i) for i in range(n)]
    writer.close()
    return out


async def _get(reader, writer, request: bytes) -> tuple[int, dict, bytes]:
    """One keep-alive HTTP/1.1 GET on an open connection: (status, headers, body)."""
    writer.write(request)
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return int(head[0].split()[1]), headers, body


async def poll_latency(srv: Server, pollers: int, duration: float, seconds: int,
                       interval: float = 0.0) -> tuple[list[float], int]:
    """N pollers, each on its own keep-alive connection, like N SDK clients calling poll().

    A bare asyncio client, not httpx: it shares the 2 cores with the server and the worker, and
    httpx's per-request cost (a few ms of CPU at 400 requests/s) measured the client as much as
    the server. Each poller starts at a random moment within its first interval, as independent
    clients do, rather than all 200 at the same instant.
    """
    import random
    auth = {"authorization": f"Bearer {srv.admin_key}"}
    async with httpx.AsyncClient(base_url=srv.url, headers=auth) as c:
        ids = [(await c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": seconds,
                                                 "seed": i})).json()["id"] for i in range(4)]
    lat: list[float] = []
    statuses: list[int] = []
    rng = random.Random(0)
    stop = time.perf_counter() + duration

    async def poller(k: int):
        request = (f"GET /v1/videos/{ids[k % len(ids)]} HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                   f"authorization: Bearer {srv.admin_key}\r\nuser-agent: bench\r\n\r\n").encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        wait = interval or srv_poll_after
        await asyncio.sleep(rng.random() * wait)
        while time.perf_counter() < stop:
            t = time.perf_counter()
            status, headers, _ = await _get(reader, writer, request)
            lat.append(time.perf_counter() - t)
            statuses.append(status)
            # Like the SDK's poll(): wait as long as the server's openai-poll-after-ms says
            # (or --poll-interval, if given).
            await asyncio.sleep(interval if interval else int(headers["openai-poll-after-ms"]) / 1000)
        writer.close()

    srv_poll_after = int(httpx.get(f"{srv.url}/v1/videos/{ids[0]}", headers=auth).headers["openai-poll-after-ms"]) / 1000
    await asyncio.gather(*(poller(k) for k in range(pollers)))
    assert set(statuses) == {200}, f"non-200 answers while polling: {sorted(set(statuses))}"
    async with httpx.AsyncClient(base_url=srv.url, headers=auth) as c:
        running = sum([(await c.get(f"/v1/videos/{v}")).json()["status"] != "queued" for v in ids])
    return lat, running


async def create_throughput(srv: Server, n: int, clients: int = 16) -> float:
    async with httpx.AsyncClient(base_url=srv.url, headers={"authorization": f"Bearer {srv.admin_key}"}) as c:
        sem = asyncio.Semaphore(clients)

        async def one(i):
            async with sem:
                r = await c.post("/v1/videos", json={"prompt": PROMPT, "size": "64x64", "seconds": 1, "seed": i})
                assert r.status_code == 200

        t = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--pollers", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--poll-duration", type=float, default=10.0)
    ap.add_argument("--poll-interval", type=float, default=0.0,
                    help="seconds between one poller's requests (default: the server's openai-poll-after-ms)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads, in the direct call and the worker")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)

    direct = direct_times(args.jobs, args.seconds)
    with tempfile.TemporaryDirectory() as d:
        # The server's defaults, but for threads: poll-after 500 ms, as a user would run it.
        srv = Server(Path(d), env={"OMP_NUM_THREADS": str(args.threads), "OPENREEL_POLL_AFTER_MS": "500"}).start()
        try:
            api = asyncio.run(api_times(srv, args.jobs, args.seconds))
            lat, running = asyncio.run(poll_latency(srv, args.pollers, args.poll_duration, args.seconds,
                                                    args.poll_interval))
            tput = asyncio.run(create_throughput(srv, 200))
        finally:
            srv.stop()
    d_med, a_med = statistics.median(direct), statistics.median(api)
    print(f"request: 64x64, {args.seconds} s at 8 fps, default steps; {args.jobs} jobs each way")
    print(f"direct VideoPipeline call + MP4: median {d_med:.3f} s")
    print(f"through the API (create -> completed): median {a_med:.3f} s")
    print(f"overhead ratio (API / direct): {a_med / d_med:.3f}")
    every = f"every {args.poll_interval:g} s" if args.poll_interval else "at the server's poll-after interval"
    print(f"GET /v1/videos/{{id}} with {args.pollers} concurrent pollers ({every}) for {args.poll_duration:g} s while jobs ran "
          f"({len(lat)} requests, {running} of 4 jobs started): p50 {1000 * pct(lat, 50):.1f} ms, "
          f"p99 {1000 * pct(lat, 99):.1f} ms")
    print(f"create throughput (16 concurrent clients): {tput:.0f} jobs/s")


if __name__ == "__main__":
    main()
