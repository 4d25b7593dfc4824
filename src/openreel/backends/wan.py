"""Wan 2.1 / 2.2 (Wan-AI, Apache-2.0) through diffusers: text, image, first-last-frame, VACE and SDEdit remix.

One folder kind per diffusers pipeline class (model_index.json's _class_name), and each mode on the
mechanism Wan itself has for it:

  WanPipeline (T2V 1.3B/14B, 2.2 T2V-A14B)    text; remix/edit by WanVideoToVideoPipeline (SDEdit, strength);
                                             2.2 TI2V-5B (expand_timesteps) also image, by the I2V pipeline
  WanImageToVideoPipeline (I2V, 2.2 I2V-A14B) image (frame 0 as the latent condition [+ CLIP embedding in 2.1])
  ... FLF2V-14B (transformer pos_embed_seq_len) blend only: its image embedding is a (first, last) pair,
                                             so it needs both ends (last_image) and cannot take one image
  WanVACEPipeline (VACE 1.3B/14B)             text; image, extend and blend as a conditioning video + mask
                                             (black mask = keep these pixels, white = generate)

Wan 2.2's two experts (transformer + transformer_2, switched at boundary_ratio) load through the same
classes: nothing here depends on them. Facts: 16 fps, 4k+1 frames (81 = 5 s), 832x480 / 480x832 and
1280x720 / 720x1280 sizes, sides a multiple of VAE factor (8) x patch (2) = 16; TI2V-5B is 24 fps,
1280x704, multiple 32 (its VAE compresses 16x).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..media.frames import fit_frames
from ..requests import Request
from .base import read_json
from .diffusers_base import MAX_SECONDS, DiffusersBackend, family_of, folder_class, to_uint8

SIZES_480P = ("832x480", "480x832")
SIZES_720P = ("1280x720", "720x1280")
VACE_CONTEXT = 16  # source frames a VACE extension sees (a multiple of 4, so context + 4k+1 new = 4k'+1)


def fit(frames: np.ndarray, width: int, height: int) -> list:
    """(T, H, W, 3) or (H, W, 3) uint8 -> PIL frames scaled to cover width x height and centre-cropped."""
    from PIL import Image
    frames = frames[None] if frames.ndim == 3 else frames
    return [Image.fromarray(np.ascontiguousarray(f)) for f in fit_frames(frames, width, height)]


def vace_condition(known: dict[int, object], n: int, width: int, height: int) -> tuple[list, list]:
    """VACE's video + mask: frames in `known` (index -> PIL) are kept (mask black), the rest generated
    (mid-gray pixels, which are 0 in the model's [-1, 1] range, under a white mask)."""
    from PIL import Image
    gray, keep, make = Image.new("RGB", (width, height), (128, 128, 128)), Image.new("L", (width, height), 0), \
        Image.new("L", (width, height), 255)
    video = [known.get(i, gray) for i in range(n)]
    mask = [keep if i in known else make for i in range(n)]
    return video, mask


class WanBackend(DiffusersBackend):
    family = "wan"
    MODES = {
        "WanPipeline": {"text": "WanPipeline", "remix": "WanVideoToVideoPipeline", "edit": "WanVideoToVideoPipeline"},
        "WanImageToVideoPipeline": {"image": "WanImageToVideoPipeline"},
        "WanVACEPipeline": {"text": "WanVACEPipeline", "image": "WanVACEPipeline", "extend": "WanVACEPipeline",
                            "blend": "WanVACEPipeline"},
    }

    def __init__(self, name: str, folder: Path, options: dict | None = None):
        super().__init__(name, folder, options)
        self.version = self.version_of(self.folder)

    # -- the folder's kind, read from its configs ------------------------------------

    @staticmethod
    def version_of(folder: Path) -> str:
        index = read_json(Path(folder) / "model_index.json")
        two = index.get("boundary_ratio") is not None or index.get("expand_timesteps")
        kind = {"WanPipeline": "TI2V" if index.get("expand_timesteps") else "T2V", "WanVACEPipeline": "VACE",
                "WanImageToVideoPipeline": "FLF2V" if WanBackend.first_last(folder) else "I2V"}
        return f"Wan{'2.2' if two else '2.1'}-{kind.get(folder_class(folder), '?')}"

    @staticmethod
    def first_last(folder: Path) -> bool:
        """FLF2V's transformer embeds the two CLIP images with a learned position (pos_embed_seq_len)."""
        return read_json(Path(folder) / "transformer" / "config.json").get("pos_embed_seq_len") is not None

    @classmethod
    def modes_of(cls, folder: Path) -> dict[str, str]:
        modes = dict(super().modes_of(folder))
        kind, index = folder_class(folder), read_json(Path(folder) / "model_index.json")
        if kind == "WanPipeline" and index.get("expand_timesteps"):
            modes["image"] = "WanImageToVideoPipeline"  # TI2V-5B: one model, text or image
        if kind == "WanImageToVideoPipeline" and cls.first_last(folder):
            modes = {"blend": "WanImageToVideoPipeline"}
        return modes

    @classmethod
    def rules(cls, folder: Path) -> dict:
        folder = Path(folder)
        vae = read_json(folder / "vae" / "config.json")
        t = read_json(folder / "transformer" / "config.json") or read_json(folder / "transformer_2" / "config.json")
        spatial, temporal = int(vae.get("scale_factor_spatial", 8)), int(vae.get("scale_factor_temporal", 4))
        multiple = spatial * int((t.get("patch_size") or (1, 2, 2))[1])
        ti2v = bool(read_json(folder / "model_index.json").get("expand_timesteps"))
        if ti2v:  # Wan2.2-TI2V-5B: 720p at 24 fps, 121 frames
            sizes, fps = ("1280x704", "704x1280"), 24
        else:  # a "720P" folder (I2V-14B-720P, FLF2V-14B-720P) leads with 720p; others with 480p
            sizes, fps = (SIZES_720P + SIZES_480P if "720" in folder.name else SIZES_480P + SIZES_720P), 16
        return dict(sizes=sizes, seconds=(1, 2, 3, 4, 5), fps=(fps,), default_seconds=5, size_multiple=multiple,
                    min_side=multiple, max_side=1280, frame_rule=(temporal, 1), steps=50, guidance=5.0,
                    negative_prompt=True, max_seconds=MAX_SECONDS if folder_class(folder) == "WanVACEPipeline" else 0)

    # -- each mode's arguments ---------------------------------------------------------

    def mode_kwargs(self, request: Request, kw: dict) -> dict:
        mode, w, h, n = request.mode, kw["width"], kw["height"], kw["num_frames"]
        vace = folder_class(self.folder) == "WanVACEPipeline"
        video = getattr(request, "video", None)
        if video is not None and request.options.size is None \
                and self.capabilities().allows_size(f"{video.shape[2]}x{video.shape[1]}"):
            w, h = kw["width"], kw["height"] = video.shape[2], video.shape[1]  # keep a native source's size
        if mode in ("remix", "edit"):
            a, b = self.capabilities().frame_rule
            keep = len(video) - (len(video) - b) % a  # the VAE codes 4k+1 frames: drop the odd tail
            kw.update(video=fit(video[:keep], w, h), num_frames=keep,
                      strength=0.8 if request.strength is None else float(request.strength))
        elif mode == "image" and vace:
            kw["video"], kw["mask"] = vace_condition({0: fit(request.image, w, h)[0]}, n, w, h)
        elif mode == "image":
            kw["image"] = fit(request.image, w, h)[0]
        elif mode == "blend" and vace:
            a, b = fit(request.video_a[-1], w, h)[0], fit(request.video_b[0], w, h)[0]
            kw["video"], kw["mask"] = vace_condition({0: a, n - 1: b}, n, w, h)
        elif mode == "blend":
            kw["image"], kw["last_image"] = fit(request.video_a[-1], w, h)[0], fit(request.video_b[0], w, h)[0]
        elif mode == "extend":
            kw["source"] = request.video  # call() windows over it; the pipeline never sees this key
        return kw

    def call(self, mode: str, kw: dict) -> np.ndarray:
        if mode != "extend":
            return super().call(mode, kw)
        # VACE extension: each window keeps the last VACE_CONTEXT frames made so far (mask black) and
        # generates up to the model's 81-frame window after them, until the asked-for frames exist.
        w, h, wanted = kw["width"], kw["height"], kw["num_frames"]
        source = kw.pop("source")
        made = np.stack([np.asarray(f) for f in fit(source, w, h)])
        window = self.capabilities().frames_for(max(self.capabilities().seconds), self.capabilities().fps[0])
        added = 0
        while added < wanted:
            context = min(VACE_CONTEXT, (len(made) // 4) * 4)
            new = min(wanted - added, window - context)
            new += (1 - new) % 4  # 4k+1 new frames, so context + new is 4k+1
            known = {i: f for i, f in enumerate(fit(made[len(made) - context:], w, h))} if context else {}
            kw["video"], kw["mask"] = vace_condition(known, context + new, w, h)
            out = super().call(mode, dict(kw, num_frames=context + new))
            made = np.concatenate([made, out[context:]])
            added += new
        return to_uint8(made[: len(made) - (added - wanted)])


FAMILY = family_of(WanBackend, "Wan 2.1 / 2.2 (Wan-AI): text, image, first-last-frame, VACE extend and blend, remix")
