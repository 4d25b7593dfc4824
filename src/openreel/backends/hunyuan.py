"""HunyuanVideo 1.5 (Tencent, 8.3B DiT) through diffusers: text -> video and image -> video.

Facts of the real model (tencent/HunyuanVideo-1.5, hunyuanvideo-community/HunyuanVideo-1.5-*):
24 fps, 121 frames (5 s) native, frame counts 4k+1 (the VAE compresses time 4x, keeping frame 0);
a 16x spatial VAE with transformer patch 1, so sides are multiples of 16; two checkpoint tiers,
480p (848x480 / 480x848, transformer target_size 640) and 720p (1280x720 / 720x1280, target_size
960); 50 steps; classifier-free guidance with a negative prompt. T2V and I2V are separate
checkpoints: an I2V folder (SigLIP image encoder, image-conditioned transformer) cannot run
without an image, so each folder kind claims one mode.

Two ways its diffusers pipelines differ from the others, handled in `call`:
- guidance is a `guider` component (ClassifierFreeGuidance), not a guidance_scale argument: the
  request's guidance replaces the guider with a copy at that scale (`guider.new`);
- there is no callback_on_step_end: progress is reported by counting scheduler steps (the
  scheduler's `step` runs once per denoising step), so the callback still sees every step.
Image -> video takes no height/width: the pipeline picks a resolution bucket (target_size area,
multiples of 16) from the image's aspect. So the image is first fitted (cover + centre crop) to the
asked size, which is one of the buckets; with no size asked, the image's own aspect picks its bucket.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ..requests import Request
from .base import read_json
from .diffusers_base import DiffusersBackend, family_of, folder_class

T2V, I2V = "HunyuanVideo15Pipeline", "HunyuanVideo15ImageToVideoPipeline"
FPS = 24
NATIVE_FRAMES = 121  # 5 s at 24 fps
TIERS = {  # native T2V sizes by the transformer's target_size (the bucket base)
    "480p": ("848x480", "480x848"),
    "720p": ("1280x720", "720x1280"),
}
NATIVE_ASPECTS = ((16, 9), (9, 16), (1, 1))  # (w, h): the I2V buckets offered as named sizes
MAX_SIDE = 1280


def _configs(folder: Path) -> tuple[dict, dict]:
    folder = Path(folder)
    return read_json(folder / "vae" / "config.json"), read_json(folder / "transformer" / "config.json")


def tier(target_size: int) -> str:
    return "720p" if target_size >= 960 else "480p"


def bucket(width: int, height: int, target_size: int, multiple: int) -> tuple[int, int]:
    """The (width, height) the I2V pipeline generates for an image of this aspect: upstream's bucket rule
    (hunyuan_video1_5/image_processor.py: sizes of about target_size**2 pixels in steps of the VAE factor,
    aspect at most 4:1, the nearest aspect on the taller side). Kept here so capabilities need no diffusers."""
    n, sizes = round((target_size / multiple) ** 2), []
    a, b = n, 1  # upstream treats each pair as (height, width)
    while a > 0:
        if max(a, b) / min(a, b) <= 4.0:
            sizes.append((a * multiple, b * multiple))
        if (b + 1) * a <= n:
            b += 1
        else:
            a -= 1
    aspect = float(height) / float(width)
    diffs = [(i, round(h / w, 5) - aspect) for i, (h, w) in enumerate(sizes)]
    diffs = [d for d in diffs if (d[1] <= 0 if aspect >= 1 else d[1] >= 0)]
    h, w = sizes[min(diffs, key=lambda d: abs(d[1]))[0]]
    return int(w), int(h)


def image_size_for(width: int, height: int, target_size: int, multiple: int) -> tuple[int, int] | None:
    """An image size the pipeline buckets to exactly width x height, or None.

    Usually the bucket itself, but upstream compares aspects rounded to 5 decimals, so some buckets
    (e.g. 480x832 at target 640) map to a neighbour; an image a few pixels taller or wider lands on
    them, and the pipeline's own cover-and-crop takes it back to the bucket."""
    for d in range(0, 64):
        for w, h in ((width, height + d), (width + d, height)):
            if bucket(w, h, target_size, multiple) == (width, height):
                return w, h
    return None


class HunyuanVideo15Backend(DiffusersBackend):
    CACHES = ()  # diffusers 0.42.1 registers no cache hook for this transformer (docs/decisions/backends.md)
    family = "hunyuan"
    MODES = {
        T2V: {"text": T2V},
        I2V: {"image": I2V},  # its __call__ requires an image: no text-only calls
    }

    def __init__(self, name: str, folder: Path, options: dict | None = None):
        super().__init__(name, folder, options)
        _, tcfg = _configs(self.folder)
        kind = "i2v" if folder_class(self.folder) == I2V else "t2v"
        self.version = f"HunyuanVideo-1.5-{tier(int(tcfg.get('target_size', 640)))}-{kind}"

    @classmethod
    def rules(cls, folder: Path) -> dict:
        vae, tcfg = _configs(folder)
        spatial = int(vae.get("spatial_compression_ratio", 16))
        temporal = int(vae.get("temporal_compression_ratio", 4))
        patch = tcfg.get("patch_size", 1)
        multiple = spatial * int(patch[-1] if isinstance(patch, (list, tuple)) else patch)
        target = int(tcfg.get("target_size", 640))
        guidance = float(read_json(Path(folder) / "guider" / "config.json").get("guidance_scale", 6.0))
        rules = dict(seconds=(1, 2, 3, 4, 5), default_seconds=NATIVE_FRAMES // FPS, fps=(FPS,),
                     frame_rule=(temporal, 1), steps=50, guidance=guidance, negative_prompt=True)
        if folder_class(folder) == I2V:
            # I2V takes no size: only the pipeline's buckets (about target_size**2 pixels, sides in
            # steps of the VAE factor) come out at the size asked, so only they are offered.
            found = []
            for w, h in NATIVE_ASPECTS:
                b = bucket(w, h, target, spatial)
                if b not in found and image_size_for(*b, target, spatial):
                    found.append(b)
            return dict(rules, sizes=tuple(f"{w}x{h}" for w, h in found))
        return dict(rules, sizes=TIERS[tier(target)], size_multiple=multiple, min_side=multiple, max_side=MAX_SIDE)

    def mode_kwargs(self, request: Request, kw: dict) -> dict:
        if request.mode != "image":
            return kw
        from PIL import Image

        from ..media.frames import fit_frames
        image = np.asarray(request.image)
        vae, tcfg = _configs(self.folder)
        target, spatial = int(tcfg.get("target_size", 640)), int(vae.get("spatial_compression_ratio", 16))
        if request.options.size is None:  # no size asked: the image's own aspect picks the bucket, as upstream
            kw["width"], kw["height"] = bucket(image.shape[1], image.shape[0], target, spatial)
        w, h = image_size_for(kw["width"], kw["height"], target, spatial) or (kw["width"], kw["height"])
        kw["image"] = Image.fromarray(fit_frames(image[None], w, h)[0])
        return kw

    def call(self, mode: str, kw: dict) -> np.ndarray:
        pipe = self.pipeline(mode)
        scale = float(kw["guidance_scale"])
        if float(pipe.guider.guidance_scale) != scale:
            pipe.guider = pipe.guider.new(guidance_scale=scale)
        on_step = kw.pop("callback_on_step_end", None)
        if on_step is None:
            return super().call(mode, kw)
        step, count = pipe.scheduler.step, itertools.count()

        def counted(*args, **kwargs):  # one scheduler step per denoising step (FlowMatch Euler is first order)
            out = step(*args, **kwargs)
            on_step(pipe, next(count), None, {})
            return out

        pipe.scheduler.step = counted
        try:
            return super().call(mode, kw)
        finally:
            del pipe.scheduler.step  # back to the class's method


FAMILY = family_of(HunyuanVideo15Backend, "HunyuanVideo 1.5 (Tencent): text or image -> video, 480p/720p at 24 fps")
