"""The probe must read ground truth back almost perfectly, or it can't mark a model.

Ground-truth clips go through the same H.264 round trip as generated ones
(write_mp4 then read_video), at every default size, before being read.
"""

from __future__ import annotations

import numpy as np
import pytest

from openreel.eval.probe import NONE, flicker, probe, probe_file
from openreel.media.video import read_video, write_mp4
from openreel.world.contract import BACKGROUNDS, HELD_OUT, all_combos
from openreel.world.scene import Scene, render, sample_scene

SIZES = [(64, 64), (112, 64), (64, 112)]  # the default native (W, H) sizes
FPS, FRAMES = 8, 16  # the default 2 s clip
CLIPS_PER_SIZE = 96


def scenes(n: int, offset: int, seed: int = 0) -> list[Scene]:
    """n scenes walking a fixed shuffle of all 168 combinations (held-out ones included).

    Offsets 0, 96 and 192 over the three sizes cover every combination at
    least once; backgrounds cycle so each is a quarter of the clips.
    """
    rng = np.random.default_rng(seed)
    combos = [all_combos()[i] for i in rng.permutation(len(all_combos()))]
    backgrounds = list(BACKGROUNDS)
    return [sample_scene(rng, *combos[(offset + i) % len(combos)], background=backgrounds[i % 4],
                         allow_held_out=True) for i in range(n)]


def round_trip(frames: np.ndarray, path) -> np.ndarray:
    write_mp4(path, frames, FPS)
    decoded, fps = read_video(path)
    assert decoded.shape == frames.shape and fps == FPS
    return decoded


def truth(scene: Scene) -> tuple[str, str, str, str]:
    return scene.shape, scene.color, scene.background, scene.motion


def accuracy(cases: list[Scene], width: int, height: int, frames: int, tmp_path) -> tuple[float, list]:
    wrong = []
    for i, scene in enumerate(cases):
        reading = probe(round_trip(render(scene, width, height, frames), tmp_path / f"{i}.mp4"))
        if reading.attributes != truth(scene):
            wrong.append((truth(scene), reading.attributes))
    return 1 - len(wrong) / len(cases), wrong


# ---------------------------------------------------------------------------
# Accuracy on ground truth
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("size_index", range(len(SIZES)))
def test_probe_reads_ground_truth_mp4(size_index, tmp_path):
    width, height = SIZES[size_index]
    cases = scenes(CLIPS_PER_SIZE, offset=size_index * CLIPS_PER_SIZE)
    assert any(tuple(truth(s)[i] for i in (0, 1, 3)) in HELD_OUT for s in cases)
    score, wrong = accuracy(cases, width, height, FRAMES, tmp_path)
    assert score >= 0.99, f"{width}x{height}: {score:.1%}; misread (truth, reading): {wrong}"


@pytest.mark.parametrize("frames, width, height", [(8, 64, 64), (32, 112, 64), (32, 64, 112)])
def test_probe_reads_other_clip_lengths(frames, width, height, tmp_path):
    score, wrong = accuracy(scenes(21, offset=frames, seed=1), width, height, frames, tmp_path)
    assert score >= 0.99, f"{frames} frames at {width}x{height}: {score:.1%}; misread: {wrong}"


def test_probe_reads_a_single_frame_still():
    scene = sample_scene(np.random.default_rng(3), motion="static")
    assert probe(render(scene, 64, 64, 1)).attributes == truth(scene)


def test_reading_diagnostics_follow_the_scene(tmp_path):
    scene = sample_scene(np.random.default_rng(4), shape="square", motion="right")
    reading = probe_file(write_mp4(tmp_path / "clip.mp4", render(scene, 112, 64, FRAMES), FPS))
    assert reading.attributes == truth(scene)
    assert reading.found == FRAMES and len(reading.centroids) == len(reading.areas) == FRAMES
    assert reading.centroids[0] == pytest.approx(scene.start, abs=0.02)
    assert reading.centroids[-1] == pytest.approx(scene.end, abs=0.02)
    side = scene.size0 * 64  # pixels
    assert reading.areas[0] == pytest.approx(side * side / (112 * 64), rel=0.15)
    assert reading.travel[0] == pytest.approx(scene.end[0] - scene.start[0], abs=0.05)
    assert reading.area_ratio == pytest.approx(1.0, abs=0.1)
    assert reading.fill > 0.9 and reading.fill == max(reading.shape_scores.values())


# ---------------------------------------------------------------------------
# Imperfect clips
# ---------------------------------------------------------------------------

def soften(video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stand-in for a generated clip: 3x3 blur, pixel noise and a slow colour drift."""
    out = video.astype(np.float32)
    for axis in (1, 2):
        out = (np.roll(out, -1, axis) + out + np.roll(out, 1, axis)) / 3
    drift = 1 + 0.06 * np.linspace(0, 1, len(out))[:, None, None, None] * rng.uniform(-1, 1, 3)
    out = out * drift + rng.normal(0, 8, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("width, height", SIZES)
def test_probe_tolerates_blur_noise_and_drift(width, height, tmp_path):
    rng = np.random.default_rng(width + height)
    cases = scenes(28, offset=7 * width, seed=2)
    wrong = []
    for i, scene in enumerate(cases):
        clip = round_trip(soften(render(scene, width, height, FRAMES), rng), tmp_path / f"{i}.mp4")
        if probe(clip).attributes != truth(scene):
            wrong.append(truth(scene))
    assert len(wrong) <= 1, wrong


def test_probe_without_an_object_reads_none():
    empty = np.full((FRAMES, 64, 64, 3), BACKGROUNDS["navy"], dtype=np.uint8)
    reading = probe(empty)
    assert (reading.shape, reading.color, reading.motion) == (NONE, NONE, NONE)
    assert reading.background == "navy" and reading.found == 0


def test_probe_refuses_non_video_arrays():
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        probe(np.zeros((64, 64, 3), dtype=np.uint8))


# ---------------------------------------------------------------------------
# Flicker
# ---------------------------------------------------------------------------

def test_flicker_is_near_zero_on_ground_truth_and_high_with_jitter(tmp_path):
    rng = np.random.default_rng(8)
    for i, scene in enumerate(scenes(8, offset=0, seed=3)):
        assert flicker(render(scene, 64, 64, FRAMES)) == 0.0
        assert flicker(round_trip(render(scene, 112, 64, FRAMES), tmp_path / f"{i}.mp4")) < 1.0

    scene = sample_scene(rng, background="gray", motion="left")
    clip = render(scene, 112, 64, FRAMES).astype(np.int16)
    jittered = np.clip(clip + rng.integers(-12, 13, (FRAMES, 1, 1, 1)), 0, 255).astype(np.uint8)
    assert flicker(round_trip(jittered, tmp_path / "jitter.mp4")) > 4.0
    assert probe(jittered).attributes == truth(scene)  # jitter alone doesn't fool the reader
