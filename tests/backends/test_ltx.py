"""The ltx family on a tiny random-weight LTX-Video folder: modes, a pinned output, parity with diffusers,
refusals, detection. Offline, CPU, 32x32 frames, 2 steps."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tiny_ltx  # noqa: E402
from openreel import runner  # noqa: E402
from openreel.backends import ltx  # noqa: E402
from openreel.backends.diffusers_base import to_uint8  # noqa: E402
from openreel.requests import (Blend, Extend, ImageToVideo, Remix, RequestError, SamplingOptions,  # noqa: E402
                               TextToVideo)

FAST = dict(size="32x32", frames=9, steps=2)


def clip(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.RandomState(seed).rand(n, 32, 32, 3) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tiny_ltx.build(tmp_path_factory.mktemp("ltx") / "tiny", "t2v")


@pytest.fixture(scope="module")
def backend(folder):
    return ltx.FAMILY.load("tiny", folder, {})


def test_capabilities_follow_the_folder(backend):
    caps = backend.capabilities()
    assert caps.modes == ("text", "image", "extend", "blend")
    assert caps.frame_rule == (8, 1) and caps.fps == (24, 25) and caps.size_multiple == 32
    assert caps.frames_for(5, 24) == 121 and caps.license == "apache-2.0"
    assert backend.identity().family == "ltx"


def test_modes_run_with_the_rules(backend):
    o = SamplingOptions(**FAST, seed=1)
    text = runner.run(backend, TextToVideo("a red ball moving right", o))
    assert text.frames.shape == (9, 32, 32, 3) and text.fps == 24 and text.frames.dtype == np.uint8
    image = runner.run(backend, ImageToVideo("a red ball", clip(1, 2)[0][:, :20], o))
    assert image.frames.shape == (9, 32, 32, 3)
    blend = runner.run(backend, Blend(clip(5, 3), clip(5, 4), "a red ball", options=o))
    assert blend.frames.shape == (9, 32, 32, 3)
    rate = runner.run(backend, TextToVideo("a red ball", SamplingOptions(size="32x32", seconds=1, fps=25, steps=2)))
    assert rate.frames.shape[0] == 25 and rate.fps == 25  # 1 s at 25 fps -> 25 frames (8k+1)


def test_extend_keeps_the_source_and_chains_windows(backend, monkeypatch):
    source = clip(12, 5)
    one = runner.run(backend, Extend(source, "a red ball", options=SamplingOptions(seconds=1, steps=2)))
    assert one.frames.shape == (12 + 24, 32, 32, 3) and one.params["size"] == "32x32"
    assert np.array_equal(one.frames[:12], source)
    monkeypatch.setattr(ltx, "MAX_FRAMES", 25)  # 9 context frames + 16 new: 24 new frames take two windows
    steps = []
    two = runner.run(backend, Extend(source, "a red ball", options=SamplingOptions(seconds=1, steps=2)),
                     callback=lambda i, n: steps.append((i, n)))
    assert two.frames.shape[0] == 36 and np.array_equal(two.frames[:12], source)
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_saved_slice(backend):
    video = runner.run(backend, TextToVideo("a blue square moving up", SamplingOptions(**FAST, seed=7)))
    got = video.frames[[0, 4, 8], 16, 16, 0].astype(int).tolist() + video.frames[8, 0, :4, 1].astype(int).tolist()
    expected = SLICE
    assert np.allclose(got, expected, atol=2), repr(got)


def test_parity_text(backend, folder):
    import torch
    from diffusers import LTXPipeline
    ours = runner.run(backend, TextToVideo("a red ball moving left", SamplingOptions(**FAST, seed=3))).frames
    pipe = LTXPipeline.from_pretrained(folder)
    theirs = pipe("a red ball moving left", height=32, width=32, num_frames=9, num_inference_steps=2,
                  guidance_scale=3.0, frame_rate=24, generator=torch.Generator("cpu").manual_seed(3),
                  output_type="np").frames
    assert np.array_equal(ours, to_uint8(theirs))


def test_parity_blend(backend, folder):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXConditionPipeline
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
    from PIL import Image
    a, b = clip(4, 8), clip(4, 9)
    ours = runner.run(backend, Blend(a, b, "a red ball", options=SamplingOptions(**FAST, seed=4))).frames
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(folder / "scheduler", use_dynamic_shifting=False)
    pipe = LTXConditionPipeline.from_pretrained(folder, scheduler=scheduler)
    conditions = [LTXVideoCondition(image=Image.fromarray(a[-1]), frame_index=0),
                  LTXVideoCondition(image=Image.fromarray(b[0]), frame_index=8)]
    theirs = pipe(conditions=conditions, prompt="a red ball", height=32, width=32, num_frames=9,
                  num_inference_steps=2, guidance_scale=3.0, frame_rate=24,
                  generator=torch.Generator("cpu").manual_seed(4), output_type="np").frames
    assert np.array_equal(ours, to_uint8(theirs))


def test_refusals_name_the_rule(backend):
    caps = backend.capabilities()
    with pytest.raises(RequestError, match="mode remix is not one model tiny has; its modes are text, image, extend, blend"):
        Remix(clip(5), "a red ball").check(caps)
    with pytest.raises(RequestError, match="multiples of 32") as e:
        TextToVideo("a red ball", SamplingOptions(size="48x32")).check(caps)
    assert e.value.field == "size" and "for tiny" in str(e.value)
    with pytest.raises(RequestError, match=r"8k\+1") as e:
        TextToVideo("a red ball", SamplingOptions(frames=10)).check(caps)
    assert e.value.field == "frames"
    with pytest.raises(RequestError, match="fps must be one of 24, 25"):
        TextToVideo("a red ball", SamplingOptions(fps=16)).check(caps)


def test_detect(folder, tmp_path):
    assert ltx.FAMILY.detect(folder)
    for kind, ours in (("LTXConditionPipeline", True), ("LTXImageToVideoPipeline", True), ("WanPipeline", False),
                       ("CogVideoXPipeline", False), ("LTX2Pipeline", False)):
        other = tmp_path / kind
        other.mkdir()
        (other / "model_index.json").write_text(json.dumps({"_class_name": kind}))
        assert ltx.FAMILY.detect(other) is ours, kind
    assert not ltx.FAMILY.detect(tmp_path / "missing")


def test_rules_of_real_configs(tmp_path):
    """0.9.0/0.9.1 VAEs imply 32x / 8x by patch 4 and three downsamplings; 0.9.5+ state them."""
    for vae in ({"patch_size": 4, "patch_size_t": 1, "spatio_temporal_scaling": [True, True, True, False]},
                {"patch_size": 4, "spatio_temporal_scaling": [True, True, True, True],
                 "spatial_compression_ratio": 32, "temporal_compression_ratio": 8}):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        (folder / "vae").mkdir(parents=True)
        (folder / "transformer").mkdir()
        (folder / "model_index.json").write_text(json.dumps({"_class_name": "LTXConditionPipeline"}))
        (folder / "vae" / "config.json").write_text(json.dumps(vae))
        (folder / "transformer" / "config.json").write_text(json.dumps({"patch_size": 1, "patch_size_t": 1}))
        caps = ltx.FAMILY.capabilities("ltx", folder, {})
        assert (caps.size_multiple, caps.frame_rule, caps.default_size) == (32, (8, 1), "768x512")
        assert caps.allows_size("1216x704") and not caps.allows_size("720x480")


SLICE = [132, 152, 143, 87, 161, 86, 135]  # recorded from this adapter (diffusers 0.42.1, torch CPU)
