"""The wan family on tiny random-weight folders: every claimed mode, pinned pixels, parity with
diffusers called directly, refusals and detection. Offline and CPU-only."""

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

import tiny_wan  # noqa: E402
from openreel.backends.wan import FAMILY, WanBackend  # noqa: E402
from openreel.requests import (Blend, Extend, ImageToVideo, Remix, RequestError, SamplingOptions,  # noqa: E402
                               TextToVideo)
from openreel.runner import run  # noqa: E402

FAST = dict(size="32x32", frames=5, steps=2, seed=0)
PROMPT = "a red ball moving right"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("wan")
    return {v: tiny_wan.build(root / v, v) for v in tiny_wan.VARIANTS}


@pytest.fixture(scope="module")
def backends(folders):
    return {v: FAMILY.load(f"tiny-{v}", f, {}) for v, f in folders.items()}


def picture(h=32, w=32, seed=1):
    return (np.random.RandomState(seed).rand(h, w, 3) * 255).astype(np.uint8)


def clip(t=9, h=32, w=32, seed=2):
    return (np.random.RandomState(seed).rand(t, h, w, 3) * 255).astype(np.uint8)


def pixels(frames):
    """A few values to pin: corners of the first and last frames."""
    return [int(v) for v in np.concatenate([frames[0, 0, :2].ravel(), frames[-1, -1, -2:].ravel()])]


# -- every claimed mode through the runner -------------------------------------

def test_modes_by_folder_kind(backends):
    modes = {v: b.capabilities().modes for v, b in backends.items()}
    assert modes == {"t2v": ("text", "remix", "edit"), "i2v": ("image",), "flf2v": ("blend",), "a14b": ("image",),
                     "vace": ("text", "image", "extend", "blend")}
    caps = backends["t2v"].capabilities()
    assert caps.sizes[:2] == ("832x480", "480x832") and caps.fps == (16,) and caps.frame_rule == (4, 1)
    assert caps.size_multiple == 16 and caps.license == "apache-2.0" and caps.negative_prompt
    assert backends["a14b"].identity().version == "Wan2.2-I2V"
    assert backends["flf2v"].identity().version == "Wan2.1-FLF2V"


def check(video, frames, fps=16, size="32x32"):
    assert video.frames.dtype == np.uint8 and video.frames.shape == (frames, 32, 32, 3)
    assert video.fps == fps and video.size == size


def test_text(backends):
    video = run(backends["t2v"], TextToVideo(PROMPT, SamplingOptions(**FAST)))
    check(video, 5)
    assert video.params["family"] == "wan" and video.params["mode"] == "text"
    assert np.allclose(pixels(video.frames), TEXT_PIXELS, atol=2)


def test_text_seconds_snap_to_4k_plus_1(backends):
    video = run(backends["t2v"], TextToVideo(PROMPT, SamplingOptions(size="32x32", seconds=1, steps=1)))
    check(video, 17)  # 1 s at 16 fps = 16 frames -> 17, the next 4k+1


def test_remix_keeps_length_and_size(backends):
    seen = []
    video = run(backends["t2v"], Remix(clip(9), PROMPT, strength=0.5, options=SamplingOptions(steps=2)),
                callback=lambda i, n: seen.append((i, n)))
    check(video, 9)
    assert seen and seen[-1][0] == len(seen)


def test_image(backends):
    video = run(backends["i2v"], ImageToVideo(PROMPT, picture(), SamplingOptions(**FAST)))
    check(video, 5)
    assert np.allclose(pixels(video.frames), IMAGE_PIXELS, atol=2)


def test_image_two_experts(backends):
    """Wan 2.2 A14B: transformer_2 and boundary_ratio load and run through the same class."""
    pipe = backends["a14b"].pipeline("image")
    assert pipe.transformer_2 is not None and pipe.config.boundary_ratio == 0.9
    check(run(backends["a14b"], ImageToVideo(PROMPT, picture(), SamplingOptions(**FAST))), 5)


def test_first_last_frame_blend(backends):
    video = run(backends["flf2v"], Blend(clip(5, seed=3), clip(5, seed=4), PROMPT, options=SamplingOptions(**FAST)))
    check(video, 5)


def test_vace_modes(backends):
    b = backends["vace"]
    check(run(b, TextToVideo(PROMPT, SamplingOptions(**FAST))), 5)
    check(run(b, ImageToVideo(PROMPT, picture(), SamplingOptions(**FAST))), 5)
    check(run(b, Blend(clip(5, seed=3), clip(5, seed=4), PROMPT, options=SamplingOptions(**FAST))), 5)
    source = clip(9)
    video = run(b, Extend(source, PROMPT, options=SamplingOptions(size="32x32", seconds=1, steps=1)))
    check(video, 9 + 17)  # the source, then 1 s (17 frames at 16 fps, 4k+1)
    assert np.array_equal(video.frames[:9], source)


# -- parity with diffusers called directly ------------------------------------------

def direct(cls_name, folder, **kw):
    import diffusers
    import torch
    pipe = getattr(diffusers, cls_name).from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(prompt=PROMPT, height=32, width=32, num_frames=5, num_inference_steps=2, guidance_scale=5.0,
               generator=torch.Generator("cpu").manual_seed(0), output_type="np", **kw).frames[0]
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def test_parity_text(backends, folders):
    ours = run(backends["t2v"], TextToVideo(PROMPT, SamplingOptions(**FAST))).frames
    assert np.array_equal(ours, direct("WanPipeline", folders["t2v"]))


def test_parity_image(backends, folders):
    from PIL import Image
    image = picture()
    ours = run(backends["i2v"], ImageToVideo(PROMPT, image, SamplingOptions(**FAST))).frames
    assert np.array_equal(ours, direct("WanImageToVideoPipeline", folders["i2v"], image=Image.fromarray(image)))


# -- refusals and detection ---------------------------------------------------------

def test_refusals(backends):
    with pytest.raises(RequestError, match="mode image is not one model tiny-t2v has; its modes are text, remix, edit"):
        run(backends["t2v"], ImageToVideo(PROMPT, picture(), SamplingOptions(**FAST)))
    with pytest.raises(RequestError, match="mode image is not one model tiny-flf2v has"):
        run(backends["flf2v"], ImageToVideo(PROMPT, picture(), SamplingOptions(**FAST)))
    with pytest.raises(RequestError, match="multiples of 16") as e:
        run(backends["t2v"], TextToVideo(PROMPT, SamplingOptions(size="40x40", frames=5)))
    assert e.value.field == "size"
    with pytest.raises(RequestError, match=r"4k\+1 .*tiny-t2v") as e:
        run(backends["t2v"], TextToVideo(PROMPT, SamplingOptions(size="32x32", frames=6)))
    assert e.value.field == "frames"
    with pytest.raises(RequestError, match="seconds must be one of 1, 2, 3, 4, 5"):
        run(backends["t2v"], TextToVideo(PROMPT, SamplingOptions(seconds=8)))


def test_detect(folders, tmp_path):
    assert all(FAMILY.detect(f) for f in folders.values())
    other = tmp_path / "skyreels"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "SkyReelsV2DiffusionForcingPipeline"}))
    assert not FAMILY.detect(other) and not FAMILY.detect(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a wan folder"):
        WanBackend.capabilities_of("x", other, {})


def test_build_is_deterministic(tmp_path):
    a, b = tiny_wan.build(tmp_path / "a", "t2v"), tiny_wan.build(tmp_path / "b", "t2v")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert sum((a / f).stat().st_size for f in files) < 5_000_000


# Recorded from this adapter on diffusers 0.42.1 / torch 2.13 CPU (atol 2 on uint8 absorbs BLAS noise).
TEXT_PIXELS = [115, 123, 119, 115, 116, 122, 116, 131, 130, 139, 126, 132]
IMAGE_PIXELS = [116, 123, 119, 115, 116, 123, 116, 131, 130, 139, 126, 132]
