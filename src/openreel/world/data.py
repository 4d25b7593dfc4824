"""Training examples drawn from the world, deterministic in (seed, step, index).

Every example is a pure function of its seed triple, so a run resumed from a
checkpoint at step k sees exactly the batches it would have seen, and DDP
ranks split a global batch by index without talking to each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .captions import caption
from .scene import Scene, render, sample_scene

# Native sizes (W, H): 1:1, ~16:9 and ~9:16. Multiples of 16 so the autoencoder
# (4x) and the DiT patches (4x4 latent cells) tile them exactly.
NATIVE_SIZES: tuple[tuple[int, int], ...] = ((64, 64), (112, 64), (64, 112))
DEFAULT_SIZE = (64, 64)
DEFAULT_FPS = 8
# Probability that a training caption leaves the background out; such a clip
# still has a (random) background, which teaches "any background is fine".
P_NO_BACKGROUND = 0.15


@dataclass(frozen=True)
class Example:
    video: np.ndarray  # (T, H, W, 3) uint8
    caption: str
    scene: Scene


def example(seed: int, step: int, index: int, width: int, height: int, frames: int) -> Example:
    rng = np.random.default_rng([seed, step, index])
    scene = sample_scene(rng)
    text = caption(scene, rng, with_background=rng.random() >= P_NO_BACKGROUND)
    return Example(render(scene, width, height, frames), text, scene)


def batch(seed: int, step: int, indices: range, width: int, height: int, frames: int) -> list[Example]:
    return [example(seed, step, i, width, height, frames) for i in indices]


def to_tensor_layout(videos: np.ndarray) -> np.ndarray:
    """(B, T, H, W, 3) uint8 -> (B, T, 3, H, W) float32 in [-1, 1]."""
    return videos.transpose(0, 1, 4, 2, 3).astype(np.float32) / 127.5 - 1.0
