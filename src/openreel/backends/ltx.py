"""LTX-Video 0.9.x (Lightricks) through diffusers: text, image, extend and blend from one folder.

    openreel models add ltx --path ./LTX-Video        # a diffusers folder: model_index names LTXPipeline

LTXPipeline, LTXImageToVideoPipeline and LTXConditionPipeline take the same five components
(T5 encoder and tokenizer, the LTX video VAE, LTXVideoTransformer3DModel, a flow-matching
scheduler), so whichever of them a folder was saved from, it runs every mode:
  text    LTXPipeline
  image   LTXImageToVideoPipeline (the image is frame 0)
  extend  LTXConditionPipeline: the source's last frames are a video condition at frame 0, the
          window's later frames are new; longer extensions chain windows, each conditioned on the
          last frames made so far. The result is the source, then the new frames.
  blend   LTXConditionPipeline keyframes: A's last frame at frame 0, B's first at the last frame.
The model's rules (model card, diffusers docs): 24 or 25 fps, 8k+1 frames (121 = 5 s at 24 fps,
at most 257 in one pass), sides multiples of 32 (32x VAE, patch 1), native 768x512 and 704x480
and their portraits, up to 1216x704.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..media.frames import fit_frames
from ..requests import Request
from .base import read_json
from .diffusers_base import MAX_SECONDS, DiffusersBackend, family_of

_ALL_MODES = {"text": "LTXPipeline", "image": "LTXImageToVideoPipeline", "extend": "LTXConditionPipeline",
              "blend": "LTXConditionPipeline"}
MAX_FRAMES = 257  # the longest window the 0.9.x models make in one pass
CONTEXT_LATENTS = 3  # extend conditions on the source's last (3 - 1) * 8 + 1 = 17 frames (~0.7 s)
PIPE_MULTIPLE = 32  # the pipelines refuse sides that are not multiples of 32, whatever the VAE


def _pil(frames: np.ndarray) -> list:
    from PIL import Image
    return [Image.fromarray(np.ascontiguousarray(f)) for f in frames]


class LTXBackend(DiffusersBackend):
    family: ClassVar[str] = "ltx"
    version: ClassVar[str] = "LTX-Video-0.9"
    MODES: ClassVar[dict[str, dict[str, str]]] = {kind: _ALL_MODES for kind in
                                                   ("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline")}

    @staticmethod
    def factors(folder: Path) -> tuple[int, int]:
        """(spatial, temporal) compression of one transformer token, from the folder's configs."""
        vae = read_json(Path(folder) / "vae" / "config.json")
        tr = read_json(Path(folder) / "transformer" / "config.json")
        ups = 2 ** sum(bool(s) for s in vae.get("spatio_temporal_scaling", (True, True, True, False)))
        # 0.9.5+ VAEs state their ratios; older ones imply them by patch size and downsamplings
        spatial = vae.get("spatial_compression_ratio") or vae.get("patch_size", 4) * ups
        temporal = vae.get("temporal_compression_ratio") or vae.get("patch_size_t", 1) * ups
        return spatial * tr.get("patch_size", 1), temporal * tr.get("patch_size_t", 1)

    @classmethod
    def rules(cls, folder: Path) -> dict:
        spatial, temporal = cls.factors(folder)
        multiple = math.lcm(PIPE_MULTIPLE, spatial)
        return dict(sizes=("768x512", "512x768", "704x480", "480x704", "1216x704", "704x1216"),
                    size_multiple=multiple, min_side=multiple, max_side=1280,
                    seconds=tuple(range(1, 11)), default_seconds=5, fps=(24, 25), frame_rule=(temporal, 1),
                    steps=50, guidance=3.0, negative_prompt=True, max_seconds=MAX_SECONDS)

    # -- loading -------------------------------------------------------------

    def pipeline(self, mode: str):
        pipe = super().pipeline(mode)
        sched = pipe.scheduler
        # LTXConditionPipeline passes its own sigma schedule and no `mu`, which a scheduler with dynamic
        # shifting (the 0.9.0/0.9.1 folders') refuses; that pipeline gets an unshifted copy of it.
        if type(pipe).__name__ == "LTXConditionPipeline" and sched.config.get("use_dynamic_shifting"):
            pipe.scheduler = type(sched).from_config(sched.config, use_dynamic_shifting=False)
        return pipe

    # -- running -------------------------------------------------------------

    def run(self, request: Request, callback=None):
        self._progress = callback  # extend's windows report their steps as one job (mode_kwargs)
        return super().run(request, callback)

    def _size_like(self, request: Request, frames: np.ndarray, kw: dict) -> None:
        """Without a size asked for, a source video's own size where the model allows it."""
        h, w = frames.shape[1:3]
        if request.options.size is None and self.capabilities().allows_size(f"{w}x{h}"):
            kw["width"], kw["height"] = w, h

    def mode_kwargs(self, request: Request, kw: dict) -> dict:
        caps, o = self.capabilities(), request.options
        kw["frame_rate"] = o.fps or caps.fps[0]
        if read_json(self.folder / "vae" / "config.json").get("timestep_conditioning"):
            kw.update(decode_timestep=0.05, decode_noise_scale=0.025)  # 0.9.1+ decoders: the documented values
        mode = request.mode
        if mode == "image":
            kw["image"] = _pil(fit_frames(np.asarray(request.image)[None], kw["width"], kw["height"]))[0]
        elif mode == "blend":
            self._size_like(request, request.video_a, kw)
            w, h, last = kw["width"], kw["height"], kw["num_frames"] - 1
            a, b = fit_frames(request.video_a[-1:], w, h), fit_frames(request.video_b[:1], w, h)
            kw["conditions"] = self.conditions([(_pil(a)[0], None, 0), (_pil(b)[0], None, last)])
        elif mode == "extend":
            self._size_like(request, request.video, kw)
            kw["_source"] = fit_frames(request.video, kw["width"], kw["height"])
            kw["_new"] = o.frames or round((o.seconds or caps.default_seconds) * kw["frame_rate"])
        return kw

    @staticmethod
    def conditions(items: list[tuple[Any, Any, int]]) -> list:
        """LTXVideoCondition(image=..., video=..., frame_index=...) for each (image, video, index)."""
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
        return [LTXVideoCondition(image=image, video=video, frame_index=index) for image, video, index in items]

    def call(self, mode: str, kw: dict) -> np.ndarray:
        if mode != "extend":
            return super().call(mode, kw)
        source, need = kw.pop("_source"), kw.pop("_new")
        a = self.capabilities().frame_rule[0]
        context = min((len(source) - 1) // a * a + 1, (CONTEXT_LATENTS - 1) * a + 1)  # a k + 1 source frames
        per_window = (MAX_FRAMES - context) // a * a
        plan = []  # new frames per window, each a multiple of a so that every window is a k + 1 frames
        while sum(plan) < need:
            plan.append(min(per_window, math.ceil((need - sum(plan)) / a) * a))
        steps, progress = kw["num_inference_steps"], getattr(self, "_progress", None)
        made = [source]
        for j, new in enumerate(plan):
            if progress is not None:
                kw["callback_on_step_end"] = lambda pipe, i, t, tensors, j=j: progress(j * steps + i + 1,
                                                                                       steps * len(plan)) or {}
            tail = np.concatenate(made)[-context:]
            window = dict(kw, num_frames=context + new, conditions=self.conditions([(None, _pil(tail), 0)]))
            made.append(super().call(mode, window)[context:])
        return np.concatenate(made)[:len(source) + need]


FAMILY = family_of(LTXBackend, "LTX-Video 0.9.x (Lightricks): text, image, extend and blend (keyframes), "
                               "24 fps, 8k+1 frames, sides multiples of 32")
