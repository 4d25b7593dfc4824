"""The cogvideox family on tiny random-weight CogVideoX folders (T2V and I2V): modes, a pinned output,
parity with diffusers, refusals, detection. Offline, CPU, 16x16 frames, 2 steps."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tiny_cogvideox  # noqa: E402
from openreel import runner  # noqa: E402
from openreel.backends import cogvideox  # noqa: E402
from openreel.backends.diffusers_base import to_uint8  # noqa: E402
from openreel.requests import (Edit, Extend, ImageToVideo, Remix, RequestError, SamplingOptions,  # noqa: E402
                               TextToVideo)

FAST = dict(size="16x16", seconds=1, steps=2)  # 8 fps -> 9 frames
TEXT_LEN = tiny_cogvideox.TEXT_LEN


def clip(n: int, seed: int = 0, side: int = 16) -> np.ndarray:
    return (np.random.RandomState(seed).rand(n, side, side, 3) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cogvideox")
    return {v: tiny_cogvideox.build(root / v, v) for v in tiny_cogvideox.VARIANTS}


@pytest.fixture(scope="module")
def t2v(folders):
    return cogvideox.FAMILY.load("tiny", folders["t2v"], {})


@pytest.fixture(scope="module")
def i2v(folders):
    return cogvideox.FAMILY.load("tiny-i2v", folders["i2v"], {})


def test_capabilities_follow_the_folder(t2v, i2v):
    caps = t2v.capabilities()
    assert caps.modes == ("text", "remix", "edit") and caps.fps == (8,) and caps.frame_rule == (4, 1)
    assert caps.size_multiple == 16 and caps.frames_for(6, 8) == 49 and caps.license == "cogvideox-license"
    icaps = i2v.capabilities()
    assert icaps.modes == ("image",) and icaps.sizes == ("16x16",) and icaps.size_multiple == 0
    assert icaps.seconds == (1,)  # learned position embeddings: the trained length (sample_frames 9) only
    assert t2v.identity().version == "CogVideoX1.0-T2V" and i2v.identity().version == "CogVideoX1.0-I2V"


def test_modes_run_with_the_rules(t2v, i2v):
    o = SamplingOptions(**FAST, seed=1)
    text = runner.run(t2v, TextToVideo("a red ball moving right", o))
    assert text.frames.shape == (9, 16, 16, 3) and text.fps == 8 and text.frames.dtype == np.uint8
    image = runner.run(i2v, ImageToVideo("a red ball", clip(1, 2, 24)[0][:, :20], o))
    assert image.frames.shape == (9, 16, 16, 3)
    remix = runner.run(t2v, Remix(clip(7, 3), "a blue ball", strength=0.6, options=SamplingOptions(steps=2)))
    assert remix.frames.shape == (7, 16, 16, 3)  # as long as the source (padded to 4k+1 inside, cut back)
    edit = runner.run(t2v, Edit(clip(12, 4, 32), "a blue ball", options=SamplingOptions(steps=2)))
    assert edit.frames.shape == (12, 16, 16, 3)  # a 32x32 source is fitted to the folder's size


def test_remix_longer_than_one_pass_goes_in_windows(t2v, monkeypatch):
    caps = t2v.capabilities()
    monkeypatch.setattr(type(t2v), "capabilities", lambda self: type(caps)(**{**caps.to_dict(), "seconds": (1,)}))
    out = runner.run(t2v, Remix(clip(20, 5), "a blue ball", options=SamplingOptions(steps=2)))
    assert out.frames.shape == (20, 16, 16, 3)  # windows of 9, 9, 2 frames


def test_saved_slice(t2v):
    video = runner.run(t2v, TextToVideo("a blue square moving up", SamplingOptions(**FAST, seed=7)))
    got = video.frames[[0, 4, 8], 8, 8, 0].astype(int).tolist() + video.frames[8, 0, :4, 1].astype(int).tolist()
    assert np.allclose(got, SLICE, atol=2), repr(got)


def test_parity_text(t2v, folders):
    import torch
    from diffusers import CogVideoXPipeline
    ours = runner.run(t2v, TextToVideo("a red ball moving left", SamplingOptions(**FAST, seed=3))).frames
    pipe = CogVideoXPipeline.from_pretrained(folders["t2v"])
    theirs = pipe("a red ball moving left", height=16, width=16, num_frames=9, num_inference_steps=2,
                  guidance_scale=6.0, max_sequence_length=TEXT_LEN, generator=torch.Generator("cpu").manual_seed(3),
                  output_type="np").frames
    assert np.array_equal(ours, to_uint8(theirs))


def test_parity_image_and_remix(i2v, t2v, folders):
    import torch
    from diffusers import CogVideoXImageToVideoPipeline, CogVideoXVideoToVideoPipeline
    from PIL import Image
    still, source = clip(1, 6)[0], clip(9, 7)
    ours = runner.run(i2v, ImageToVideo("a red ball", still, SamplingOptions(**FAST, seed=4))).frames
    pipe = CogVideoXImageToVideoPipeline.from_pretrained(folders["i2v"])
    theirs = pipe(image=Image.fromarray(still), prompt="a red ball", height=16, width=16, num_frames=9,
                  num_inference_steps=2, guidance_scale=6.0, max_sequence_length=TEXT_LEN,
                  generator=torch.Generator("cpu").manual_seed(4), output_type="np").frames
    assert np.array_equal(ours, to_uint8(theirs))
    ours = runner.run(t2v, Remix(source, "a red ball", strength=0.7, options=SamplingOptions(steps=2, seed=5))).frames
    pipe = CogVideoXVideoToVideoPipeline.from_pretrained(folders["t2v"])
    theirs = pipe(video=[Image.fromarray(f) for f in source], prompt="a red ball", height=16, width=16,
                  strength=0.7, num_inference_steps=2, guidance_scale=6.0, max_sequence_length=TEXT_LEN,
                  generator=torch.Generator("cpu").manual_seed(5), output_type="np").frames
    assert np.array_equal(ours, to_uint8(theirs))


def test_refusals_name_the_rule(t2v, i2v):
    caps, icaps = t2v.capabilities(), i2v.capabilities()
    with pytest.raises(RequestError, match="mode image is not one model tiny has; its modes are text, remix, edit"):
        ImageToVideo("a red ball", clip(1)[0]).check(caps)
    with pytest.raises(RequestError, match="mode text is not one model tiny-i2v has; its modes are image"):
        TextToVideo("a red ball").check(icaps)
    with pytest.raises(RequestError, match="mode extend is not one model tiny has"):
        Extend(clip(5), "a red ball").check(caps)
    with pytest.raises(RequestError, match="multiples of 16") as e:
        TextToVideo("a red ball", SamplingOptions(size="24x16")).check(caps)
    assert e.value.field == "size" and "for tiny" in str(e.value)
    with pytest.raises(RequestError, match="size must be one of 16x16 .* for tiny-i2v"):
        ImageToVideo("a red ball", clip(1)[0], SamplingOptions(size="32x32")).check(icaps)
    with pytest.raises(RequestError, match=r"4k\+1") as e:
        TextToVideo("a red ball", SamplingOptions(frames=8)).check(caps)
    assert e.value.field == "frames"


def test_detect(folders, tmp_path):
    assert cogvideox.FAMILY.detect(folders["t2v"]) and cogvideox.FAMILY.detect(folders["i2v"])
    for kind, ours in (("CogVideoXVideoToVideoPipeline", True), ("LTXPipeline", False), ("WanPipeline", False),
                       ("CogVideoXFunControlPipeline", False)):
        other = tmp_path / kind
        other.mkdir()
        (other / "model_index.json").write_text(json.dumps({"_class_name": kind}))
        assert cogvideox.FAMILY.detect(other) is ours, kind
    assert not cogvideox.FAMILY.detect(tmp_path / "missing")


def test_rules_of_real_configs(tmp_path):
    """CogVideoX-5b (1.0, RoPE), CogVideoX-5b-I2V (learned embeddings) and CogVideoX1.5-5B (temporal patch 2)."""
    vae = {"block_out_channels": [128, 256, 256, 512], "temporal_compression_ratio": 4}
    def caps(kind: str, tr: dict):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        for part, cfg in (("vae", vae), ("transformer", tr)):
            (folder / part).mkdir(parents=True)
            (folder / part / "config.json").write_text(json.dumps(cfg))
        (folder / "model_index.json").write_text(json.dumps({"_class_name": kind}))
        return cogvideox.FAMILY.capabilities("m", folder, {})
    base = {"sample_width": 90, "sample_height": 60, "sample_frames": 49, "patch_size": 2, "patch_size_t": None}
    t2v = caps("CogVideoXPipeline", base)
    assert t2v.sizes == ("720x480", "480x720") and t2v.fps == (8,) and t2v.frames_for(6, 8) == 49
    assert t2v.size_multiple == 16 and not t2v.allows_size("1360x768")
    i2v = caps("CogVideoXImageToVideoPipeline", {**base, "use_learned_positional_embeddings": True})
    assert i2v.sizes == ("720x480",) and i2v.seconds == (6,) and not i2v.allows_size("480x720")
    v15 = caps("CogVideoXPipeline", {**base, "sample_width": 170, "sample_height": 96, "sample_frames": 81,
                                     "patch_size_t": 2})
    assert v15.sizes[0] == "1360x768" and v15.fps == (16,) and v15.frame_rule == (16, 1)
    assert v15.frames_for(5, 16) == 81 and v15.frames_for(10, 16) == 161


SLICE = [142, 132, 142, 112, 116, 112, 113]  # recorded from this adapter (diffusers 0.42.1, torch CPU)
