"""Video files: the same frames always make the same file."""

from __future__ import annotations

import numpy as np
import pytest

from openreel.media.video import read_video, write_mp4
from openreel.world.scene import render, sample_scene


@pytest.mark.parametrize("options", [{}, {"scale_to": (128, 96)}, {"all_intra": True}])
def test_the_same_frames_make_the_same_file(tmp_path, options):
    # x264's CPU-specific routines made a different file from one write to the next whenever a
    # video had been decoded in between (most generated clips; clean renders rarely). World clips
    # with mild noise, as generated clips have, showed it too.
    rng = np.random.default_rng(5)
    other = write_mp4(tmp_path / "other.mp4", render(sample_scene(rng), 112, 64, 16), 8)
    for c in range(4):
        clean = render(sample_scene(rng), 64, 64, 16).astype(np.float64)
        frames = np.clip(clean + rng.normal(0, 2, clean.shape), 0, 255).astype(np.uint8)
        first = write_mp4(tmp_path / "first.mp4", frames, 8, **options).read_bytes()
        for i in range(5):
            read_video(other)  # leaves freed frames behind for the next write to find
            again = write_mp4(tmp_path / "again.mp4", frames, 8, **options).read_bytes()
            assert again == first, f"clip {c}: write {i + 2} of the same frames made a different file"


def test_track_follows_the_object_and_reads_nothing_where_there_is_none():
    from openreel.world.objects import track
    from openreel.world.scene import Scene
    scene = Scene("circle", "red", "navy", "right", (0.3, 0.5), (0.7, 0.5), 0.3, 0.3)
    frames = render(scene, 64, 64, 16)
    frames[-1] = frames[-1, 0, 0]  # the last frame is background only
    cent, colour = track(frames)
    true = np.array([[scene.at(t / 15)[0] * 64, 32.0] for t in range(15)])
    assert np.abs(cent[:15] - true).max() < 0.25  # a circle's centroid is its box's centre
    assert np.abs(colour[:15] - (220, 40, 40)).max() <= 2  # the contract red, from its solid pixels
    assert np.isnan(cent[15]).all() and np.isnan(colour[15]).all()
