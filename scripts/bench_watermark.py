"""Measure the invisible watermark on videos from the shipped model.

    python scripts/bench_watermark.py --videos 60 --report watermark.json

For each video: generate (prompts, seeds and the three native sizes in turn,
3 or 4 seconds), embed a random 48-bit payload, ship it as the service does
(H.264 CRF 18; every fifth video scaled up to a Sora size on the way out),
then attack the shipped MP4 through real encodes and decodes with PyAV:

  shipped  the MP4 as written, decoded
  crf28    re-encoded at CRF 28
  half     scaled to half size (CRF 18), then back to full size
  trim     first and last second cut (CRF 18)
  trim+crf28  both (not a target: how much margin is left)

and count bit accuracy (of the 48 payload bits), exact payload recovery and
the PSNR the watermark costs (on the native frames, before any encode). The
unmarked videos go through `shipped` and `crf28` too, and each is also read
with --fp-keys wrong keys: any payload found there is a false positive (the
CRC-16 alone predicts one in 65,536 decodes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from openreel.media.video import read_video, write_mp4
from openreel.media.watermark import DEFAULT_KEY, PAYLOAD_BITS, detect, embed, psnr
from openreel.backends.builtin import VideoPipeline

PROMPTS = [
    "a red ball moving left on a black background",
    "a sunset over the ocean",
    "a city street at night with car lights",
    "a green forest with a river",
    "a cat walking on grass",
    "snow falling on mountains",
    "a blue square bouncing on a white background",
    "waves crashing on a rocky shore",
    "a yellow car driving down a road",
    "clouds drifting over a field of flowers",
]
SIZES = ["64x64", "112x64", "64x112"]
SCALED = {"112x64": (1280, 720), "64x112": (720, 1280), "64x64": (720, 720)}  # Sora-like sizes for shipping
ATTACKS = ("shipped", "crf28", "half", "trim", "trim+crf28")


def encode_decode(frames: np.ndarray, fps: int, folder: Path, crf: int = 18,
                  size: tuple[int, int] | None = None) -> np.ndarray:
    path = write_mp4(folder / "step.mp4", frames, fps, crf=crf, scale_to=size)
    return read_video(path)[0]


def attacked(shipped: np.ndarray, fps: int, folder: Path):
    """Yield (attack name, decoded frames) for every transformation of a shipped video."""
    h, w = shipped.shape[1:3]
    yield "shipped", shipped
    yield "crf28", encode_decode(shipped, fps, folder, crf=28)
    half = encode_decode(shipped, fps, folder, size=(w // 4 * 2, h // 4 * 2))  # even sides for yuv420p
    yield "half", encode_decode(half, fps, folder, size=(w, h))
    trimmed = encode_decode(shipped[fps:-fps], fps, folder)
    yield "trim", trimmed
    yield "trim+crf28", encode_decode(trimmed, fps, folder, crf=28)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=60, help="how many videos to generate (>= 50 for the targets)")
    ap.add_argument("--scale-every", type=int, default=5, help="ship every Nth video at a Sora-like size (0: never)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the payloads and the generation seeds")
    ap.add_argument("--fp-keys", type=int, default=20, help="wrong keys each unmarked video is also read with")
    ap.add_argument("--report", type=Path, help="write a JSON report here")
    args = ap.parse_args(argv)

    pipe = VideoPipeline.from_pretrained()
    rng = np.random.default_rng(args.seed)
    rows, unmarked_hits, unmarked_checks = [], 0, 0
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(args.videos):
            prompt, size, seconds = PROMPTS[i % len(PROMPTS)], SIZES[i % len(SIZES)], 3 + i % 2
            video = pipe(prompt, seconds=seconds, size=size, seed=args.seed * 10_000 + i)
            fps = video.fps
            payload = int(rng.integers(0, 1 << PAYLOAD_BITS))
            marked = embed(video.frames, payload, DEFAULT_KEY)
            ship = SCALED[size] if args.scale_every and i % args.scale_every == args.scale_every - 1 else None
            row = {"video": i, "prompt": prompt, "size": size, "seconds": seconds,
                   "shipped_as": f"{ship[0]}x{ship[1]}" if ship else size,
                   "payload": f"{payload:012x}", "psnr_db": round(psnr(video.frames, marked), 2), "attacks": {}}
            shipped = encode_decode(marked, fps, folder, size=ship)
            for name, frames in attacked(shipped, fps, folder):
                found = detect(frames, DEFAULT_KEY)
                truth = [(payload >> (PAYLOAD_BITS - 1 - k)) & 1 for k in range(PAYLOAD_BITS)]
                row["attacks"][name] = {
                    "bit_accuracy": float(np.mean(np.array(found.bits) == np.array(truth))),
                    "recovered": found.payload == payload,
                    "confidence": round(found.confidence, 3), "frames": found.frames}
            # The same video unmarked: nothing may be found in it.
            plain = encode_decode(video.frames, fps, folder, size=ship)
            keys = [DEFAULT_KEY] + [rng.bytes(16) for _ in range(args.fp_keys)]
            for frames, keys in ((plain, keys), (encode_decode(plain, fps, folder, crf=28), [DEFAULT_KEY])):
                for key in keys:
                    unmarked_checks += 1
                    unmarked_hits += detect(frames, key).payload is not None
            rows.append(row)
            worst = min(a["bit_accuracy"] for a in row["attacks"].values())
            print(f"[{i + 1}/{args.videos}] {row['shipped_as']:>9} {seconds}s psnr {row['psnr_db']:.1f} dB, "
                  f"worst bit accuracy {worst:.3f}, {time.time() - started:.0f}s", file=sys.stderr)

    summary = {}
    for name in ATTACKS:
        acc = [r["attacks"][name]["bit_accuracy"] for r in rows]
        rec = [r["attacks"][name]["recovered"] for r in rows]
        conf = [r["attacks"][name]["confidence"] for r in rows]
        summary[name] = {"bit_accuracy": float(np.mean(acc)), "min_bit_accuracy": float(np.min(acc)),
                         "payload_recovery": float(np.mean(rec)), "min_confidence": float(np.min(conf)),
                         "videos": len(rows)}
    psnrs = [r["psnr_db"] for r in rows]
    summary["psnr_db"] = {"mean": float(np.mean(psnrs)), "min": float(np.min(psnrs))}
    summary["false_positive_rate"] = unmarked_hits / max(unmarked_checks, 1)
    summary["unmarked_checks"] = unmarked_checks

    print(f"{len(rows)} videos ({sum(r['shipped_as'] != r['size'] for r in rows)} shipped scaled up), "
          f"{time.time() - started:.0f}s")
    print(f"{'transformation':<16}{'bit accuracy':>14}{'(min)':>8}{'payload recovery':>18}{'min confidence':>16}")
    for name in ATTACKS:
        s = summary[name]
        print(f"{name:<16}{s['bit_accuracy']:>14.4f}{s['min_bit_accuracy']:>8.3f}{s['payload_recovery']:>18.3f}{s['min_confidence']:>16.3f}")
    print(f"PSNR cost: mean {summary['psnr_db']['mean']:.2f} dB, min {summary['psnr_db']['min']:.2f} dB")
    print(f"false positives on unmarked videos: {unmarked_hits}/{unmarked_checks} decodes "
          f"({summary['false_positive_rate']:.4f}; the default key and {args.fp_keys} wrong keys each)")
    if args.report:
        args.report.write_text(json.dumps({"summary": summary, "videos": rows}, indent=2) + "\n")
        print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
