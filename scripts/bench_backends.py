"""What OpenReel costs on top of diffusers, family by family, on tiny random-weight folders. Prints figures only.

    .venv/bin/python scripts/bench_backends.py                       # every family, then the Wan cache hooks
    .venv/bin/python scripts/bench_backends.py --families wan,ltx --repeats 7 --steps 8
    .venv/bin/python scripts/bench_backends.py --caches ""           # overhead only

1. Overhead. For each diffusers family, the first variant of its tiny builder (tests/backends/
   tiny_<family>.py) is built into a temporary folder, then the same text -> video request runs
   (a) through OpenReel: `runner.run(FAMILIES[f].load(name, folder, {}), TextToVideo(...))`, and
   (b) through diffusers alone: `<Pipeline>.from_pretrained(folder)` called with the same arguments
   (seed generator, size, frames, steps, guidance, output_type="np").
   Both pipelines are loaded and warmed up first; then the two are timed alternately (ABBA order, so a
   drifting machine slows both alike) with torch's thread count fixed. Printed: the median seconds of
   each, the ratio OpenReel / bare (goal: <= 1.05) and the ratios of the fastest and slowest runs (the
   spread is the machine's noise), OpenReel's own work per call ("own ms": runner.run's time less the
   time inside the pipeline's __call__, measured in the same runs, so free of the between-run noise)
   and the ratio it implies, (bare + own) / bare, and the largest |difference| of the uint8 frames
   (expected 0: the same call).
2. Cache hooks (ModelOptions.cache, e.g. {"cache": "first_block"}) on one family's tiny folder: the
   same request with the hook on and off, both through OpenReel, timed alternately. Printed: time on /
   time off, the mean and max |uint8 difference| to the uncached frames, whether two cached runs agree,
   and how many times the transformer's first and last blocks really ran (their attention's to_q
   projection is counted: a skipped or predicted block does not call it). Errors are printed, not raised.

Random weights at test sizes: the ratios say how much OpenReel adds around a call, not how fast a
real model is. scripts/gpu_check.py measures mid-size models on a GPU.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "backends"))  # the tiny_<family> builders
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from openreel import runner  # noqa: E402
from openreel.backends import FAMILIES  # noqa: E402
from openreel.requests import SamplingOptions, TextToVideo, parse_size  # noqa: E402

PROMPT = "a red ball moving right on a blue background"
ALL = ("wan", "ltx", "cogvideox", "hunyuan", "skyreels")
# Bench sizes: larger than the tests' where the tiny folder allows it, so a call is long enough to time.
# CogVideoX's tiny t2v folder has sample_width/height 2 latents, so 16x16 is its one size; it gets more
# seconds instead (8 fps: 6 s = 49 frames).
SIZES = {"wan": "96x96", "ltx": "64x64", "cogvideox": "16x16", "hunyuan": "64x64", "skyreels": "96x96"}
SECONDS = {"cogvideox": 6}
CACHES = ("first_block", "taylorseer", "faster", "pab", "mag")


def bare_call(family: str, folder: Path, cls_name: str):
    """diffusers alone: the folder's pipeline and a function (size, frames, steps, seed) -> np frames."""
    import diffusers
    import torch
    pipe = getattr(diffusers, cls_name).from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    # Each family's documented defaults, written out here rather than read from OpenReel.
    guidance = {"wan": 5.0, "ltx": 3.0, "cogvideox": 6.0, "skyreels": 6.0}
    extra = {"ltx": dict(frame_rate=24), "cogvideox": dict(max_sequence_length=16),  # the tiny T5's length
             "skyreels": dict(fps=24, base_num_frames=97)}.get(family, {})

    def call(width: int, height: int, frames: int, steps: int, seed: int) -> np.ndarray:
        kw = dict(prompt=PROMPT, height=height, width=width, num_frames=frames, num_inference_steps=steps,
                  generator=torch.Generator(device="cpu").manual_seed(seed), output_type="np", **extra)
        if family in guidance:  # HunyuanVideo 1.5 takes guidance from its guider component (6.0)
            kw["guidance_scale"] = guidance[family]
        return pipe(**kw).frames
    return pipe, call


def uint8(frames) -> np.ndarray:
    arr = np.asarray(frames)
    arr = arr[0] if arr.ndim == 5 else arr
    return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def build(family: str, root: Path) -> tuple[Path, str]:
    tiny = importlib.import_module(f"tiny_{family}")
    variant = next(iter(tiny.VARIANTS))
    folder = tiny.build(root / f"{family}-{variant}", variant)
    return folder, variant


def request_for(family: str, caps, args) -> tuple[str, int, int]:
    """(size, seconds, frames) for the bench: the bench size where the folder allows it."""
    size = args.size or SIZES[family]
    if not caps.allows_size(size):
        tiny = importlib.import_module(f"tiny_{family}")
        print(f"  {family}: {size} is not allowed ({caps.size_rule()}); using {tiny.SIZE}")
        size = tiny.SIZE
    seconds = args.seconds or SECONDS.get(family) or importlib.import_module(f"tiny_{family}").SECONDS
    return size, seconds, caps.frames_for(seconds, caps.fps[0])


def overhead(family: str, root: Path, args) -> dict:
    folder, variant = build(family, root)
    backend = FAMILIES[family].load(f"tiny-{family}", folder, {})
    caps = backend.capabilities()
    size, seconds, frames = request_for(family, caps, args)
    width, height = parse_size(size)
    request = TextToVideo(PROMPT, SamplingOptions(size=size, seconds=seconds, fps=caps.fps[0], steps=args.steps,
                                                  seed=args.seed))
    cls_name = backend.modes_of(folder)["text"]
    _, bare = bare_call(family, folder, cls_name)

    # OpenReel's own work per call: runner.run's time less the time inside the pipeline's __call__
    # (a wrapper on the class, signature kept for OpenReel's argument filter), noise-free unlike the ratio.
    pipe_cls = type(backend.pipeline("text"))
    inner: list[float] = []
    original = pipe_cls.__call__

    @functools.wraps(original)
    def timed_call(self, *a, **kw):
        t0 = time.perf_counter()
        try:
            return original(self, *a, **kw)
        finally:
            inner.append(time.perf_counter() - t0)

    def ours():
        inner.clear()
        t0 = time.perf_counter()
        pipe_cls.__call__ = timed_call
        try:
            frames = runner.run(backend, request).frames
        finally:
            pipe_cls.__call__ = original
        own.append(time.perf_counter() - t0 - sum(inner))
        return frames

    def theirs():
        return bare(width, height, frames, args.steps, args.seed)

    own: list[float] = []
    for _ in range(args.warmup):  # loads OpenReel's pipeline on the first call; warms both
        ours(), theirs()
    own.clear()
    t_ours, t_bare, diff = [], [], 0
    for r in range(args.repeats):
        order = ((ours, t_ours), (theirs, t_bare)) if r % 2 == 0 else ((theirs, t_bare), (ours, t_ours))
        outs = {}
        for fn, times in order:
            dt, out = timed(fn)
            times.append(dt)
            outs[fn.__name__] = out
        diff = max(diff, int(np.abs(outs["ours"].astype(np.int16) - uint8(outs["theirs"]).astype(np.int16)).max()))
    a, b = statistics.median(t_ours), statistics.median(t_bare)
    return dict(family=family, variant=variant, pipeline=cls_name, size=size, frames=frames, ours=a, bare=b,
                ratio=a / b, own=statistics.median(own), spread=(min(t_ours) / min(t_bare), max(t_ours) / max(t_bare)),
                diff=diff)


class BlockCounter:
    """Counts real computations of the first and last transformer blocks (calls of their attention's to_q)."""

    def __init__(self, transformer):
        blocks = getattr(transformer, "blocks", None) or getattr(transformer, "transformer_blocks")
        self.counts = {"first": 0, "last": 0}
        self.handles = [blocks[0].attn1.to_q.register_forward_pre_hook(lambda *a: self._hit("first")),
                        blocks[-1].attn1.to_q.register_forward_pre_hook(lambda *a: self._hit("last"))]

    def _hit(self, key):
        self.counts[key] += 1

    def take(self) -> dict:
        out, self.counts = dict(self.counts), {"first": 0, "last": 0}
        return out

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def caches(family: str, root: Path, names: list[str], args) -> list[dict]:
    folder = root / f"{family}-cache"
    tiny = importlib.import_module(f"tiny_{family}")
    variant = next(iter(tiny.VARIANTS))
    tiny.build(folder, variant)
    plain = FAMILIES[family].load(f"tiny-{family}", folder, {})
    caps = plain.capabilities()
    size, seconds, frames = request_for(family, caps, args)
    request = TextToVideo(PROMPT, SamplingOptions(size=size, seconds=seconds, fps=caps.fps[0],
                                                  steps=args.cache_steps, seed=args.seed))
    runner.run(plain, request)  # loads
    plain_counter = BlockCounter(plain.pipeline("text").transformer)
    base = runner.run(plain, request).frames
    base_counts = plain_counter.take()
    plain_counter.close()
    print(f"\n{family} cache hooks: {size}, {frames} frames, {args.cache_steps} steps, guidance {caps.guidance} "
          f"(cond + uncond passes); without a cache the first/last block ran {base_counts['first']}/"
          f"{base_counts['last']} times")
    rows = []
    for name in names:
        row = dict(cache=name)
        try:
            cached = FAMILIES[family].load(f"tiny-{family}-{name}", folder, {"cache": name})
            first = runner.run(cached, request).frames  # loads and applies the hook
            transformer = cached.pipeline("text").transformer
            row["hooked"] = sum(bool(getattr(getattr(m, "_diffusers_hook", None), "_hook_order", None))
                                for m in transformer.modules())
            counter = BlockCounter(transformer)
            second = runner.run(cached, request).frames
            row["counts"] = counter.take()
            counter.close()
            t_on, t_off = [], []
            for r in range(args.repeats):
                pair = [(lambda: runner.run(cached, request), t_on), (lambda: runner.run(plain, request), t_off)]
                for fn, times in (pair if r % 2 == 0 else pair[::-1]):
                    times.append(timed(fn)[0])
            d = np.abs(second.astype(np.int16) - base.astype(np.int16))
            row.update(on=statistics.median(t_on), off=statistics.median(t_off), mean=float(d.mean()),
                       max=int(d.max()), repeatable=bool(np.array_equal(first, second)))
            row["ratio"] = row["on"] / row["off"]
        except Exception as exc:  # noqa: BLE001 - the figure is the error
            row["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
            if args.verbose:
                traceback.print_exc()
        rows.append(row)
        print(cache_line(row), flush=True)
    return rows


def cache_line(row: dict) -> str:
    if "error" in row:
        return f"  {row['cache']:<12} ERROR {row['error']}"
    c = row["counts"]
    return (f"  {row['cache']:<12} on {row['on']:.3f} s / off {row['off']:.3f} s = {row['ratio']:.3f}; "
            f"|diff| mean {row['mean']:.2f} max {row['max']}; {row['hooked']} modules hooked; first/last block ran "
            f"{c['first']}/{c['last']}; "
            f"two cached runs {'identical' if row['repeatable'] else 'DIFFER'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default=",".join(ALL), help="comma-separated, of " + ", ".join(ALL))
    parser.add_argument("--repeats", type=int, default=7, help="timed pairs per family (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8, help="denoising steps of the overhead runs")
    parser.add_argument("--size", default="",
                        help="WxH for every family (default: wan, skyreels 96x96; ltx, hunyuan 64x64; cogvideox 16x16)")
    parser.add_argument("--seconds", type=int, default=0, help="default: the tiny folder's (cogvideox 6)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (fixed for every run)")
    parser.add_argument("--caches", default="first_block,taylorseer,faster,pab,mag",
                        help="cache options to try ('' = none), of " + ", ".join(CACHES))
    parser.add_argument("--cache-family", default="wan")
    parser.add_argument("--cache-steps", type=int, default=12)
    parser.add_argument("--verbose", action="store_true", help="tracebacks of cache errors")
    args = parser.parse_args()
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families + [args.cache_family] if f not in ALL]
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {', '.join(ALL)}")

    import diffusers
    import torch
    import transformers
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, {torch.get_num_threads()} thread(s), "
          f"{os.cpu_count()} CPUs; {args.repeats} timed pairs after {args.warmup} warm-up, {args.steps} steps, "
          f"seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="openreel-bench-") as tmp:
        root = Path(tmp)
        print(f"\n{'family':<10} {'pipeline':<35} {'size':>6} {'frames':>6} {'OpenReel s':>10} {'bare s':>7} "
              f"{'ratio':>6} {'min/min':>7} {'max/max':>7} {'own ms':>6} {'bare+own':>8} {'max|diff|':>9}")
        for family in families:
            try:
                r = overhead(family, root, args)
            except Exception as exc:  # noqa: BLE001
                print(f"{family:<10} ERROR {type(exc).__name__}: {exc}")
                if args.verbose:
                    traceback.print_exc()
                continue
            print(f"{family:<10} {r['pipeline']:<35} {r['size']:>6} {r['frames']:>6} {r['ours']:>10.3f} "
                  f"{r['bare']:>7.3f} {r['ratio']:>6.3f} {r['spread'][0]:>7.3f} {r['spread'][1]:>7.3f} "
                  f"{r['own'] * 1e3:>6.1f} {(r['bare'] + r['own']) / r['bare']:>8.3f} {r['diff']:>9}", flush=True)
        names = [c.strip() for c in args.caches.split(",") if c.strip()]
        if names:
            caches(args.cache_family, root, names, args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
