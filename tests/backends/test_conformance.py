"""Every backend, the built-in one included: each mode it claims works, each mode it does not is refused.

The same requests go to every family's tiny folders (diffusers' PipelineTesterMixin idea): a
family is done when it passes here, whatever its own tests add.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import cases, tiny
from openreel import requests as R
from openreel.requests import MODES, RequestError, parse_size
from openreel.runner import run


def sample_request(mode: str, caps: R.Capabilities, size: str, seconds: int, fps: int) -> R.Request:
    """The smallest request of each mode the model's rules allow."""
    w, h = parse_size(size)
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (caps.frames_for(seconds, fps), h, w, 3), dtype=np.uint8)
    image = video[0]
    o = R.SamplingOptions(size=size, fps=fps, steps=2, seed=1)
    one = R.SamplingOptions(size=size, fps=fps, steps=2, seed=1, seconds=seconds)
    draws = 1 if caps.max_draws > 1 else None
    return {
        "text": R.TextToVideo("a red ball moving right", one),
        "image": R.ImageToVideo("a red ball moving right", image, one),
        "extend": R.Extend(video, "a red ball moving up", draws=draws, options=R.SamplingOptions(**{**o.__dict__, "seconds": 1})),
        "loop": R.Loop("a blue ball moving left", one),
        "remix": R.Remix(video, "a blue ball moving right", 0.6, o),
        "edit": R.Edit(video, "a green ball moving right", 0.6, o),
        "blend": R.Blend(video, video[::-1].copy(), "a red ball moving left", draws, one),
        "storyboard": R.Storyboard((R.Card("a red ball moving right", 1), R.Card("a red ball growing", 1)), o),
        "long": R.Long("a white square moving down", R.SamplingOptions(**{**o.__dict__, "seconds": 2})),
    }[mode]


def check_backend(backend, size: str, seconds: int, fps: int) -> None:
    caps = backend.capabilities()
    assert set(caps.modes) <= set(MODES) and caps.modes, caps.modes
    w, h = parse_size(size)
    for mode in MODES:
        request = sample_request(mode, caps, size, seconds, fps)
        if mode in caps.modes:
            video = run(backend, request)
            assert video.frames.dtype == np.uint8 and video.frames.shape[1:] == (h, w, 3), (mode, video.frames.shape)
            assert len(video.frames) >= 2 and video.fps == fps, (mode, len(video.frames), video.fps)
            assert video.params.get("mode") == mode or (mode, video.params.get("mode")) == ("text", None)
        else:
            with pytest.raises(RequestError) as refused:
                run(backend, request)
            assert refused.value.field == "mode"
            assert caps.name in str(refused.value) and ", ".join(caps.modes) in str(refused.value)


@pytest.mark.parametrize("family,variant", cases())
def test_a_diffusers_family_runs_what_it_claims_and_refuses_the_rest(family, variant, tiny_folder):
    from openreel.backends import FAMILIES
    folder = tiny_folder(family, variant)
    assert FAMILIES[family].detect(folder)
    backend = FAMILIES[family].load(f"tiny-{family}-{variant}", folder, {})
    t = tiny(family)
    check_backend(backend, t.SIZE, t.SECONDS, t.FPS)
    ident = backend.identity()
    assert ident.family == family and len(ident.weights_sha256) == 64 and ident.license


def test_the_builtin_family_runs_every_mode():
    from openreel.backends.builtin import BuiltinBackend
    from test_pipeline import tiny_pipeline
    backend = BuiltinBackend("tiny-builtin", pipeline=tiny_pipeline())
    assert backend.capabilities().modes == MODES
    check_backend(backend, "64x64", 1, 8)
