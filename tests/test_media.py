"""Video files: the same frames always make the same file."""

from __future__ import annotations

import numpy as np
import pytest

from openreel.media.video import read_video, write_mp4
from openreel.world.scene import render, sample_scene


@pytest.mark.parametrize("options", [{}, {"scale_to": (128, 96)}, {"all_intra": True}])
def test_the_same_frames_make_the_same_file(tmp_path, options):
    # libx264 reads the padding at the end of each input line. Left as FFmpeg found the memory,
    # a video decoded between two writes changed the second file about one time in three.
    # A world clip with mild noise, as generated clips have (clean renders rarely showed it).
    rng = np.random.default_rng(5)
    clean = render(sample_scene(rng), 64, 64, 16).astype(np.float64)
    frames = np.clip(clean + rng.normal(0, 2, clean.shape), 0, 255).astype(np.uint8)
    other = write_mp4(tmp_path / "other.mp4", render(sample_scene(rng), 112, 64, 16), 8)
    first = write_mp4(tmp_path / "first.mp4", frames, 8, **options).read_bytes()
    for i in range(10):
        read_video(other)  # leaves freed frames behind for the next write to find
        again = write_mp4(tmp_path / f"again{i}.mp4", frames, 8, **options).read_bytes()
        assert again == first, f"write {i + 2} of the same frames made a different file"
