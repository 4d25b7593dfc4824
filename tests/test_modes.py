"""Generation modes (issue 3): image -> video, extend, loop, remix, blend, storyboard, long.

Two levels: the seam, draw and loop heuristics with the modes over tiny seeded components
(each mode's Python API itself, its lengths, progress and input checks: test_pipeline.py), and
every mode end to end through the `openreel generate` command on the shipped weights, on short clips.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openreel.media.video import as_saved, read_video, write_mp4
from openreel.backends.builtin import VideoPipeline
from openreel.backends.builtin.seams import (BLEND_CANDIDATES, BLEND_STRENGTH, EASE_FRAMES, EASE_MOVE_LIMIT, EXTEND_CANDIDATES,
                                             boomerang_start, glide, hop_ratio, motion_steps, seam_eased, seam_ratio, toward, tween, refine_steps, saved_seam_ratio)
from openreel.video import Video
from openreel.world.scene import Scene, render

from test_pipeline import clip, psnr, tiny_pipeline  # noqa: E402 (the same tiny components and clips)

OPENREEL = str(Path(sys.executable).parent / "openreel")


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


# ----------------------------------------------------------------------------
# Seams, draws and loops, tiny components

def test_toward_moves_a_copy_only_as_far_as_needed():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    close = np.clip(target.astype(int) + rng.integers(-2, 3, target.shape), 0, 255).astype(np.uint8)
    assert toward(close, target, 28.0) is close  # already within the bound: untouched
    far = 255 - target
    for db in (20.0, 28.0, 35.0):
        assert db <= psnr(toward(far, target, db), target) < db + 0.5


def hopping(steps, size=64, side=12):
    """A white square on black whose x advances by `steps` (px per frame)."""
    frames = np.zeros((len(steps) + 1, size, size, 3), np.uint8)
    x = np.concatenate([[4.0], 4.0 + np.cumsum(steps)])
    for t, xt in enumerate(np.round(x).astype(int)):
        frames[t, 26:26 + side, xt:xt + side] = 255
    return frames


def test_motion_steps_reads_travel_and_colour():
    move, colour = motion_steps(hopping([1, 2, 0, 3]))
    assert np.allclose(move, [1, 2, 0, 3], atol=0.05) and np.allclose(colour, 0, atol=0.5)
    frames = hopping([0, 0])
    frames[2][frames[2] == 255] = 200  # the square dims in the last step
    assert motion_steps(frames)[1][1] > 40


def test_boomerang_start_turns_at_ordinary_steps():
    # Steps of 1 px with a 5 px hop every 4th step, as the model hops at latent-group
    # boundaries: the turns (steps a and a + half - 1) must not be hops.
    steps = [5 if i % 4 == 0 else 1 for i in range(32)]
    frames = hopping(steps, size=200)
    half = 8
    a = boomerang_start(frames, half)
    assert 0 <= a <= len(frames) - half - 1
    assert steps[a] == 1 and steps[a + half - 1] == 1
    # a still clip has no preference beyond its first start
    assert boomerang_start(np.zeros((33, 16, 16, 3), np.uint8), half) == 0


def test_hop_ratio():
    assert hop_ratio(hopping([2] * 8)) == pytest.approx(1, abs=0.05)
    assert hop_ratio(hopping([2, 2, 2, 10, 2, 2, 2, 2])) == pytest.approx(5, abs=0.1)
    assert hop_ratio(hopping([0] * 8)) == 0  # still: no hop


def test_blend_keeps_the_smoothest_draw(pipe, monkeypatch):
    from openreel.backends.builtin import modes as pl  # where the modes look these up
    a, b = clip(), clip("static", color="blue")
    seen = []
    real = pl.hop_ratio
    monkeypatch.setattr(pl, "hop_ratio", lambda f: seen.append(f) or real(f))
    progress = []
    out = pipe.blend(a, b, "a ball", seconds=2, callback=lambda i, n: progress.append((i, n))).frames
    assert len(seen) == BLEND_CANDIDATES and np.array_equal(out, min(seen, key=real))
    per_draw = refine_steps(2, BLEND_STRENGTH)  # SDEdit from the tween: part of the 2 steps
    assert progress[-1] == (per_draw * BLEND_CANDIDATES, per_draw * BLEND_CANDIDATES)  # one bar over every draw


def test_draws_trade_selection_for_time(pipe, monkeypatch):
    # One draw is the first of the default draws (same generator, drawn in order), at a quarter of the work.
    from openreel.backends.builtin import modes as pl  # where the modes look these up
    a, b = clip(), clip("static", color="blue")
    firsts = []
    real = pl.hop_ratio
    monkeypatch.setattr(pl, "hop_ratio", lambda f: firsts.append(f) or real(f))
    pipe.blend(a, b, "a ball", seconds=2, seed=4)
    progress = []
    one = pipe.blend(a, b, "a ball", seconds=2, seed=4, draws=1, callback=lambda i, n: progress.append((i, n)))
    assert np.array_equal(one.frames, firsts[0]) and one.params["draws"] == 1
    assert progress[-1] == (refine_steps(2, BLEND_STRENGTH),) * 2
    ext = pipe.extend(clip(), "a ball", seconds=1, draws=2, seed=4)
    assert ext.params["draws"] == 2 and ext.frames.shape == (24, 64, 64, 3)


def test_tween_moves_the_object_steadily_between_two_frames():
    # A square from the left of the frame, and the same square grown, lower right: every step of
    # the tween is the same travel, and its ends are the two frames themselves.
    first, last = np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)
    first[10:20, 8:18] = (220, 40, 40)
    last[36:52, 40:56] = (220, 40, 40)
    rough = tween(first, last, 17)
    assert rough.shape == (17, 64, 64, 3)
    assert np.array_equal(rough[0], first) and np.array_equal(rough[-1], last)
    move, _ = motion_steps(rough)
    assert move.min() > 0.8 * np.median(move) and move.max() < 1.2 * np.median(move)
    assert hop_ratio(rough) < 1.2
    area = [(f.astype(int).sum(-1) > 100).sum() for f in rough]  # the size changes on the way, steadily
    assert area[0] == 100 and area[-1] == 256 and area[8] == pytest.approx(160, rel=0.15)


def test_blend_starts_from_the_tween(pipe, monkeypatch):
    from openreel.backends.builtin import modes as pl  # where the modes look these up
    made = []
    real = pl.tween
    monkeypatch.setattr(pl, "tween", lambda *a: made.append(real(*a)) or made[-1])
    a, b = clip(), clip("static", color="blue")
    out = pipe.blend(a, b, "a ball", seconds=2, draws=1).frames
    assert len(made) == 1 and np.array_equal(made[0][0], a[-1]) and np.array_equal(made[0][-1], b[0])
    assert len(made[0]) == len(out)  # the tween spans the transition, both ends included


def seam_case(tint=(0, 0, 0), offset=0):
    """A square that has moved 1 px a frame; the new frames start a little off in colour and place."""
    frames = np.full((12, 64, 64, 3), 30, np.uint8)
    for t in range(12):
        x = 10 + t + (offset if t >= 4 else 0)
        colour = np.array((200, 60, 60)) + (np.array(tint) if t >= 4 else 0)
        frames[t, 20:36, x:x + 16] = np.clip(colour, 0, 255)
    return frames[:4], frames[4:]


def test_seam_eased_takes_out_a_tint_and_a_drift_and_fades():
    anchor_run, new = seam_case(tint=(12, -10, 8), offset=1)
    eased = seam_eased(new, anchor_run[-1])
    before, after = (seam_ratio(np.concatenate([anchor_run, x]), 3) for x in (new, eased))
    assert before > 3 and after < 1.5
    # the correction fades out: from EASE_FRAMES on, the new frames are as they were
    assert np.array_equal(eased[EASE_FRAMES:], new[EASE_FRAMES:])
    assert not np.array_equal(eased[0], new[0])


def test_seam_eased_leaves_a_jump_alone_but_eases_any_colour_change():
    # A jump of many pixels is what the new frames show, not drift: the object stays where it is
    # drawn. A colour change is eased however large: across a seam it is the same object, so a
    # recolouring becomes a fade over EASE_FRAMES frames instead of a jump.
    from openreel.world.objects import track
    anchor_run, new = seam_case(tint=(-150, 150, 0), offset=6)
    assert 6 > EASE_MOVE_LIMIT
    eased = seam_eased(new, anchor_run[-1])
    (c_new, k_new), (c_eased, k_eased), (_, k_anchor) = track(new), track(eased), track(anchor_run[-1:])
    assert np.abs(c_eased - c_new).max() < 0.05  # not moved
    assert np.abs(k_eased[0] - k_anchor[0]).max() <= 2  # new[0] takes the anchor's colour
    assert np.all(np.diff(np.linalg.norm(k_eased[:EASE_FRAMES + 1] - k_new[:EASE_FRAMES + 1], axis=1)) < 0)  # fading
    assert np.array_equal(eased[EASE_FRAMES:], new[EASE_FRAMES:])


def test_seam_ratio_reads_the_object_and_calls_a_lost_one_a_jump():
    anchor_run, new = seam_case(tint=(12, -10, 8), offset=1)
    assert seam_ratio(np.concatenate([anchor_run, new]), 3) > 3  # a tint of ~18 levels on steps of none
    smooth = np.concatenate(seam_case())
    assert seam_ratio(smooth, 3) <= 2.0  # a step like the others (1 px)
    lost = smooth.copy()
    lost[4:] = 30  # the object is gone after the seam
    assert seam_ratio(lost, 3) == float("inf")


def test_glide_smooths_a_staircase_and_keeps_an_even_pace_and_the_ends():
    # The model's blends move in hops at latent-group boundaries: 2 px, then nothing for 3 frames.
    stairs = hopping([2, 0, 0, 0] * 4)
    smooth = glide(stairs)
    assert hop_ratio(stairs) == pytest.approx(4, abs=0.1) and hop_ratio(smooth) < 2.1
    assert np.array_equal(smooth[0], stairs[0]) and np.array_equal(smooth[-1], stairs[-1])
    even = hopping([1] * 16)
    assert np.array_equal(glide(even), even)
    # A frame more than GLIDE_LIMIT off the smoothed track is content, not judder: left as drawn.
    jump = hopping([0] * 8 + [12] + [0] * 7)
    assert np.array_equal(glide(jump)[8:10], jump[8:10])
    assert motion_steps(glide(jump))[0][8] == pytest.approx(12, abs=0.1)


def test_seam_ratio():
    assert seam_ratio(hopping([2, 2, 2, 10, 2, 2, 2]), 3) == pytest.approx(5, abs=0.1)
    assert seam_ratio(hopping([2, 2, 2, 10, 2, 2, 2]), 0) == pytest.approx(1, abs=0.1)


@pytest.mark.parametrize("backward", [False, True])
def test_extend_keeps_the_draw_with_the_smoothest_seam(pipe, monkeypatch, backward):
    from openreel.backends.builtin import modes as pl  # where the modes look these up
    source = clip()
    seen = []
    real = pl.saved_seam_ratio
    monkeypatch.setattr(pl, "saved_seam_ratio", lambda f, at, fps, *shared: seen.append((f, at)) or real(f, at, fps, *shared))
    out = pipe.extend(source, "a ball", seconds=1, backward=backward).frames
    assert {at for _, at in seen} == {7 if backward else 15}
    ratios = [real(f, at, 8) for f, at in seen]
    first_passing = sum(r <= pl.SEAM_PASS for r in ratios[:EXTEND_CANDIDATES])
    assert len(seen) == (EXTEND_CANDIDATES if first_passing >= 2 else 2 * EXTEND_CANDIDATES)
    passing = [f for (f, _), r in zip(seen, ratios) if r <= pl.SEAM_PASS]
    if len(passing) < 2:
        assert np.array_equal(out, seen[int(np.argmin(ratios))][0])
    else:
        assert any(np.array_equal(out, f) for f in passing)
    assert np.array_equal(out[8:] if backward else out[:16], source)


def test_extend_draws_as_many_again_where_fewer_than_two_seams_pass(pipe, monkeypatch):
    from openreel.backends.builtin import modes as pl  # where the modes look these up
    for ratio, drawn in ((math.inf, 4), (0.0, 2)):
        monkeypatch.setattr(pl, "saved_seam_ratio", lambda f, at, fps, *shared: ratio)
        progress = []
        video = pipe.extend(clip(), "a ball", seconds=1, draws=2, callback=lambda i, n: progress.append((i, n)))
        assert video.params["draws"] == 2 and video.params["drawn"] == drawn
        # The bar spans the whole job: its total grows when the second round starts, and ends full.
        assert progress[-1] == (progress[0][1] * drawn // 2,) * 2


def test_saved_seam_ratio_reads_the_seam_in_the_file_too():
    # A small moving square whose colour drifts 3 levels a frame, except across the seam (frame 8
    # -> 9), where it holds: what the codec does to it there counts, and the drawn seam still does.
    frames = np.zeros((16, 64, 64, 3), np.uint8)
    for i in range(16):
        frames[i, 30:36, 20 + i:26 + i] = (200 - 3 * i + 3 * (i > 8), 60, 60)
    drawn, saved = seam_ratio(frames, 8), seam_ratio(as_saved(frames, 8, all_intra=True), 8)
    assert saved_seam_ratio(frames, 8, 8) == max(drawn, saved) and saved != drawn


def drifting(n, x0, tint, seed):
    """A square moving right with its colour drifting, on a gray background with pixel noise."""
    rng = np.random.default_rng(seed)
    frames = np.full((n, 64, 64, 3), 110, np.uint8)
    for i in range(n):
        frames[i, 24:34, x0 + i:x0 + i + 10] = (190 - tint * i, 70, 40 + tint * i)
    return np.clip(frames.astype(int) + rng.integers(-6, 7, frames.shape), 0, 255).astype(np.uint8)


def test_a_shared_start_is_coded_the_same_whatever_follows():
    # What saved_seam_ratio's memo rests on: the all-intra file codes each frame after the ones
    # before it only. A shared end does not keep this (the frames before it change its coding).
    head = drifting(24, 4, 2, seed=1)
    tails = [drifting(n, 30, tint, seed) for n, tint, seed in ((8, 1, 2), (16, 4, 3), (12, 0, 4))]
    alone = as_saved(head, 8, all_intra=True)
    for tail in tails:
        assert np.array_equal(as_saved(np.concatenate([head, tail]), 8, all_intra=True)[:24], alone)
    # Why extend reads a backward source whole in the file: coded after other frames, it differs.
    assert any(not np.array_equal(as_saved(np.concatenate([tail, head]), 8, all_intra=True)[len(tail):], alone)
               for tail in tails)


def test_saved_seam_ratio_reading_the_source_once_gives_the_same_values():
    source = drifting(24, 4, 2, seed=1)
    draws = [drifting(8, 28 + dx, tint, seed) for dx, tint, seed in ((0, 2, 5), (3, 0, 6), (-2, 5, 7))]
    for backward in (False, True):
        memo, values = {}, []
        for new in draws:
            frames = np.concatenate([new, source] if backward else [source, new])
            at, shared = (7, slice(8, None)) if backward else (23, slice(0, 24))
            values.append(saved_seam_ratio(frames, at, 8, shared, memo))
            assert values[-1] == saved_seam_ratio(frames, at, 8)  # as read whole
        assert set(memo) == ({"drawn"} if backward else {"drawn", "saved"})  # read once, kept
        assert len(set(values)) > 1  # the draws differ, so a stale memo would show


# ----------------------------------------------------------------------------
# End to end through the CLI, shipped weights, short clips

def run(*args, timeout=600):
    return subprocess.run([OPENREEL, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    write_mp4(d / "right.mp4", clip("right"), 8)
    write_mp4(d / "still.mp4", clip("static", color="blue"), 8)
    Image.fromarray(clip("right")[0]).save(d / "frame.png")
    return d


def generated(out: Path, r) -> np.ndarray:
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith(out.name)
    frames, fps = read_video(out)
    assert fps == 8
    return frames


def test_cli_image(tmp_path, media):
    out = tmp_path / "img.mp4"
    frames = generated(out, run("generate", "a red ball moving right on a black background", "--image",
                                media / "frame.png", "--seconds", 1, "--steps", 4, "-o", out))
    assert frames.shape == (8, 64, 64, 3)
    assert psnr(frames[0], np.asarray(Image.open(media / "frame.png"))) >= 22


@pytest.mark.parametrize("backward", [False, True])
def test_cli_extend(tmp_path, media, backward):
    out = tmp_path / "ext.mp4"
    flags = ["--backward"] if backward else []
    frames = generated(out, run("generate", "a red ball staying still on a black background", "--extend",
                                media / "right.mp4", *flags, "--seconds", 1, "--steps", 2, "--draws", 1, "-o", out))
    source = read_video(media / "right.mp4")[0]
    assert frames.shape == (24, 64, 64, 3)
    kept = frames[8:] if backward else frames[:16]
    assert psnr(kept, source) > 35  # the source itself, through one more encode


def keyframes(path) -> list[bool]:
    import av
    with av.open(str(path)) as container:
        return [p.is_keyframe for p in container.demux(container.streams.video[0]) if p.size]


def test_cli_loop(tmp_path):
    out = tmp_path / "loop.mp4"
    r = run("generate", "a red ball moving right on a black background", "--loop", "--seconds", 1, "--steps", 2,
            "-o", out)
    assert generated(out, r).shape == (8, 64, 64, 3)
    assert all(keyframes(out))  # a loop is coded all-intra, so its wrap is coded like every other step


def test_only_loops_and_extensions_are_coded_all_intra(tmp_path):
    frames = clip()
    plain = keyframes(write_mp4(tmp_path / "plain.mp4", frames, 8))
    intra = keyframes(write_mp4(tmp_path / "intra.mp4", frames, 8, all_intra=True))
    assert len(plain) == len(intra) == len(frames)
    assert plain[0] and not any(plain[1:]) and all(intra)
    from openreel.video import Video
    for mode in ("loop", "extend"):
        assert all(keyframes(Video(frames, 8, "x", {"mode": mode}).save(tmp_path / f"{mode}.mp4")))
    for mode in ("text", "remix", "blend", "storyboard"):
        assert not any(keyframes(Video(frames, 8, "x", {"mode": mode}).save(tmp_path / f"{mode}.mp4"))[1:])


def test_cli_remix(tmp_path, media):
    out = tmp_path / "remix.mp4"
    r = run("generate", "a blue ball moving right on a black background", "--remix", media / "right.mp4",
            "--strength", 0.6, "--steps", 4, "-o", out)
    assert generated(out, r).shape == (16, 64, 64, 3)


def test_cli_blend(tmp_path, media):
    out = tmp_path / "blend.mp4"
    r = run("generate", "a ball moving right on a black background", "--blend", media / "right.mp4",
            media / "still.mp4", "--seconds", 1, "--steps", 2, "-o", out)
    frames = generated(out, r)
    assert frames.shape == (10, 64, 64, 3)
    assert psnr(frames[0], read_video(media / "right.mp4")[0][-1]) >= 25
    assert psnr(frames[-1], read_video(media / "still.mp4")[0][0]) >= 25


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_cli_storyboard(tmp_path, suffix):
    cards = [{"prompt": "a red ball moving right on a black background", "seconds": 1},
             {"prompt": "a red ball moving left on a black background", "seconds": 2}]
    board = tmp_path / f"cards{suffix}"
    board.write_text(json.dumps(cards) if suffix == ".json" else
                     "".join(f"- prompt: {c['prompt']}\n  seconds: {c['seconds']}\n" for c in cards))
    out = tmp_path / "board.mp4"
    assert generated(out, run("generate", "--storyboard", board, "--steps", 2, "-o", out)).shape == (24, 64, 64, 3)


def test_cli_long_has_one_bar_for_the_whole_job(tmp_path):
    out = tmp_path / "long.mp4"
    r = run("generate", "a red ball moving right on a black background", "--long", "--seconds", 9, "--steps", 2,
            "-o", out)
    assert generated(out, r).shape == (72, 64, 64, 3)
    assert "6/6" in r.stderr and "/2 " not in r.stderr  # 3 windows x 2 steps, counted as one job


@pytest.mark.parametrize("args,field", [
    (["a ball", "--image", "{tmp}/notes.png"], "image"),
    (["a ball", "--image", "{tmp}/missing.png"], "image"),
    (["a ball", "--extend", "{tmp}/corrupt.mp4"], "video"),
    (["a ball", "--extend", "{tmp}/one_frame.mp4"], "video"),
    (["a ball", "--extend", "{tmp}/one_frame.mp4", "--seconds", "0"], "seconds"),
    (["a ball", "--remix", "{tmp}/one_frame.mp4", "--strength", "1.5"], "strength"),
    (["a ball", "--remix", "{tmp}/one_frame.mp4", "--strength", "0"], "strength"),
    (["--storyboard", "{tmp}/empty.yaml"], "storyboard"),
    (["--storyboard", "{tmp}/broken.yaml"], "storyboard"),
    (["--storyboard", "{tmp}/missing.yaml"], "storyboard"),
    (["a ball", "--loop", "--long"], "mode"),
    (["a ball", "--long", "--seconds", "500"], "seconds"),
    (["a ball", "--backward"], "backward"),
    (["a ball", "--draws", "2"], "draws"),
    (["a ball", "--extend", "{tmp}/one_frame.mp4", "--draws", "0"], "draws"),
    (["--loop"], "prompt"),
])
def test_cli_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, field):
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x01 not a video" * 50)
    write_mp4(tmp_path / "one_frame.mp4", clip()[:1], 8)
    (tmp_path / "empty.yaml").write_text("[]\n")
    (tmp_path / "broken.yaml").write_text("- prompt: [unclosed\n")
    before = sorted(tmp_path.rglob("*"))
    r = run("generate", *[a.replace("{tmp}", str(tmp_path)) for a in args], "-o", tmp_path / "out.mp4")
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), r.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_hops_benchmark_splits_steps_at_latent_boundaries():
    from openreel.eval.hops import step_passes
    smooth = render(Scene("square", "red", "black", "right", (0.2, 0.5), (0.8, 0.5), 0.25, 0.25), 64, 64, 33)
    boundary, inside = step_passes(smooth)
    assert (len(boundary), len(inside)) == (8, 24)  # 32 steps: 0, 4, ..., 28 cross a boundary
    assert all(boundary) and all(inside)  # steady motion: no step stands out
    # The same object held still within each group and jumping between groups: every boundary
    # step is a hop, and the steps inside (no travel at all) pass under the visibility floor.
    hopping = smooth[[0] + [4 * ((i - 1) // 4) + 1 for i in range(1, 33)]]
    boundary, inside = step_passes(hopping)
    assert not any(boundary[1:]) and all(inside)


def test_extension_sources_show_their_object_at_the_seam():
    from openreel.eval.modes import seam_source

    class Clips:  # seed 7's object has gone by the last frame and is not there yet in the first
        def __call__(self, prompt, seed):
            frames = clip("right")
            if seed == 7:
                frames[:2] = frames[-2:] = 0
            return Video(frames, 8, prompt, {})

    source, seed = seam_source(Clips(), "a red circle moving right on a black background", 7, backward=False)
    assert seed == 8 and np.array_equal(source, clip("right"))
    assert seam_source(Clips(), "a red circle", 7, backward=True)[1] == 8
    assert seam_source(Clips(), "a red circle", 3, backward=False)[1] == 3  # a good source is kept


def test_fit_among_passing_keeps_the_best_fit_of_the_clean_seams():
    from openreel.backends.builtin.seams import SEAM_PASS, fit_among_passing
    fits = [0.0, 5.0, -1.0, 2.0]
    assert fit_among_passing([3.0, 1.0, 1.5, 0.5], fits.__getitem__) == 2  # 1, 2, 3 pass; 2 fits best
    assert fit_among_passing([3.0, 2.5, SEAM_PASS, 9.0], fits.__getitem__) == 2  # one passes: the least seam
    assert fit_among_passing([3.0, 2.5, 4.0, 9.0], fits.__getitem__) == 1  # none: the least seam


def test_prompt_fit_prefers_the_prompt_that_describes_the_clip():
    # The shipped model as a zero-shot classifier: of six motions, the clip's own fits best,
    # and the wrong colour and background fit far worse.
    from openreel.world.captions import canonical_prompt
    pipe = VideoPipeline.from_pretrained()
    for scene in (Scene("square", "red", "black", "right", (0.3, 0.5), (0.7, 0.5), 0.3, 0.3),
                  Scene("square", "red", "black", "up", (0.5, 0.7), (0.5, 0.3), 0.3, 0.3)):
        frames = render(scene, 64, 64, 17)
        fit = {m: pipe.prompt_fit(canonical_prompt("square", "red", m, "black"), frames)
               for m in ("right", "up", "left", "down", "static", "growing")}
        assert min(fit, key=fit.get) == scene.motion, fit
        assert pipe.prompt_fit(canonical_prompt("circle", "blue", scene.motion, "gray"), frames) > fit[scene.motion] + 1
