"""Training examples drawn from the world, deterministic in (seed, step, index).

Every example is a pure function of its seed triple, so a run resumed from a
checkpoint at step k sees exactly the batches it would have seen, and DDP
ranks split a global batch by index without talking to each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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


# Smaller objects than any scene of the world has (scenes never go below 0.15 of the short side),
# for the autoencoder only: a clip that extends a shrinking one carries on below that, and an
# autoencoder that never saw such objects rounds them off (a square of 0.08-0.12 came back a
# square in 0 of 20 encodes and decodes, with the shipped one).
SMALL_SIZES = (0.06, 0.15)  # the object's smaller size (first or last frame), fraction of the short side


def small_example(seed: int, step: int, index: int, width: int, height: int, frames: int) -> Example:
    """A world example with its object scaled down so its smaller size lies in SMALL_SIZES: same
    story, same path (a smaller object fits wherever the larger one did), a different stream of
    draws from `example`'s. Its caption is the scene's, sizes not being part of any caption."""
    rng = np.random.default_rng([seed, step, index, 1])
    scene = sample_scene(rng)
    scale = rng.uniform(*SMALL_SIZES) / min(scene.size0, scene.size1)
    scene = replace(scene, size0=scene.size0 * scale, size1=scene.size1 * scale)
    return Example(render(scene, width, height, frames), caption(scene, rng), scene)


def batch(seed: int, step: int, indices: range, width: int, height: int, frames: int) -> list[Example]:
    return [example(seed, step, i, width, height, frames) for i in indices]


def to_tensor_layout(videos: np.ndarray) -> np.ndarray:
    """(B, T, H, W, 3) uint8 -> (B, T, 3, H, W) float32 in [-1, 1]."""
    return videos.transpose(0, 1, 4, 2, 3).astype(np.float32) / 127.5 - 1.0
