"""CogVideoX 1.0 and 1.5 (THUDM / zai-org) through diffusers.

    openreel models add cogvideox-5b --path ./CogVideoX-5b      # model_index names CogVideoXPipeline

Text-to-video and image-to-video are separate checkpoints (the I2V transformer takes twice the
latent channels: noise and the image's latents), so each folder kind runs its own modes:
  CogVideoXPipeline folder              text; remix and edit by CogVideoXVideoToVideoPipeline
                                        (SDEdit with `strength`), which shares its components
  CogVideoXImageToVideoPipeline folder  image (the image is frame 0)
Rules (model cards, diffusers docs), read from the folder's configs where they differ:
  1.0: 8 fps, 4k+1 frames (49 = 6 s, the trained length), 720x480 (VAE 8x, patch 2: multiples of 16);
       the 5b-I2V has learned position embeddings, so only its trained size and length.
  1.5 (the transformer has a temporal patch, patch_size_t): 16 fps, 16k+1 frames (81 = 5 s,
       161 = 10 s), 1360x768.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..media.frames import fit_frames
from ..requests import Request
from .base import read_json
from .diffusers_base import DiffusersBackend, family_of

_TEXT = {"text": "CogVideoXPipeline", "remix": "CogVideoXVideoToVideoPipeline",
         "edit": "CogVideoXVideoToVideoPipeline"}
DEFAULT_STRENGTH = 0.8  # CogVideoXVideoToVideoPipeline's own default


def _pil(frames: np.ndarray) -> list:
    from PIL import Image
    return [Image.fromarray(np.ascontiguousarray(f)) for f in frames]


class CogVideoXBackend(DiffusersBackend):
    family: ClassVar[str] = "cogvideox"
    MODES: ClassVar[dict[str, dict[str, str]]] = {
        "CogVideoXPipeline": _TEXT,
        "CogVideoXVideoToVideoPipeline": _TEXT,  # the same components as a text folder
        "CogVideoXImageToVideoPipeline": {"image": "CogVideoXImageToVideoPipeline"},
    }

    @staticmethod
    def configs(folder: Path) -> tuple[dict, dict]:
        return (read_json(Path(folder) / "vae" / "config.json"),
                read_json(Path(folder) / "transformer" / "config.json"))

    @classmethod
    def rules(cls, folder: Path) -> dict:
        vae, tr = cls.configs(folder)
        spatial = 2 ** (len(vae.get("block_out_channels", (128, 256, 256, 512))) - 1)  # as the pipelines compute it
        temporal = int(vae.get("temporal_compression_ratio", 4))
        v15 = tr.get("patch_size_t") is not None
        fps = 16 if v15 else 8
        w, h = tr.get("sample_width", 90) * spatial, tr.get("sample_height", 60) * spatial
        # 1.5 was trained on 16k+1 frames (81, 161); the pipelines pad its latents to the temporal patch
        rule = (16, 1) if v15 else (temporal, 1)
        if tr.get("use_learned_positional_embeddings"):
            # position embeddings learned for one size and length (5b-I2V): those only
            trained = math.ceil((tr.get("sample_frames", 49) - 1) / fps)
            return dict(sizes=(f"{w}x{h}",), seconds=(trained,), default_seconds=trained, fps=(fps,),
                        frame_rule=rule, steps=50, guidance=6.0, negative_prompt=True)
        multiple = spatial * tr.get("patch_size", 2)
        longest = 10 if v15 else 6
        sizes = tuple(dict.fromkeys((f"{w}x{h}", f"{h}x{w}")))
        return dict(sizes=sizes, size_multiple=multiple, min_side=multiple, max_side=max(w, h),
                    seconds=tuple(range(1, longest + 1)), default_seconds=5 if v15 else 6, fps=(fps,),
                    frame_rule=rule, steps=50, guidance=6.0, negative_prompt=True)

    @property
    def version(self) -> str:  # type: ignore[override]
        _, tr = self.configs(self.folder)
        kind = "I2V" if tr.get("in_channels", 16) > tr.get("out_channels", 16) else "T2V"
        return f"CogVideoX{'1.5' if tr.get('patch_size_t') is not None else '1.0'}-{kind}"

    # -- running -------------------------------------------------------------

    def mode_kwargs(self, request: Request, kw: dict) -> dict:
        _, tr = self.configs(self.folder)
        # the text length the transformer's position embeddings were made for (226 in real folders)
        kw["max_sequence_length"] = tr.get("max_text_seq_length", 226)
        mode = request.mode
        if mode == "image":
            kw["image"] = _pil(fit_frames(np.asarray(request.image)[None], kw["width"], kw["height"]))[0]
        elif mode in ("remix", "edit"):
            source = request.video
            h, w = source.shape[1:3]
            if request.options.size is None and self.capabilities().allows_size(f"{w}x{h}"):
                kw["width"], kw["height"] = w, h
            kw["_source"] = fit_frames(source, kw["width"], kw["height"])
            kw["strength"] = DEFAULT_STRENGTH if request.strength is None else request.strength
        return kw

    def call(self, mode: str, kw: dict) -> np.ndarray:
        if mode not in ("remix", "edit"):
            return super().call(mode, kw)
        # SDEdit over the whole source, in windows of at most one pass. Each window is padded with its
        # last frame to a length the VAE and transformer take (4k+1 frames; on 1.5 an even number of
        # latent frames, which the video-to-video pipeline does not pad itself), then cut back.
        source = kw.pop("_source")
        caps = self.capabilities()
        _, tr = self.configs(self.folder)
        t_patch = tr.get("patch_size_t") or 1
        a = caps.frame_rule[0] if t_patch == 1 else 4
        longest = caps.frames_for(max(caps.seconds), caps.fps[0])
        out = []
        for start in range(0, len(source), longest):
            part = source[start:start + longest]
            latents = math.ceil((len(part) - 1) / a) + 1
            latents += (-latents) % t_patch
            padded = np.concatenate([part, np.repeat(part[-1:], (latents - 1) * a + 1 - len(part), axis=0)])
            out.append(super().call(mode, dict(kw, video=_pil(padded)))[:len(part)])
        return np.concatenate(out)


FAMILY = family_of(CogVideoXBackend, "CogVideoX 1.0 / 1.5 (THUDM): text, remix and edit from a T2V folder, "
                                     "image from an I2V folder; 8 fps 720x480 (1.0), 16 fps 1360x768 (1.5)")
