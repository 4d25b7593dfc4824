"""Benchmark the Videos API server. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_api.py [--jobs 10] [--pollers 200] [--seconds 4] [--size 64x64]

1. Overhead: end-to-end job time through the API divided by a direct
   VideoPipeline call for the same request (generation + MP4 encoding), both
   with the model loaded, run alternately. Completion is timed two ways: when
   the job's video.completed webhook arrives (push: no polling interval in the
   figure), and when a client polling every 20 ms first sees `completed`.
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
from serving import Receiver, Server  # noqa: E402

PROMPT = "a red circle moving right on a navy background"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Direct:
    """The same request as a plain VideoPipeline call in this process: generation + MP4."""

    def __init__(self, size: str, seconds: int):
        from openreel.backends.builtin import VideoPipeline
        from openreel.service.settings import Settings
        from openreel.service.videos import VideoService
        self.pipe = VideoPipeline.from_pretrained()
        self.seconds, self.size = seconds, size
        # The API's own mapping of a Sora size to the native size it generates at, then scales up.
        with tempfile.TemporaryDirectory() as d:
            self.native = VideoService(Settings(data_dir=Path(d))).native_size_for(size)
        w, h = (int(x) for x in size.split("x"))
        self.scale_to = None if size == self.native else (w, h)
        self.folder = tempfile.TemporaryDirectory()
        self(10_000)  # warm-up

    def __call__(self, seed: int) -> float:
        t = time.perf_counter()
        video = self.pipe(PROMPT, seconds=self.seconds, size=self.native, seed=seed)
        video.save(Path(self.folder.name) / "v.mp4", scale_to=self.scale_to)
        return time.perf_counter() - t


def arrival(hooks: Receiver, video_id: str) -> float | None:
    """When the video.completed webhook of video_id arrived, if it has."""
    for (_, body), at in zip(list(hooks.got), list(hooks.arrived)):
        if json.loads(body)["data"]["id"] == video_id:
            return at
    return None


async def api_time(srv: Server, hooks: Receiver, size: str, seconds: int, seed: int, every: float = 0.0) -> float:
    """One job through the API, create -> completed: with every=0, until its video.completed webhook
    arrives (nothing polls meanwhile); else until a poll every `every` s sees it (a bare client on
    one keep-alive connection; the polls still take CPU from the generation on a small machine)."""
    auth = {"authorization": f"Bearer {srv.admin_key}"}
    # The client and its connection exist before the clock starts, as an SDK client's would
    # (making an httpx client costs about 20 ms, which is the client's time, not the job's).
    async with httpx.AsyncClient(base_url=srv.url, headers=auth) as c:
        await c.get("/v1/models")
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        t = time.perf_counter()
        vid = (await c.post("/v1/videos", json={"prompt": PROMPT, "size": size, "seconds": seconds,
                                                "seed": seed})).json()["id"]
    if not every:  # push: nothing polls while the job runs (a blocked thread waits for the webhook)
        await asyncio.to_thread(hooks.wait, lambda: arrival(hooks, vid) is not None, 60)
        writer.close()
        return (arrival(hooks, vid) or float("nan")) - t
    request = (f"GET /v1/videos/{vid} HTTP/1.1\r\nhost: 127.0.0.1\r\n"
               f"authorization: Bearer {srv.admin_key}\r\n\r\n").encode()
    while json.loads((await _get(reader, writer, request))[2])["status"] not in ("completed", "failed"):
        await asyncio.sleep(every)
    writer.close()
    return time.perf_counter() - t


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
    ap.add_argument("--size", default="64x64", help="the request's size: native (64x64) or a Sora size (720x1280)")
    ap.add_argument("--poll-duration", type=float, default=10.0)
    ap.add_argument("--poll-interval", type=float, default=0.0,
                    help="seconds between one poller's requests (default: the server's openai-poll-after-ms)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads, in the direct call and the worker")
    ap.add_argument("--job-poll", type=float, default=0.02, help="seconds between polls when timing a job by polling")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)

    direct_call = Direct(args.size, args.seconds)
    hooks = Receiver(fail_first=0)
    direct, polled, pushed = [], [], []
    with tempfile.TemporaryDirectory() as d:
        # The server's defaults, but for threads and a webhook to time completion by:
        # poll-after 500 ms, as a user would run it.
        from openreel.service.webhooks import new_secret
        srv = Server(Path(d), env={"OMP_NUM_THREADS": str(args.threads), "OPENREEL_POLL_AFTER_MS": "500",
                                   "OPENREEL_WEBHOOK_URLS": json.dumps([hooks.url]),
                                   "OPENREEL_WEBHOOK_SECRET": new_secret()}).start()
        try:
            asyncio.run(api_time(srv, hooks, args.size, args.seconds, 10_000))  # warm-up
            # Interleaved, so both ways see the same machine (a VM's speed drifts from minute to minute).
            for i in range(args.jobs):
                direct.append(direct_call(i))
                pushed.append(asyncio.run(api_time(srv, hooks, args.size, args.seconds, i)))
                polled.append(asyncio.run(api_time(srv, hooks, args.size, args.seconds, i, args.job_poll)))
            lat, running = asyncio.run(poll_latency(srv, args.pollers, args.poll_duration, args.seconds,
                                                    args.poll_interval))
            tput = asyncio.run(create_throughput(srv, 200))
        finally:
            srv.stop()
        # The worker's own account of each timed job: generation, then its files (watermark, MP4s,
        # stills, C2PA), as logged (skipping the warm-up and the jobs queued by the later parts).
        import re
        spans = [(float(g), float(f)) for g, f in re.findall(r"generation ([\d.]+) s, files ([\d.]+) s",
                                                             srv.log.read_text())][1:1 + 2 * args.jobs:2]
    d_med, p_med, w_med = statistics.median(direct), statistics.median(polled), statistics.median(pushed)
    print(f"request: {args.size}, {args.seconds} s at 8 fps, default steps; {args.jobs} jobs each way, "
          f"interleaved; {args.threads} torch threads")
    print(f"direct VideoPipeline call + MP4: median {d_med:.3f} s")
    print(f"through the API, create -> video.completed webhook received: median {w_med:.3f} s "
          f"(ratio {w_med / d_med:.3f})")
    print(f"through the API, create -> completed seen polling every {1000 * args.job_poll:g} ms: median {p_med:.3f} s "
          f"(ratio {p_med / d_med:.3f})")
    if spans:
        print(f"  in the worker (pushed jobs): generation median {statistics.median(g for g, _ in spans):.3f} s, "
              f"files median {statistics.median(f for _, f in spans):.3f} s")
    every = f"every {args.poll_interval:g} s" if args.poll_interval else "at the server's poll-after interval"
    print(f"GET /v1/videos/{{id}} with {args.pollers} concurrent pollers ({every}) for {args.poll_duration:g} s while jobs ran "
          f"({len(lat)} requests, {running} of 4 jobs started): p50 {1000 * pct(lat, 50):.1f} ms, "
          f"p99 {1000 * pct(lat, 99):.1f} ms")
    print(f"create throughput (16 concurrent clients): {tput:.0f} jobs/s")


if __name__ == "__main__":
    main()
