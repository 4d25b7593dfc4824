"""Typed requests: the one rule set, the messages that name the field, and the job spec's round trip."""

from __future__ import annotations

import pytest

from openreel import requests as R
from openreel.requests import Capabilities, RequestError, SamplingOptions

CAPS = Capabilities(name="m", family="wan", modes=("text", "image", "remix", "extend", "storyboard", "long"),
                    sizes=("832x480", "480x832"), seconds=(1, 2, 3, 4, 5), fps=(16,), size_multiple=16,
                    min_side=16, max_side=1280, frame_rule=(4, 1), max_seconds=30, negative_prompt=True)


def refused(request) -> RequestError:
    with pytest.raises(RequestError) as e:
        request.check(CAPS)
    return e.value


@pytest.mark.parametrize("request_,field,words", [
    (R.TextToVideo(""), "prompt", "prompt must be a non-empty string"),
    (R.TextToVideo("x" * 32001), "prompt", "at most 32000 characters"),
    (R.TextToVideo("a", SamplingOptions(size="100x100")), "size", "multiples of 16"),
    (R.TextToVideo("a", SamplingOptions(size="1296x720")), "size", "from 16 to 1280"),
    (R.TextToVideo("a", SamplingOptions(seconds=6)), "seconds", "one of 1, 2, 3, 4, 5 for m"),
    (R.TextToVideo("a", SamplingOptions(fps=24)), "fps", "one of 16"),
    (R.TextToVideo("a", SamplingOptions(steps=0)), "steps", "from 1 to 200"),
    (R.TextToVideo("a", SamplingOptions(guidance=float("nan"))), "guidance", "from 0 to 20"),
    (R.TextToVideo("a", SamplingOptions(seed=-1)), "seed", "[0, 2^63)"),
    (R.TextToVideo("a", SamplingOptions(sampler="heun")), "sampler", "one of default"),
    (R.TextToVideo("a", SamplingOptions(frames=80)), "frames", "4k+1"),
    (R.TextToVideo("a", SamplingOptions(frames=81, seconds=5)), "frames", "not both"),
    (R.Loop("a"), "mode", "its modes are text, image, remix, extend, storyboard, long"),
    (R.Remix("v.mp4", "a", strength=1.5), "strength", "(0, 1]"),
    (R.Remix("v.mp4", "a", options=SamplingOptions(seconds=2)), "seconds", "comes from the video"),
    (R.Extend("v.mp4", "a", backward=True), "backward", "forward only"),
    (R.Extend("v.mp4", "a", draws=2), "draws", "from 1 to 1"),
    (R.Extend("v.mp4", "a", options=SamplingOptions(seconds=31)), "seconds", "from 1 to 30"),
    (R.Extend(None, "a"), "video", "video is required"),
    (R.Storyboard(()), "cards", "non-empty list"),
    (R.Storyboard((R.Card("a", 20), R.Card("", 2))), "cards[1].prompt", "non-empty"),
    (R.Storyboard((R.Card("a", 20), R.Card("b", 20))), "cards", "at most 30 seconds"),
])
def test_each_rule_names_its_field(request_, field, words):
    err = refused(request_)
    assert err.field == field and words in str(err), str(err)
    assert str(err).startswith(field.split("[")[0]) or field == "mode" and str(err).startswith("mode")


def test_what_the_rules_allow():
    for ok in (R.TextToVideo("a", SamplingOptions(size="1280x720", seconds=5, negative_prompt="blur")),
               R.TextToVideo("a", SamplingOptions(frames=81)), R.ImageToVideo("a", "img.png"),
               R.Extend("v.mp4", "a", options=SamplingOptions(seconds=30)),
               R.Storyboard((R.Card("a", 10), R.Card("b", 20))), R.Long("a", SamplingOptions(seconds=30))):
        ok.check(CAPS)
    assert CAPS.frames_for(5, 16) == 81 and CAPS.frames_for(1, 16) == 17 and CAPS.frames_for(0.1, 16) == 5


def test_what_a_model_lacks_is_refused_by_name():
    caps = Capabilities(name="b", family="builtin", modes=("text", "long"), sizes=("64x64",), seconds=(2,), fps=(8,),
                        max_seconds=60)
    with pytest.raises(RequestError, match="negative_prompt: model b does not take a negative prompt"):
        R.TextToVideo("a", SamplingOptions(negative_prompt="blur")).check(caps)
    with pytest.raises(RequestError, match="image: model b cannot start a long video from an image"):
        R.Long("a", image="first.png").check(caps)


@pytest.mark.parametrize("request_", [
    R.TextToVideo("a", SamplingOptions(size="832x480", seconds=2, seed=7, negative_prompt="no blur")),
    R.ImageToVideo("a", "asset:video_1/input.png", SamplingOptions(steps=4)),
    R.Extend("asset:video_1/native.mp4", "a", backward=True, draws=2, options=SamplingOptions(seconds=3)),
    R.Loop("a"), R.Remix("asset:video_1/native.mp4", "b", 0.7), R.Edit("asset:video_2/source.mp4", "c"),
    R.Blend("a.mp4", "b.mp4", "d", draws=1), R.Storyboard((R.Card("a", 2), R.Card("b", 3))),
    R.Long("a", SamplingOptions(seconds=12), image="asset:video_1/input.png"),
])
def test_a_job_spec_is_the_request_as_versioned_json(request_):
    import json
    spec = json.loads(json.dumps(R.to_spec(request_)))
    assert spec["version"] == R.SPEC_VERSION and spec["mode"] == request_.mode
    assert R.from_spec(spec) == request_


def test_specs_refuse_what_this_version_cannot_read():
    import numpy as np
    with pytest.raises(TypeError, match="stored reference"):
        R.to_spec(R.ImageToVideo("a", np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(RequestError, match="upgrade this worker"):
        R.from_spec({"version": R.SPEC_VERSION + 1, "mode": "text", "prompt": "a"})
    with pytest.raises(RequestError, match="unknown fields"):
        R.from_spec({"version": R.SPEC_VERSION, "mode": "text", "prompt": "a", "steps": 3})
