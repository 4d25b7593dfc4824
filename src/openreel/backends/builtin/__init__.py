"""The built-in model: a spacetime autoencoder and a diffusion transformer trained on OpenReel's
procedural world, run by VideoPipeline. Code outside this folder imports from here.

    pipeline.py     VideoPipeline: components in, __call__ in numbered steps, sample_window, chains
    modes.py        extend, loop, remix, blend, storyboard, long (a mixin of VideoPipeline)
    seams.py        the pixel heuristics that pick and mend draws; they hold in the built-in world only
    inputs.py       the model's limits and its Capabilities from its defaults (the rules are requests.py's)
    checkpoint.py   the weights folder: config.json + safetensors; the defaults without the weights
    backend.py      the Backend over VideoPipeline: capabilities from config.json, the one mode switch
"""

from ...media.frames import check_output_path, load_image, load_video
from .checkpoint import WEIGHTS_DIR, GenerationDefaults, load_defaults
from .inputs import DEFAULT_STRENGTH, MAX_SECONDS, caps_from_defaults
from .pipeline import SamplingSettings, VideoPipeline, to_frames
from .backend import FAMILY, BuiltinBackend, prompt_reading

__all__ = [
    "VideoPipeline", "SamplingSettings", "BuiltinBackend", "FAMILY", "prompt_reading", "GenerationDefaults",
    "load_defaults", "WEIGHTS_DIR",
    "DEFAULT_STRENGTH", "MAX_SECONDS", "caps_from_defaults", "to_frames",
    # The input rules are requests.py's (Request.check); these read media and check an output path.
    "check_output_path", "load_image", "load_video",
]
