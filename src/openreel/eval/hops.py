"""Benchmark: how smoothly plain text -> video clips move across latent-frame boundaries.

The extend, loop and blend seams all sit on latent-frame boundaries, where the
transformer's own clips jump most. This prints, for plain 4 s clips of moving training
combinations (development cases, not the reported ones), the share of frame steps that pass
the seams' 2x-median test (eval.modes.judge_steps) across a boundary (frame 4k -> 4k + 1) and
inside a latent group, and how many clips the probe reads as their prompt.

    python -m openreel.eval.hops [--weights FOLDER] [--clips 72] [--seed 4242]
"""

from __future__ import annotations

import argparse

import numpy as np

from ..world.captions import canonical_prompt
from .modes import STEP_FLOOR_PX, frame_steps, judge_steps, source_cases
from .probe import probe

def step_passes(frames: np.ndarray, time_factor: int = 4) -> tuple[list[bool], list[bool]]:
    """(boundary steps, steps inside a group): does each step pass the 2x-median seam test
    against the clip's other steps? time_factor: frames per latent group (the autoencoder's),
    so step k * time_factor (frame 4k -> 4k + 1 at 4) crosses a boundary."""
    move, _ = frame_steps(frames)
    boundary, inside = [], []
    for i in range(len(move)):
        ok = judge_steps(move, [i], 2.0, STEP_FLOOR_PX)["ok"]
        (boundary if i % time_factor == 0 else inside).append(ok)
    return boundary, inside


def measure(pipe, clips: int = 72, seed: int = 4242, seconds: int = 4) -> dict:
    cases = [c for c in source_cases(4 * clips, seed) if c[2] != "static"][:clips]
    boundary, inside, right = [], [], []
    for shape, color, motion, bg, s in cases:
        frames = pipe(canonical_prompt(shape, color, motion, bg), seconds=seconds, seed=s).frames
        b, i = step_passes(frames, pipe.autoencoder.cfg.time_factor)
        boundary += b
        inside += i
        r = probe(frames)
        right.append(r.shape == shape and r.color == color and r.motion == motion)
    return {"clips": len(cases), "boundary_pass": float(np.mean(boundary)), "inside_pass": float(np.mean(inside)),
            "read_right": float(np.mean(right))}


def main(argv: list[str] | None = None) -> None:
    from ..backends.builtin import VideoPipeline
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="a weights folder (default: the shipped model)")
    parser.add_argument("--clips", type=int, default=72)
    parser.add_argument("--seed", type=int, default=4242, help="draws the cases (development seed)")
    args = parser.parse_args(argv)
    r = measure(VideoPipeline.from_pretrained(args.weights), args.clips, args.seed)
    print(f"{r['clips']} clips: boundary steps pass {r['boundary_pass']:.1%}, inside a group "
          f"{r['inside_pass']:.1%}; shape, colour and motion read right {r['read_right']:.0%}")


if __name__ == "__main__":
    main()
