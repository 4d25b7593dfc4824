"""The built-in model: a spacetime autoencoder and a diffusion transformer trained on OpenReel's
procedural world, run by VideoPipeline. Code outside this folder imports from here.

    pipeline.py     VideoPipeline: components in, __call__ in numbered steps, sample_window, chains
    modes.py        extend, loop, remix, blend, storyboard, long (a mixin of VideoPipeline)
    seams.py        the pixel heuristics that pick and mend draws; they hold in the built-in world only
    objects.py      segments the one object in a frame of the built-in world
    inputs.py       the input rules and their limits
    checkpoint.py   the weights folder: config.json + safetensors; the defaults without the weights
    backend.py      the Backend over VideoPipeline: capabilities from config.json, the one mode switch
"""

from ...media.frames import check_output_path, load_image, load_video
from .checkpoint import WEIGHTS_DIR, GenerationDefaults, load_defaults
from .inputs import (DEFAULT_STRENGTH, MAX_SECONDS, MIN_VIDEO_FRAMES, check_cards, check_chain_seconds, check_draws,
                     check_inputs, check_prompt, check_settings, check_strength)
from .pipeline import SamplingSettings, VideoPipeline
from .backend import FAMILY, BuiltinBackend, prompt_reading

__all__ = [
    "VideoPipeline", "SamplingSettings", "BuiltinBackend", "FAMILY", "prompt_reading", "GenerationDefaults", "load_defaults", "WEIGHTS_DIR",
    "DEFAULT_STRENGTH", "MAX_SECONDS", "MIN_VIDEO_FRAMES",
    # The checks and loaders cli.py runs before any work (requests.py will take these rules over).
    "check_inputs", "check_settings", "check_prompt", "check_chain_seconds", "check_strength", "check_draws",
    "check_cards", "check_output_path", "load_image", "load_video",
]
