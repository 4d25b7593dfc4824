"""Video: the value every layer passes (frames, fps, the prompt and the settings that made it).

    video = pipe("a white ball falling on a navy background", seconds=2)
    video.frames.shape        # (T, H, W, 3) uint8
    video.save("out.mp4")     # H.264 yuv420p MP4 with faststart (media/video.py)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .media.video import write_mp4


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: int
    prompt: str = ""
    params: dict = field(default_factory=dict)

    @property
    def size(self) -> str:
        return f"{self.frames.shape[2]}x{self.frames.shape[1]}"

    @property
    def all_intra(self) -> bool:
        """Whether its file codes every frame as a keyframe (write_mp4): loops and extensions.
        A loop restarts from its first frame, and an extension joins frames made apart; coded
        alike, the wrap and the seam are steps like the others (docs/decisions/builtin-modes.md)."""
        return self.params.get("mode") in ("loop", "extend")

    def save(self, path: str | Path, scale_to: tuple[int, int] | None = None) -> Path:
        return write_mp4(path, self.frames, self.fps, scale_to=scale_to, all_intra=self.all_intra)


def parse_size(size: str) -> tuple[int, int]:
    """"WxH" -> (width, height)."""
    w, _, h = str(size).lower().partition("x")
    return int(w), int(h)
