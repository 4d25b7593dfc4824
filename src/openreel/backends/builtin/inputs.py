"""The built-in model's limits, and its Capabilities read from its weights' defaults.

The input rules themselves are requests.py's, the same for CLI, HTTP and Python: VideoPipeline's
methods build a typed request and check it against `VideoPipeline.capabilities()`, which is
`caps_from_defaults` over the defaults in memory (the backend reads the same from config.json).
"""

from __future__ import annotations

from ...diffusion.flow import SAMPLERS
from ...requests import MODES, Capabilities
from .checkpoint import GenerationDefaults

LICENSE = "apache-2.0"  # weights trained by this project on its own CC0 world (weights/MODEL_CARD.md)
MAX_SECONDS = 120  # longest chained video (long, extend, storyboard); memory stays flat, time is linear
MAX_CHUNK = 32  # new frames per window at most: a window is then at most the 4 s clip the model knows
MAX_DRAWS = 8  # extend and blend: more costs time for little (4 already keeps the best of the spread)
# Reconstruction guidance on pinned frames (diffusion.flow.with_known). Without it the
# model draws its own layout beside a pinned frame and the video jumps at the seam.
GUIDE = 2.0
DEFAULT_STRENGTH = 0.9  # remix: measured best for this model (eval/modes.py): lower keeps the old colour or loses the object


def caps_from_defaults(name: str, d: GenerationDefaults, options: dict | None = None) -> Capabilities:
    """What the model with defaults `d` can do, named `name` in messages; options: {"license": ...}."""
    sizes = (d.size, *[s for s in d.sizes if s != d.size])
    fps = (d.default_fps, *[f for f in d.fps if f != d.default_fps])
    samplers = (d.sampler, *[s for s in SAMPLERS if s != d.sampler])
    return Capabilities(name=name, family="builtin", modes=MODES, sizes=sizes, seconds=tuple(d.seconds), fps=fps,
                        default_seconds=d.default_seconds, frame_rule=(d.default_fps, 0), max_seconds=MAX_SECONDS,
                        samplers=samplers, steps=d.steps, guidance=d.guidance, max_draws=MAX_DRAWS,
                        extend_backward=True, license=(options or {}).get("license") or LICENSE)
