"""Decompression-bomb uploads against the API: the API process's peak memory per case.

    .venv/bin/python scripts/bench_bombs.py            # every case, 4 requests at once each
    .venv/bin/python scripts/bench_bombs.py --concurrency 1 --cases small

Each case (a clip sent N times at once to one endpoint) runs in a fresh subprocess that
builds the app in-process (httpx over ASGI, one event loop, like `openreel serve`),
warms every code path with a small valid clip, resets the kernel's high-water mark
(/proc/self/clear_refs), sends the bombs, and reports VmHWM minus the RSS at the reset:
how much the requests raised the process's peak memory. One case's memory never masks
another's.

The clips are what the issue describes: solid-colour 1920x1080 H.264 at CRF 51, tens of
kB for 300 frames, under 1 MB for 120 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

KEY = "ork_" + "b" * 43
PROMPT = "a red circle moving right on a navy background"
ENDPOINTS = ("extensions", "edits", "verify")
CLIPS = {  # name: (frames, fps, width, height)
    "small": (300, 30, 1920, 1080),  # the 31 kB clip: 2.8-3.0 GB per request before
    "long": (3600, 30, 1920, 1080),  # 120 s, under 1 MB: ~34 GB per request before
    "tiny": (16, 8, 64, 64),  # the warm-up: a normal upload
}


def make_clip(path: Path, frames: int, fps: int, width: int, height: int, crf: int = 51) -> Path:
    """A solid-colour H.264 MP4, which compresses to almost nothing (tens of bytes a frame)."""
    import av
    import numpy as np
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), mode="w", format="mp4") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "keyint=100000"}
        rgb = np.empty((height, width, 3), np.uint8)
        rgb[:] = (30, 40, 120)
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        for i in range(frames):
            vf.pts = i
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    tmp.replace(path)
    return path


def clip(name: str, folder: Path | None = None) -> Path:
    """The named clip, made once and cached (in the system temp folder by default)."""
    folder = Path(folder or Path(tempfile.gettempdir()) / "openreel-bombs")
    folder.mkdir(parents=True, exist_ok=True)
    frames, fps, w, h = CLIPS[name]
    path = folder / f"{name}-{w}x{h}-{frames}f-{fps}fps.mp4"
    return path if path.exists() else make_clip(path, frames, fps, w, h)


def _status(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(name)


def _one(endpoint: str, path: Path, concurrency: int, warm: Path) -> dict:
    """Runs in the measured subprocess: the app in-process, N requests at once."""
    import asyncio
    import httpx
    from openreel.api.app import create_app
    from openreel.service.settings import Settings

    data = Path(tempfile.mkdtemp(prefix="bombs-"))
    app = create_app(Settings(data_dir=data, bootstrap_admin_key=KEY, moderation=False))

    def request(c: httpx.AsyncClient, body: bytes):
        if endpoint == "verify":
            return c.post("/v1/verify", files={"file": ("v.mp4", body, "video/mp4")})
        fields = {"prompt": PROMPT, **({"seconds": "4"} if endpoint == "extensions" else {})}
        return c.post(f"/v1/videos/{endpoint}", data=fields, files={"video": ("v.mp4", body, "video/mp4")})

    async def go() -> dict:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                     headers={"authorization": f"Bearer {KEY}"}, timeout=None) as c:
            for _ in range(2):  # every import and cache on the path loaded before the baseline
                r = await request(c, warm.read_bytes())
                assert r.status_code == 200, r.text
            body = path.read_bytes()
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
            base, t0 = _status("VmRSS"), time.perf_counter()
            rs = await asyncio.gather(*(request(c, body) for _ in range(concurrency)))
            took = time.perf_counter() - t0
            peak = _status("VmHWM")
        out = []
        for r in rs:
            j = r.json()
            if r.status_code >= 400:
                out.append({"status": r.status_code, "code": j["error"]["code"], "message": j["error"]["message"]})
            elif endpoint == "verify":
                out.append({"status": r.status_code, "watermark": j["watermark"]["found"]})
            else:
                out.append({"status": r.status_code, "job": j["status"], "seconds": j["seconds"], "size": j["size"]})
        return {"endpoint": endpoint, "clip": path.name, "bytes": len(body), "concurrency": concurrency,
                "base_mb": base / 2**20, "peak_increase_mb": (peak - base) / 2**20, "seconds": took, "responses": out}

    return asyncio.run(go())


def measure(endpoint: str, name: str, concurrency: int = 4, folder: Path | None = None,
            max_memory_gb: float | None = None) -> dict:
    """One case in a fresh subprocess; returns its report (see _one)."""
    path, warm = clip(name, folder), clip("tiny", folder)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--one", endpoint, str(path), str(concurrency), str(warm)]
    if max_memory_gb:  # so that measuring the old code cannot take the machine down
        cmd += ["--max-memory-gb", str(max_memory_gb)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode:
        return {"endpoint": endpoint, "clip": path.name, "error": (p.stderr or p.stdout)[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--max-memory-gb", type=float, default=None, help="address-space cap of the measured process")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--cases", nargs="*", default=["small", "long"], choices=["small", "long"])
    ap.add_argument("--endpoints", nargs="*", default=list(ENDPOINTS), choices=ENDPOINTS)
    a = ap.parse_args()
    if a.one:
        if a.max_memory_gb:
            import resource
            cap = int(a.max_memory_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        endpoint, path, n, warm = a.one
        print(json.dumps(_one(endpoint, Path(path), int(n), Path(warm))))
        return
    for name in a.cases:
        for endpoint in a.endpoints:
            r = measure(endpoint, name, a.concurrency, max_memory_gb=a.max_memory_gb)
            if "error" in r:
                print(f"{name:6} {endpoint:11} ERROR {r['error'][-300:]}")
                continue
            kinds = sorted({f"{x['status']} {x.get('code') or x.get('job') or x.get('watermark')}" for x in r["responses"]})
            print(f"{name:6} {endpoint:11} {r['bytes'] / 1024:7.1f} kB x{r['concurrency']}: peak RSS "
                  f"+{r['peak_increase_mb']:7.1f} MB  {r['seconds']:6.1f} s  {', '.join(kinds)}", flush=True)


if __name__ == "__main__":
    main()
