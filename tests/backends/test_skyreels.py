"""The skyreels family on a tiny random-weight diffusion-forcing folder: every claimed mode, pinned
pixels, parity with diffusers called directly, refusals and detection. Offline and CPU-only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))
pytest.importorskip("diffusers")

import tiny_skyreels  # noqa: E402
from openreel.backends import skyreels  # noqa: E402
from openreel.backends.skyreels import FAMILY, SkyReelsBackend  # noqa: E402
from openreel.requests import (Blend, Extend, ImageToVideo, Long, Remix, RequestError,  # noqa: E402
                               SamplingOptions, TextToVideo)
from openreel.runner import run  # noqa: E402

FAST = dict(size="32x32", frames=5, steps=2, seed=0)
PROMPT = "a red ball moving right"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_skyreels.build(tmp_path_factory.mktemp("skyreels") / "df", "df")


@pytest.fixture(scope="module")
def backend(folder):
    return FAMILY.load("tiny-df", folder, {})


def picture(seed=1):
    return (np.random.RandomState(seed).rand(32, 32, 3) * 255).astype(np.uint8)


def clip(t=9, seed=2):
    return (np.random.RandomState(seed).rand(t, 32, 32, 3) * 255).astype(np.uint8)


def check(video, frames):
    assert video.frames.dtype == np.uint8 and video.frames.shape == (frames, 32, 32, 3)
    assert video.fps == 24 and video.size == "32x32"


def test_capabilities(backend):
    caps = backend.capabilities()
    assert caps.modes == ("text", "image", "extend", "blend", "long")
    assert caps.sizes[:2] == ("960x544", "544x960") and caps.fps == (24,) and caps.frame_rule == (4, 1)
    assert caps.size_multiple == 16 and caps.max_seconds == 30 and caps.seconds == (1, 2, 3, 4)
    assert caps.license == "skywork-community-license"


def test_text(backend):
    video = run(backend, TextToVideo(PROMPT, SamplingOptions(**FAST)))
    check(video, 5)
    assert np.allclose(pixels(video.frames), TEXT_PIXELS, atol=2)


def test_image_and_blend(backend):
    check(run(backend, ImageToVideo(PROMPT, picture(), SamplingOptions(**FAST))), 5)
    check(run(backend, Blend(clip(5), clip(5, seed=3), PROMPT, options=SamplingOptions(**FAST))), 5)


def test_extend_continues_the_source(backend):
    source = clip(9)
    video = run(backend, Extend(source, PROMPT, options=SamplingOptions(seconds=1, steps=2)))
    check(video, 9 + 24)  # the source, then 1 s at 24 fps
    assert np.array_equal(video.frames[:9], source)


def test_long_runs_several_windows(backend, monkeypatch):
    """Past one window the pipeline chains windows itself; a 13-frame window with a 5-frame overlap
    makes 25 frames in three windows (the real 97/17 takes the same path, only slower)."""
    monkeypatch.setattr(skyreels, "OVERLAP", 5)
    monkeypatch.setattr(SkyReelsBackend, "window", staticmethod(lambda w, h: 13))
    pipe = backend.pipeline("long")
    calls = []
    original = pipe.prepare_latents
    monkeypatch.setattr(pipe, "prepare_latents", lambda *a, **k: calls.append(1) or original(*a, **k))
    video = run(backend, Long(PROMPT, SamplingOptions(size="32x32", seconds=1, steps=2)))
    check(video, 25)
    assert len(calls) == 3


def direct(cls_name, folder, **kw):
    import diffusers
    import torch
    pipe = getattr(diffusers, cls_name).from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(prompt=PROMPT, height=32, width=32, num_frames=5, num_inference_steps=2, guidance_scale=6.0,
               generator=torch.Generator("cpu").manual_seed(0), output_type="np", **kw).frames[0]
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def test_parity_text(backend, folder):
    ours = run(backend, TextToVideo(PROMPT, SamplingOptions(**FAST))).frames
    assert np.array_equal(ours, direct("SkyReelsV2DiffusionForcingPipeline", folder))


def test_parity_image(backend, folder):
    from PIL import Image
    ours = run(backend, ImageToVideo(PROMPT, picture(), SamplingOptions(**FAST))).frames
    theirs = direct("SkyReelsV2DiffusionForcingImageToVideoPipeline", folder, image=Image.fromarray(picture()))
    assert np.array_equal(ours, theirs)


def test_refusals(backend):
    with pytest.raises(RequestError, match="mode remix is not one model tiny-df has; its modes are text, image, extend, blend, long"):
        run(backend, Remix(clip(5), PROMPT, options=SamplingOptions(size="32x32")))
    with pytest.raises(RequestError, match="multiples of 16") as e:
        run(backend, TextToVideo(PROMPT, SamplingOptions(size="24x24", frames=5)))
    assert e.value.field == "size"
    with pytest.raises(RequestError, match=r"4k\+1 .*tiny-df") as e:
        run(backend, TextToVideo(PROMPT, SamplingOptions(size="32x32", frames=8)))
    assert e.value.field == "frames"
    with pytest.raises(RequestError, match="from 1 to 30"):
        run(backend, Long(PROMPT, SamplingOptions(seconds=31)))


def test_detect(folder, tmp_path):
    assert FAMILY.detect(folder)
    wan = tmp_path / "wan"
    wan.mkdir()
    (wan / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    assert not FAMILY.detect(wan)
    with pytest.raises(ValueError, match="not a skyreels folder"):
        SkyReelsBackend.capabilities_of("x", wan, {})


def pixels(frames):
    return [int(v) for v in np.concatenate([frames[0, 0, :2].ravel(), frames[-1, -1, -2:].ravel()])]


# Recorded from this adapter on diffusers 0.42.1 / torch 2.13 CPU (atol 2 on uint8 absorbs BLAS noise).
TEXT_PIXELS = [115, 123, 118, 115, 116, 122, 116, 131, 130, 139, 126, 132]
