"""Measure the generation modes with the probe, on the shipped weights.

    python -m openreel.eval.modes --report modes_report.json            # every mode, 50+ cases each
    python -m openreel.eval.modes --cases 6 --only image,loop           # a quick look
    python -m openreel.eval.modes --only loop --seed 777                # other cases, to develop on

Every output goes through an MP4 round trip (write_mp4, read_video) before it
is measured, as a user would get it. Cases are fixed by seeds, so a rerun
measures the same prompts and noise. Per mode:

  image     the first frame of a world scene + its caption -> 2 s. PSNR of frame 0
            against the image, and whether the probe reads the prompt's motion.
  extend    a generated 2 s clip + 2 s more, forward and backward, continuing the
            same action where it still fits (else another that fits, chosen from the
            object's end state; a source whose object is gone at the seam end is
            drawn again with the next seed). The seam step (centroid and colour)
            against the median of the clip's other steps, in the file as saved,
            and the probe's reading of the new 2 s.
  loop      2 s loops: the last-to-first step against the median step.
  remix     a generated clip remixed with its prompt in another colour: is the
            colour the asked one, and are shape and motion the source's reading?
  blend     transitions between two clips of one object: PSNR at both ends and the
            largest step against the median step.
  storyboard  60 s storyboards of 15 cards of 4 s: each segment read against its card;
            flicker of the last 10 s against the first 10 s.
  long      60 s videos: flicker of the last 10 s against the first 10 s; wall time.
  memory    peak RSS of a 10 s and a 60 s long video, each in a fresh process.

Steps are measured in pixels (centroid) and RGB levels (colour). A step
counts as a jump only if it is more than `factor` x the median step *and*
more than a floor: half a pixel of centroid travel, 3 levels of colour. Below
those a change can't be seen, and without them a still object (median step
~0.05 px) would fail on codec noise. The report gives both verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..world.objects import track
from ..media.video import as_saved, read_video
from ..world.captions import canonical_prompt
from ..world.contract import BACKGROUNDS, COLORS, MOTIONS, SHAPES, training_combos
from ..world.scene import render, sample_scene
from .probe import flicker, probe

CASES = 50
STEP_FLOOR_PX = 0.5  # centroid steps below this can't be seen
COLOR_FLOOR = 3.0  # colour changes (RGB Euclidean, 0-255) below this can't be seen
SEED = 30_003


# ----------------------------------------------------------------------------
# Measurements on frames

def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def frame_steps(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centroid steps (T-1,) px, colour steps (T-1,) levels); step i is frame i -> i+1."""
    cent, col = track(frames)
    return np.linalg.norm(np.diff(cent, axis=0), axis=1), np.linalg.norm(np.diff(col, axis=0), axis=1)


def judge_steps(steps: np.ndarray, at: list[int], factor: float, floor: float) -> dict:
    """Are steps[at] within factor x the median of the other steps? (raw, and with the floor)."""
    others = np.delete(steps, at)
    median = float(np.nanmedian(others)) if np.isfinite(others).any() else float("nan")
    worst = float(np.max(steps[at])) if len(at) else 0.0  # NaN (object lost) propagates: a failure
    return {"step": worst, "median": median,
            "ok_raw": bool(worst <= factor * median),
            "ok": bool(worst <= max(factor * median, floor))}


def seam(frames: np.ndarray, at: list[int], factor: float = 2.0) -> dict:
    """Judge the centroid and colour steps at `at` (step i is frame i -> i+1) against the others."""
    move, color = frame_steps(frames)
    c, k = judge_steps(move, at, factor, STEP_FLOOR_PX), judge_steps(color, at, factor, COLOR_FLOOR)
    return {"centroid": c, "color": k, "ok": c["ok"] and k["ok"], "ok_raw": c["ok_raw"] and k["ok_raw"]}


def rate(rows: list[dict], key: str) -> float:
    return float(np.mean([bool(r[key]) for r in rows])) if rows else float("nan")


# ----------------------------------------------------------------------------
# Cases

def source_cases(n: int, seed: int) -> list[tuple[str, str, str, str, int]]:
    """n (shape, colour, motion, background, seed) drawn from the training combinations."""
    rng = np.random.default_rng(seed)
    combos = training_combos()
    out = []
    for i in range(n):
        s, c, m = combos[rng.integers(len(combos))]
        out.append((s, c, m, list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))], int(rng.integers(2**31 - 1))))
    return out


def feasible_motions(cx: float, cy: float, area: float, ending: bool = False) -> list[str]:
    """Motions that fit an object at (cx, cy) (fractions) with `area` (fraction of the frame):
    starting from there, or with ending=True, arriving there."""
    side = np.sqrt(max(area, 1e-6))
    room = {"right": 1 - cx - side / 2, "left": cx - side / 2, "down": 1 - cy - side / 2, "up": cy - side / 2}
    if ending:  # arriving from the opposite side
        room = {"right": room["left"], "left": room["right"], "down": room["up"], "up": room["down"]}
    out = [m for m in ("left", "right", "up", "down") if room[m] >= 0.3] + ["static"]
    grow, shrink = ("shrinking", "growing") if ending else ("growing", "shrinking")
    if area <= 0.07:
        out.append(grow)
    if area >= 0.025:
        out.append(shrink)
    return out


def end_state(frames: np.ndarray, last: bool = True) -> tuple[float, float, float] | None:
    """(cx, cy, area) of the object in the last (or first) two frames, fractions; None if unseen."""
    r = probe(frames[-2:] if last else frames[:2])
    if r.found == 0:
        return None
    cent = np.nanmean(np.array(r.centroids), axis=0)
    return float(cent[0]), float(cent[1]), float(np.mean(r.areas))


# ----------------------------------------------------------------------------
# Modes

def measure_image(pipe, n: int, base: int = SEED) -> dict:
    rng = np.random.default_rng(base + 1)
    rows = []
    for i in range(n):
        scene = sample_scene(rng)
        image = render(scene, 64, 64, 16)[0]
        prompt = canonical_prompt(scene.shape, scene.color, scene.motion, scene.background)
        video = pipe(prompt, image=image, seed=i)
        frames = as_saved(video.frames, 8)
        own = pipe.decode(pipe.encode_frame(image))[0]  # frame 0 before the MP4 round trip
        r = probe(frames)
        s = seam(frames, [0])  # not in the acceptance, but an image -> video must not jump after frame 0
        rows.append({"prompt": prompt, "psnr": psnr(frames[0], image), "motion": r.motion,
                     "psnr_ok": psnr(frames[0], image) >= 25, "motion_ok": r.motion == scene.motion,
                     "all_ok": r.attributes == (scene.shape, scene.color, scene.background, scene.motion),
                     "first_step": s, "first_step_ok": s["ok"], "psnr_decoded": psnr(own, image)})
    return {"n": n, "psnr_ok": rate(rows, "psnr_ok"), "psnr_median": float(np.median([r["psnr"] for r in rows])),
            "psnr_min": float(np.min([r["psnr"] for r in rows])), "motion_ok": rate(rows, "motion_ok"),
            "all_attributes_ok": rate(rows, "all_ok"), "first_step_ok": rate(rows, "first_step_ok"),
            "psnr_decoded_median": float(np.median([r["psnr_decoded"] for r in rows])),
            "psnr_decoded_ok": float(np.mean([r["psnr_decoded"] >= 25 for r in rows])), "cases": rows}


SOURCE_TRIES = 4


def seam_source(pipe, prompt: str, seed: int, backward: bool) -> tuple[np.ndarray, int]:
    """(2 s source clip, its seed) for an extension case: the first of seed, seed + 1, ... whose
    object the probe finds in the frame at the seam (the last frame, or the first going
    backward); after SOURCE_TRIES, the last drawn. A source whose object has already shrunk
    away, or not yet grown in, leaves the seam nothing to measure (such cases once counted as
    failed seams: docs/decisions/extensions.md)."""
    for k in range(SOURCE_TRIES):
        source = pipe(prompt, seed=seed + k).frames
        if np.isfinite(track(source[:1] if backward else source[-1:])[0]).all():
            break
    return source, seed + k


def measure_extend(pipe, n: int, tmp: Path, backward: bool, base: int = SEED) -> dict:
    rows = []
    rng = np.random.default_rng(base + 2 + backward)
    redrawn = 0
    for shape, color, motion, bg, first_seed in source_cases(n, base + 20 + backward):
        source, seed = seam_source(pipe, canonical_prompt(shape, color, motion, bg), first_seed, backward)
        redrawn += seed != first_seed
        state = end_state(source, last=not backward)
        options = feasible_motions(*state, ending=backward) if state else list(MOTIONS)
        # "Continuing it": the same action where it still fits, else another that fits.
        new_motion = motion if motion in options else options[rng.integers(len(options))]
        prompt = canonical_prompt(shape, color, new_motion, bg)
        video = pipe.extend(source, prompt, seconds=2, backward=backward, seed=seed + 1)
        frames = read_video(video.save(tmp / "extend.mp4"))[0]  # as a user gets it
        k = len(source)
        new = frames[:-k] if backward else frames[k:]
        at = len(new) - 1 if backward else k - 1  # the step across the seam
        r = probe(new)
        row = {"prompt": prompt, "source_motion": motion, "seam": seam(frames, [at]), "read": r.attributes,
               "want": (shape, color, bg, new_motion), "same_motion": new_motion == motion}
        row.update(seam_ok=row["seam"]["ok"], seam_ok_raw=row["seam"]["ok_raw"],
                   follows=r.attributes == row["want"], motion_ok=r.motion == new_motion)
        rows.append(row)
    same = [r for r in rows if r["same_motion"]]
    other = [r for r in rows if not r["same_motion"]]
    return {"n": n, "sources_redrawn": int(redrawn), "seam_ok": rate(rows, "seam_ok"), "seam_ok_raw": rate(rows, "seam_ok_raw"),
            "follows_prompt": rate(rows, "follows"), "motion_ok": rate(rows, "motion_ok"),
            "same_motion": {"n": len(same), "seam_ok": rate(same, "seam_ok"), "follows_prompt": rate(same, "follows")},
            "new_motion": {"n": len(other), "seam_ok": rate(other, "seam_ok"), "follows_prompt": rate(other, "follows")},
            "cases": rows}


def measure_loop(pipe, n: int, tmp: Path, base: int = SEED) -> dict:
    rows = []
    for shape, color, motion, bg, seed in source_cases(n, base + 30):
        prompt = canonical_prompt(shape, color, motion, bg)
        frames = read_video(pipe.loop(prompt, seconds=2, seed=seed).save(tmp / "loop.mp4"))[0]  # as a user gets it
        wrapped = np.concatenate([frames, frames[:1]])  # the last-to-first step is the final step here
        s = seam(wrapped, [len(frames) - 1])
        rows.append({"prompt": prompt, "seam": s, "ok": s["ok"], "ok_raw": s["ok_raw"]})
    return {"n": n, "loop_ok": rate(rows, "ok"), "loop_ok_raw": rate(rows, "ok_raw"), "cases": rows}


def measure_remix(pipe, n: int, strength: float | None = None, base: int = SEED) -> dict:
    rows = []
    rng = np.random.default_rng(base + 4)
    for shape, color, motion, bg, seed in source_cases(n, base + 40):
        source = as_saved(pipe(canonical_prompt(shape, color, motion, bg), seed=seed).frames, 8)
        before = probe(source)
        new_color = [c for c in COLORS if c != color][rng.integers(len(COLORS) - 1)]
        prompt = canonical_prompt(shape, new_color, motion, bg)  # "the same, but NEW_COLOR"
        kw = {} if strength is None else {"strength": strength}
        after = probe(as_saved(pipe.remix(source, prompt, seed=seed + 1, **kw).frames, 8))
        ok = after.color == new_color and after.shape == before.shape and after.motion == before.motion
        rows.append({"prompt": prompt, "before": before.attributes, "after": after.attributes, "ok": ok,
                     "source_as_prompted": before.attributes == (shape, color, bg, motion),
                     "color_ok": after.color == new_color, "shape_kept": after.shape == before.shape,
                     "motion_kept": after.motion == before.motion})
    clean = [r for r in rows if r["source_as_prompted"]]  # sources that show what their prompt says
    return {"n": n, "ok": rate(rows, "ok"), "color_ok": rate(rows, "color_ok"), "shape_kept": rate(rows, "shape_kept"),
            "motion_kept": rate(rows, "motion_kept"), "n_source_as_prompted": len(clean),
            "ok_on_sources_as_prompted": rate(clean, "ok"), "cases": rows}


def measure_blend(pipe, n: int, base: int = SEED) -> dict:
    rows = []
    rng = np.random.default_rng(base + 5)
    for shape, color, motion, bg, seed in source_cases(n, base + 50):
        a = pipe(canonical_prompt(shape, color, motion, bg), seed=seed).frames
        other = [m for s, c, m in training_combos() if (s, c) == (shape, color)]
        b = pipe(canonical_prompt(shape, color, other[rng.integers(len(other))], bg), seed=seed + 1).frames
        ea, sb = end_state(a), end_state(b, last=False)
        move = "static"
        if ea and sb:
            dx, dy = sb[0] - ea[0], sb[1] - ea[1]
            if max(abs(dx), abs(dy)) > 0.15:
                move = ("right" if dx > 0 else "left") if abs(dx) >= abs(dy) else ("down" if dy > 0 else "up")
        prompt = canonical_prompt(shape, color, move, bg)
        frames = as_saved(pipe.blend(a, b, prompt, seconds=2, seed=seed + 2).frames, 8)
        move = frame_steps(frames)[0]
        # The largest step; if the object is lost in every frame, any step is NaN and the case fails.
        at = [int(np.nanargmax(move)) if np.isfinite(move).any() else 0] if len(frames) > 2 else []
        s = seam(frames, at, factor=3.0)
        p0, p1 = psnr(frames[0], a[-1]), psnr(frames[-1], b[0])
        row = {"prompt": prompt, "psnr_first": p0, "psnr_last": p1, "max_step": s}
        row.update(ends_ok=p0 >= 25 and p1 >= 25, steps_ok=s["centroid"]["ok"], steps_ok_raw=s["centroid"]["ok_raw"])
        row.update(ok=row["ends_ok"] and row["steps_ok"], ok_raw=row["ends_ok"] and row["steps_ok_raw"])
        rows.append(row)
    return {"n": n, "ok": rate(rows, "ok"), "ok_raw": rate(rows, "ok_raw"), "ends_ok": rate(rows, "ends_ok"),
            "steps_ok": rate(rows, "steps_ok"), "psnr_first_median": float(np.median([r["psnr_first"] for r in rows])),
            "psnr_last_median": float(np.median([r["psnr_last"] for r in rows])), "cases": rows}


# Storyboards: one object per board, cards changing its motion. Moves come in
# there-and-back pairs so each has room, with in-place motions between them.
BOARD_MOTIONS = ("right", "left", "growing", "shrinking", "down", "up", "static", "left", "right",
                 "shrinking", "growing", "up", "down", "static", "left")  # a cycle: boards start anywhere in it


def flicker_ratio(frames: np.ndarray, fps: int) -> dict:
    first, last = flicker(frames[:10 * fps]), flicker(frames[-10 * fps:])
    return {"first_10s": first, "last_10s": last, "ratio": last / max(first, 1e-6)}


def measure_storyboard(pipe, boards: int, seconds: int = 4, base: int = SEED) -> dict:
    rows, segments = [], []
    rng = np.random.default_rng(base + 6)
    for b in range(boards):
        shape, color = SHAPES[rng.integers(3)], list(COLORS)[rng.integers(len(COLORS))]
        bg = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
        shift = int(rng.integers(len(BOARD_MOTIONS)))
        motions = [BOARD_MOTIONS[(shift + j) % len(BOARD_MOTIONS)] for j in range(15)]
        cards = [{"prompt": canonical_prompt(shape, color, m, bg), "seconds": seconds} for m in motions]
        t0 = time.perf_counter()
        video = pipe.storyboard(cards, seed=b)
        wall = time.perf_counter() - t0
        frames = as_saved(video.frames, video.fps)
        per = seconds * video.fps
        for j, m in enumerate(motions):
            r = probe(frames[j * per:(j + 1) * per])
            segments.append({"board": b, "card": j, "want": (shape, color, bg, m), "read": r.attributes,
                             "ok": r.attributes == (shape, color, bg, m), "motion_ok": r.motion == m})
        seams = [j * per - 1 for j in range(1, 15)]
        s = seam(frames, seams)
        rows.append({"board": b, "seconds": len(frames) / video.fps, "wall_seconds": wall,
                     "flicker": flicker_ratio(frames, video.fps), "seams": s})
    ratios = [r["flicker"]["ratio"] for r in rows]
    return {"boards": boards, "segments": len(segments), "segment_ok": rate(segments, "ok"),
            "segment_motion_ok": rate(segments, "motion_ok"), "flicker_ratio_max": float(np.max(ratios)),
            "flicker_ok": float(np.mean([x <= 1.5 for x in ratios])), "boards_detail": rows, "segment_cases": segments}


def measure_long(pipe, n: int, seconds: int = 60, base: int = SEED) -> dict:
    rows = []
    for shape, color, motion, bg, seed in source_cases(n, base + 70):
        prompt = canonical_prompt(shape, color, motion, bg)
        t0 = time.perf_counter()
        video = pipe.long(prompt, seconds, seed=seed)
        wall = time.perf_counter() - t0
        frames = as_saved(video.frames, video.fps)
        rows.append({"prompt": prompt, "frames": len(frames), "wall_seconds": wall,
                     "real_time_factor": seconds / wall, "flicker": flicker_ratio(frames, video.fps)})
    ratios = [r["flicker"]["ratio"] for r in rows]
    return {"n": n, "seconds": seconds, "wall_seconds_median": float(np.median([r["wall_seconds"] for r in rows])),
            "wall_seconds_max": float(np.max([r["wall_seconds"] for r in rows])),
            "flicker_ratio_max": float(np.max(ratios)), "flicker_ok": float(np.mean([x <= 1.5 for x in ratios])),
            "cases": rows}


def measure_reference(pipe, n: int, base: int = SEED) -> dict:
    """How often an ordinary step of a plain 4 s text -> video clip passes the seam test.

    Not an acceptance figure: it calibrates the others. The model's own clips jitter
    (most at its 4-frame group boundaries), so a seam can't be expected to be steadier
    than the model's ordinary steps. Step 15 -> 16 is where a 2 s + 2 s extension has its seam.
    """
    rows = []
    rng = np.random.default_rng(base + 8)
    for shape, color, motion, bg, seed in source_cases(n, base + 80):
        frames = as_saved(pipe(canonical_prompt(shape, color, motion, bg), seconds=4, seed=seed).frames, 8)
        k = int(rng.integers(1, len(frames) - 2))
        rows.append({"step_15": seam(frames, [15])["ok"], "step_random": seam(frames, [k])["ok"],
                     "loop_wrap": seam(np.concatenate([frames, frames[:1]]), [len(frames) - 1])["ok"]})
    return {"n": n, "step_15_ok": rate(rows, "step_15"), "random_step_ok": rate(rows, "step_random"),
            "plain_clip_as_loop_ok": rate(rows, "loop_wrap")}


def peak_memory(seconds: int) -> dict:
    """Peak RSS (MB) of a fresh process that loads the model and makes one long video."""
    code = ("import resource, time, torch; from openreel.backends.builtin import VideoPipeline; "
            "p = VideoPipeline.from_pretrained(); base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
            f"t = time.perf_counter(); v = p.long('a red ball moving right on a black background', {seconds}); "
            "t = time.perf_counter() - t; "
            "print(base / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, t, len(v.frames))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TQDM_DISABLE": "1"})
    base, peak, wall, frames = map(float, out.stdout.split()[-4:])
    return {"seconds": seconds, "frames": int(frames), "rss_after_load_mb": base, "peak_rss_mb": peak,
            "wall_seconds": wall}


MODES = ("image", "extend", "loop", "remix", "blend", "storyboard", "long", "memory", "reference")


def evaluate(cases: int = CASES, only: tuple[str, ...] = MODES, weights=None, log=print, seed: int = SEED) -> dict:
    """Measure `only` over `cases` cases each. `seed` draws the cases (prompts and noise): the
    default is the fixed set the README reports; another seed gives fresh cases to develop on."""
    from ..backends.builtin import VideoPipeline
    pipe = VideoPipeline.from_pretrained(weights)
    boards = max(1, -(-cases // 15))  # enough 15-card boards for `cases` segments
    report = {"model": pipe.name, "cases": cases, "seed": seed, "floors": {"centroid_px": STEP_FLOOR_PX, "color": COLOR_FLOOR}}
    jobs = {  # each takes a scratch folder; only the modes that save through Video.save use it
        "image": lambda tmp: measure_image(pipe, cases, base=seed),
        "extend": lambda tmp: {"forward": measure_extend(pipe, cases, tmp, False, base=seed),
                               "backward": measure_extend(pipe, cases, tmp, True, base=seed)},
        "loop": lambda tmp: measure_loop(pipe, cases, tmp, base=seed),
        "remix": lambda tmp: {"default": measure_remix(pipe, cases, base=seed),
                              **{f"strength_{s}": measure_remix(pipe, cases, s, base=seed) for s in (0.6, 1.0)}},
        "blend": lambda tmp: measure_blend(pipe, cases, base=seed),
        "storyboard": lambda tmp: measure_storyboard(pipe, boards, base=seed),
        "long": lambda tmp: measure_long(pipe, max(2, cases // 10), base=seed),
        "memory": lambda tmp: {"10s": peak_memory(10), "60s": peak_memory(60)},
        "reference": lambda tmp: measure_reference(pipe, cases, base=seed),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in only:
            t0 = time.perf_counter()
            report[name] = jobs[name](Path(tmp))
            report[name + "_seconds"] = time.perf_counter() - t0
            log(summary(name, report[name]))
    return report


def summary(name: str, r: dict) -> str:
    """One line of headline figures per mode."""
    pct = "{:.0%}".format
    if name == "image":
        return (f"image      n={r['n']}  psnr>=25 {pct(r['psnr_ok'])} (median {r['psnr_median']:.1f} dB, "
                f"min {r['psnr_min']:.1f})  motion {pct(r['motion_ok'])}  all attributes {pct(r['all_attributes_ok'])}  "
                f"frame 0->1 step ok {pct(r['first_step_ok'])}  (before MP4: median "
                f"{r['psnr_decoded_median']:.1f} dB, >=25 in {pct(r['psnr_decoded_ok'])})")
    if name == "extend":
        return "\n".join(f"extend {k:8s} n={v['n']}  seam ok {pct(v['seam_ok'])} (no floor {pct(v['seam_ok_raw'])})  "
                         f"follows prompt {pct(v['follows_prompt'])}  motion {pct(v['motion_ok'])}  "
                         f"[same action n={v['same_motion']['n']}: seam {pct(v['same_motion']['seam_ok'])}, follows "
                         f"{pct(v['same_motion']['follows_prompt'])}; new action n={v['new_motion']['n']}: seam "
                         f"{pct(v['new_motion']['seam_ok'])}, follows {pct(v['new_motion']['follows_prompt'])}]  "
                         f"sources redrawn {v['sources_redrawn']}"
                         for k, v in r.items())
    if name == "loop":
        return f"loop       n={r['n']}  last->first ok {pct(r['loop_ok'])} (no floor {pct(r['loop_ok_raw'])})"
    if name == "remix":
        return "\n".join(f"remix {k:12s} n={v['n']}  ok {pct(v['ok'])}  colour {pct(v['color_ok'])}  shape kept "
                         f"{pct(v['shape_kept'])}  motion kept {pct(v['motion_kept'])}  (on the "
                         f"{v['n_source_as_prompted']} sources read as their own prompt: ok "
                         f"{pct(v['ok_on_sources_as_prompted'])})" for k, v in r.items())
    if name == "reference":
        return (f"reference  n={r['n']} plain 4 s clips: step 15->16 passes the seam test {pct(r['step_15_ok'])}, "
                f"a random step {pct(r['random_step_ok'])}; last->first as a loop {pct(r['plain_clip_as_loop_ok'])}")
    if name == "blend":
        return (f"blend      n={r['n']}  ok {pct(r['ok'])} (no floor {pct(r['ok_raw'])})  ends psnr>=25 "
                f"{pct(r['ends_ok'])} (median {r['psnr_first_median']:.1f} / {r['psnr_last_median']:.1f} dB)  "
                f"max step <= 3x median {pct(r['steps_ok'])}")
    if name == "storyboard":
        return (f"storyboard boards={r['boards']} segments={r['segments']}  segment reads as card "
                f"{pct(r['segment_ok'])} (motion {pct(r['segment_motion_ok'])})  flicker last/first 10 s <= 1.5 in "
                f"{pct(r['flicker_ok'])} (worst {r['flicker_ratio_max']:.2f})")
    if name == "long":
        return (f"long       n={r['n']} x {r['seconds']} s  wall median {r['wall_seconds_median']:.1f} s "
                f"(max {r['wall_seconds_max']:.1f})  flicker last/first <= 1.5 in {pct(r['flicker_ok'])} "
                f"(worst {r['flicker_ratio_max']:.2f})")
    if name == "memory":
        return "  ".join(f"memory {k}: peak RSS {v['peak_rss_mb']:.0f} MB (after load {v['rss_after_load_mb']:.0f} MB, "
                         f"{v['wall_seconds']:.1f} s)" for k, v in r.items())
    return name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=CASES, help="cases per mode (storyboards: segments)")
    parser.add_argument("--only", default=",".join(MODES), help="comma-separated modes: " + ",".join(MODES))
    parser.add_argument("--report", type=Path, default=Path("modes_report.json"))
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"draws the cases (default {SEED}, the set the README reports); "
                             "use another to develop without tuning on the reported cases")
    args = parser.parse_args(argv)
    only = tuple(m.strip() for m in args.only.split(",") if m.strip())
    bad = [m for m in only if m not in MODES]
    if bad:
        parser.error(f"--only: unknown modes {bad}; choose from {', '.join(MODES)}")
    report = evaluate(args.cases, only, args.weights, seed=args.seed)
    args.report.write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(args.report)


if __name__ == "__main__":
    main()
