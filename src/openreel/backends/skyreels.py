"""SkyReels-V2 diffusion forcing (Skywork) through diffusers: text, image, blend, extend and long videos.

Diffusion forcing gives every latent frame its own noise level, so a model can denoise new frames while
earlier ones are already clean. That is the family's mechanism for all the chained modes:

  text   SkyReelsV2DiffusionForcingPipeline, one window (up to base_num_frames: 97 at 540p, 121 at 720p)
  long   the same pipeline past its window: each new window starts from the previous one's last
         `overlap_history` frames (17) as clean prefix latents, lightly re-noised (addnoise_condition 20)
  extend SkyReelsV2DiffusionForcingVideoToVideoPipeline: the source's last frames are that prefix
  image  SkyReelsV2DiffusionForcingImageToVideoPipeline (frame 0 as prefix); blend adds last_image

Facts: 24 fps, 4k+1 frames (97 = 4 s), 960x544 / 544x960 (540P folders) and 1280x720 / 720x1280 (720P),
sides a multiple of VAE factor (8) x patch (2) = 16.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..requests import Request
from .base import read_json
from .diffusers_base import DiffusersBackend, family_of, to_uint8
from .wan import fit

SIZES_540P = ("960x544", "544x960")
SIZES_720P = ("1280x720", "720x1280")
OVERLAP = 17  # SkyReels' recommended overlap_history (17 or 37): frames each window shares with the last
ADDNOISE = 20  # its recommended addnoise_condition for long videos
MAX_SECONDS = 30


class SkyReelsBackend(DiffusersBackend):
    CACHES = ()  # diffusers 0.42.1 registers no cache hook for this transformer (docs/decisions/backends.md)
    family = "skyreels"
    version = "SkyReels-V2-DF"
    DF = "SkyReelsV2DiffusionForcingPipeline"
    MODES = {DF: {"text": DF, "image": "SkyReelsV2DiffusionForcingImageToVideoPipeline",
                  "blend": "SkyReelsV2DiffusionForcingImageToVideoPipeline",
                  "extend": "SkyReelsV2DiffusionForcingVideoToVideoPipeline", "long": DF}}

    @classmethod
    def rules(cls, folder: Path) -> dict:
        folder = Path(folder)
        vae = read_json(folder / "vae" / "config.json")
        t = read_json(folder / "transformer" / "config.json")
        multiple = int(vae.get("scale_factor_spatial", 8)) * int((t.get("patch_size") or (1, 2, 2))[1])
        sizes = SIZES_720P + SIZES_540P if "720" in folder.name else SIZES_540P + SIZES_720P
        return dict(sizes=sizes, seconds=(1, 2, 3, 4), fps=(24,), default_seconds=4, size_multiple=multiple,
                    min_side=multiple, max_side=1280, frame_rule=(int(vae.get("scale_factor_temporal", 4)), 1),
                    steps=30, guidance=6.0, negative_prompt=True, max_seconds=MAX_SECONDS)

    @staticmethod
    def window(width: int, height: int) -> int:
        """base_num_frames: the frames one forward pass covers (SkyReels: 97 for 540P, 121 for 720P)."""
        return 121 if width * height > 960 * 544 else 97

    def mode_kwargs(self, request: Request, kw: dict) -> dict:
        mode, caps = request.mode, self.capabilities()
        video = getattr(request, "video", None)
        if video is not None and request.options.size is None \
                and caps.allows_size(f"{video.shape[2]}x{video.shape[1]}"):
            kw["width"], kw["height"] = video.shape[2], video.shape[1]  # keep a native source's size
        w, h = kw["width"], kw["height"]
        kw.update(fps=request.options.fps or caps.fps[0], base_num_frames=self.window(w, h))
        if mode == "long" and kw["num_frames"] > kw["base_num_frames"]:
            kw.update(overlap_history=OVERLAP, addnoise_condition=ADDNOISE)
        elif mode == "image":
            kw["image"] = fit(request.image, w, h)[0]
        elif mode == "blend":
            kw["image"], kw["last_image"] = fit(request.video_a[-1], w, h)[0], fit(request.video_b[0], w, h)[0]
        elif mode == "extend":
            # The pipeline re-decodes the source's last `overlap` frames before the new ones, so it makes
            # overlap + new frames; new = the asked-for 4k+1 less one keeps overlap + new at 4k+1.
            a, b = caps.frame_rule
            overlap = min(OVERLAP, len(video) - (len(video) - b) % a)
            new = kw["num_frames"] - 1
            frames = overlap + new
            kw.update(video=fit(video, w, h), num_frames=frames, overlap_history=overlap, addnoise_condition=ADDNOISE,
                      base_num_frames=min(kw["base_num_frames"], frames), overlap_frames=overlap)
        return kw

    def call(self, mode: str, kw: dict) -> np.ndarray:
        out = super().call(mode, kw)
        if mode != "extend":
            return out
        # The output is the (resized) source, then the overlap again, then the new frames: keep the exact
        # source pixels and the new frames only.
        source = np.stack([np.asarray(f) for f in kw["video"]])
        return to_uint8(np.concatenate([source, out[len(source) + kw["overlap_frames"]:]]))


FAMILY = family_of(SkyReelsBackend, "SkyReels-V2 diffusion forcing (Skywork): text, image, blend, extend, long videos")
