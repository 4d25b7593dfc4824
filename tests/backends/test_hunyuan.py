"""HunyuanVideo 1.5 backend: tiny random-weight folders built here, CPU, offline."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest

from openreel.backends.hunyuan import FAMILY, HunyuanVideo15Backend, bucket, image_size_for
from openreel.requests import ImageToVideo, RequestError, SamplingOptions, TextToVideo
from openreel.runner import run

try:
    from . import tiny_hunyuan as tiny
except ImportError:
    import tiny_hunyuan as tiny

PROMPT = "a red ball moving right on a navy background"
FAST = dict(size="32x32", frames=9, steps=2, seed=0)


def _image() -> np.ndarray:
    y, x = np.mgrid[0:40, 0:56]
    return np.stack([x * 4, y * 6, (x + y) * 3], -1).astype(np.uint8)  # 56x40: fitted (cover + crop) to 32x32


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hunyuan")
    return {v: tiny.build(root / v, v) for v in tiny.VARIANTS}


@pytest.fixture(scope="module")
def t2v(folders):
    return FAMILY.load("tiny-t2v", folders["t2v"], {})


@pytest.fixture(scope="module")
def i2v(folders):
    return FAMILY.load("tiny-i2v", folders["i2v"], {})


def _direct(folder, cls_name, guidance=None, **kw):
    import torch
    import diffusers
    pipe = getattr(diffusers, cls_name).from_pretrained(folder, local_files_only=True)  # float32
    pipe.set_progress_bar_config(disable=True)
    if guidance is not None:
        pipe.guider = pipe.guider.new(guidance_scale=guidance)
    out = pipe(prompt=PROMPT, num_frames=9, num_inference_steps=2, generator=torch.Generator("cpu").manual_seed(0),
               output_type="np", **kw)
    return np.clip(np.rint(out.frames[0] * 255.0), 0, 255).astype(np.uint8)


def test_tiny_folder_is_small_and_deterministic(folders, tmp_path):
    for variant, folder in folders.items():
        total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert total < 5_000_000, (variant, total)
    again = tiny.build(tmp_path / "again", "t2v")
    for p in folders["t2v"].rglob("*"):
        if p.is_file():
            assert (again / p.relative_to(folders["t2v"])).read_bytes() == p.read_bytes(), p


def test_text_to_video_run_and_slice(t2v):
    seen = []
    video = run(t2v, TextToVideo(PROMPT, SamplingOptions(**FAST)), callback=lambda i, n: seen.append((i, n)))
    assert video.frames.shape == (9, 32, 32, 3) and video.frames.dtype == np.uint8
    assert video.fps == 24 and video.size == "32x32"
    assert video.params["guidance"] == 6.0 and video.params["steps"] == 2
    assert seen == [(1, 2), (2, 2)]  # progress by counted scheduler steps (the pipeline has no step callback)
    got = np.concatenate([video.frames[0, 0, :2].ravel(), video.frames[-1, -1, -2:].ravel()])
    np.testing.assert_allclose(got.astype(int), EXPECTED_T2V, atol=2)


def test_text_to_video_matches_pipeline(t2v, folders):
    video = run(t2v, TextToVideo(PROMPT, SamplingOptions(**FAST)))
    direct = _direct(folders["t2v"], "HunyuanVideo15Pipeline", height=32, width=32)
    assert np.array_equal(video.frames, direct)


def test_image_to_video_run_slice_and_parity(i2v, folders):
    from PIL import Image

    from openreel.media.frames import fit_frames
    video = run(i2v, ImageToVideo(PROMPT, _image(), SamplingOptions(guidance=3.0, **FAST)))
    assert video.frames.shape == (9, 32, 32, 3) and video.fps == 24 and video.params["guidance"] == 3.0
    got = np.concatenate([video.frames[0, 0, :2].ravel(), video.frames[-1, -1, -2:].ravel()])
    np.testing.assert_allclose(got.astype(int), EXPECTED_I2V, atol=2)
    image = Image.fromarray(fit_frames(_image()[None], 32, 32)[0])
    direct = _direct(folders["i2v"], "HunyuanVideo15ImageToVideoPipeline", guidance=3.0, image=image)
    assert np.array_equal(video.frames, direct)


def test_image_without_size_takes_its_bucket(i2v):
    video = run(i2v, ImageToVideo(PROMPT, _image(), SamplingOptions(frames=5, steps=1)))
    assert video.size == "32x32" and len(video.frames) == 5


def test_capabilities_follow_the_folder(t2v, i2v):
    t, i = t2v.capabilities(), i2v.capabilities()
    assert t.modes == ("text",) and i.modes == ("image",)
    assert t.fps == (24,) and t.frame_rule == (4, 1) and t.size_multiple == 16
    assert t.frames_for(5, 24) == 121 and t.frames_for(1, 24) == 25
    assert t.sizes == ("848x480", "480x848") and i.sizes == ("32x32",) and i.size_multiple == 0
    assert t.license == "tencent-hunyuan-community" and t.negative_prompt and t.guidance == 6.0
    assert t2v.identity().version == "HunyuanVideo-1.5-480p-t2v"
    assert i2v.identity().version == "HunyuanVideo-1.5-480p-i2v"


@pytest.mark.parametrize("target,t2v_sizes,i2v_sizes", [
    (640, ("848x480", "480x848"), ("848x480", "480x848", "640x640")),
    (960, ("1280x720", "720x1280"), ("1280x720", "720x1264", "960x960")),
])
def test_real_model_rules(tmp_path, target, t2v_sizes, i2v_sizes):
    """The real checkpoints' configs (16x VAE, patch 1, target_size 640 / 960) give the native sizes."""
    for cls_name, sizes in (("HunyuanVideo15Pipeline", t2v_sizes), ("HunyuanVideo15ImageToVideoPipeline", i2v_sizes)):
        folder = tmp_path / cls_name
        (folder / "vae").mkdir(parents=True)
        (folder / "transformer").mkdir()
        (folder / "model_index.json").write_text(json.dumps({"_class_name": cls_name}))
        (folder / "vae" / "config.json").write_text(json.dumps({"spatial_compression_ratio": 16,
                                                                "temporal_compression_ratio": 4}))
        (folder / "transformer" / "config.json").write_text(json.dumps({"patch_size": 1, "target_size": target}))
        assert FAMILY.capabilities("real", folder, {}).sizes == sizes
    for size in i2v_sizes:  # each offered I2V size is one the pipeline really generates, from some image size
        w, h = map(int, size.split("x"))
        assert bucket(*image_size_for(w, h, target, 16), target, 16) == (w, h)


def test_bucket_matches_diffusers():
    from diffusers.pipelines.hunyuan_video1_5.image_processor import generate_crop_size_list, get_closest_ratio
    for target in (32, 640, 960):
        crops = generate_crop_size_list(target, 16)
        ratios = np.array([round(h / w, 5) for h, w in crops])
        for w, h in ((848, 480), (480, 848), (1280, 720), (500, 500), (56, 40), (300, 1000)):
            hh, ww = get_closest_ratio(h, w, ratios, crops)[0]
            assert bucket(w, h, target, 16) == (ww, hh)


def test_refusals_name_the_model_and_rule(t2v, i2v):
    with pytest.raises(RequestError, match="mode image is not one model tiny-t2v has; its modes are text"):
        run(t2v, ImageToVideo(PROMPT, _image(), SamplingOptions(**FAST)))
    with pytest.raises(RequestError, match="mode text is not one model tiny-i2v has; its modes are image"):
        run(i2v, TextToVideo(PROMPT, SamplingOptions(**FAST)))
    with pytest.raises(RequestError, match="multiples of 16") as err:
        run(t2v, TextToVideo(PROMPT, SamplingOptions(size="40x40", frames=9)))
    assert err.value.field == "size" and "tiny-t2v" in str(err.value)
    with pytest.raises(RequestError, match="size must be one of 32x32 .*tiny-i2v"):
        run(i2v, ImageToVideo(PROMPT, _image(), SamplingOptions(size="64x32", frames=9)))
    with pytest.raises(RequestError, match=r"frames must be 4k\+1 .*tiny-t2v") as err:
        run(t2v, TextToVideo(PROMPT, SamplingOptions(size="32x32", frames=10)))
    assert err.value.field == "frames"
    with pytest.raises(RequestError, match="fps must be one of 24"):
        run(t2v, TextToVideo(PROMPT, SamplingOptions(size="32x32", fps=30)))


def test_detect(folders, tmp_path):
    assert FAMILY.detect(folders["t2v"]) and FAMILY.detect(folders["i2v"])
    other = tmp_path / "wan"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    assert not FAMILY.detect(other) and not FAMILY.detect(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a hunyuan folder"):
        HunyuanVideo15Backend.capabilities_of("x", other, {})


# Recorded from this adapter's first run (uint8): first frame's top-left 2 pixels, last frame's
# bottom-right 2 pixels.
EXPECTED_T2V = [154, 120, 137, 150, 131, 134, 151, 168, 57, 162, 163, 55]
EXPECTED_I2V = [159, 113, 151, 141, 117, 140, 130, 174, 106, 173, 171, 73]
