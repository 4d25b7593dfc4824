"""Wall time of extend (+2 s after or before a 2 s clip) with the default draws, on this machine.

    .venv/bin/python scripts/bench_modes.py --cases 12
    .venv/bin/python scripts/bench_modes.py --cases 3 --source-seconds 60   # extending long videos

Sources are the model's own 2 s clips of the eval's extension cases (eval.modes.source_cases,
--seed; by default a development seed, not the reported set). extend draws 4 more where fewer
than two of its first 4 seams pass, so its time depends on the clip: the script prints the
median and the slowest, and how many extensions drew more, per direction, with one draw
(`draws=1`) for comparison. --source-seconds N > 2 makes each source a chained N s video
(`VideoPipeline.long`) instead. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

from openreel.eval.modes import seam_source, source_cases
from openreel.backends.builtin import VideoPipeline
from openreel.world.captions import canonical_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1212, help="draws the sources (a development seed)")
    parser.add_argument("--source-seconds", type=int, default=2, help="length of each source (> 2: chained)")
    args = parser.parse_args()
    pipe = VideoPipeline.from_pretrained()
    pipe("warm up", seed=0)
    for backward in (False, True):
        times, more, single = [], 0, []
        for shape, color, motion, bg, seed in source_cases(args.cases, args.seed):
            prompt = canonical_prompt(shape, color, motion, bg)
            if args.source_seconds > 2:
                source = pipe.long(prompt, seconds=args.source_seconds, seed=seed).frames
            else:
                source, seed = seam_source(pipe, prompt, seed, backward)
            t0 = time.perf_counter()
            video = pipe.extend(source, prompt, seconds=2, backward=backward, seed=seed + 1)
            times.append(time.perf_counter() - t0)
            more += video.params["drawn"] > video.params["draws"]
            t0 = time.perf_counter()
            pipe.extend(source, prompt, seconds=2, backward=backward, seed=seed + 1, draws=1)
            single.append(time.perf_counter() - t0)
        name = "backward" if backward else "forward"
        print(f"extend +2 s {name}: median {statistics.median(times):.2f} s, slowest {max(times):.2f} s, "
              f"{more} of {len(times)} drew 4 more; one draw: median {statistics.median(single):.2f} s")


if __name__ == "__main__":
    main()
