"""Backends: every model family OpenReel can run, in one plain dict (as DiT's `DiT_models`).

    from openreel.backends import FAMILIES
    FAMILIES["wan"].capabilities("wan-1.3b", folder, {})    # without loading weights
    backend = FAMILIES["wan"].load("wan-1.3b", folder, {})   # base.Backend: capabilities, identity, run

Adding a family is one file beside this one and one entry below. The families' modules import
diffusers only when a model is loaded.
"""

from . import builtin, cogvideox, hunyuan, ltx, skyreels, wan

FAMILIES = {
    "builtin": builtin.FAMILY,
    "wan": wan.FAMILY,
    "ltx": ltx.FAMILY,
    "cogvideox": cogvideox.FAMILY,
    "hunyuan": hunyuan.FAMILY,
    "skyreels": skyreels.FAMILY,
}
