"""Scenes of the procedural world, and the renderer that draws them.

A Scene is resolution-free: positions are fractions of the frame's width and
height, and sizes are fractions of its shorter side. So one scene renders at
any width x height x frame count, and a 1:1 and a 16:9 clip of the same seed
show the same story.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .contract import BACKGROUNDS, COLORS, HELD_OUT, MIN_TRAVEL, MOTIONS, SHAPES, training_combos


@dataclass(frozen=True)
class Scene:
    shape: str
    color: str
    background: str
    motion: str
    start: tuple[float, float]  # (cx, cy) at the first frame, fractions of (W, H)
    end: tuple[float, float]  # (cx, cy) at the last frame
    size0: float  # bounding-box side at the first frame, fraction of min(W, H)
    size1: float  # ... and at the last frame

    def to_dict(self) -> dict:
        return asdict(self)

    def at(self, p: float) -> tuple[float, float, float]:
        """(cx, cy, size) at progress p in [0, 1], interpolated linearly."""
        cx = self.start[0] + (self.end[0] - self.start[0]) * p
        cy = self.start[1] + (self.end[1] - self.start[1]) * p
        return cx, cy, self.size0 + (self.size1 - self.size0) * p


def sample_scene(
    rng: np.random.Generator,
    shape: str | None = None,
    color: str | None = None,
    motion: str | None = None,
    background: str | None = None,
    allow_held_out: bool = False,
) -> Scene:
    """Draw a scene; attributes left as None are drawn at random.

    Random (shape, colour, motion) draws come from the training combinations
    only, unless allow_held_out is set.
    """
    if shape is None or color is None or motion is None:
        pool = [
            c for c in (training_combos() if not allow_held_out else
                        [(s, k, m) for s in SHAPES for k in COLORS for m in MOTIONS])
            if (shape is None or c[0] == shape) and (color is None or c[1] == color)
            and (motion is None or c[2] == motion)
        ]
        if not pool:
            raise ValueError(f"no training combination matches shape={shape} color={color} motion={motion}")
        shape, color, motion = pool[rng.integers(len(pool))]
    for name, value, allowed in (("shape", shape, SHAPES), ("color", color, COLORS),
                                 ("motion", motion, MOTIONS)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    if background is None:
        background = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
    elif background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}; got {background!r}")

    # Sizes are fractions of the shorter side, so a margin of size/2 keeps the
    # box inside the frame along either axis whatever the aspect ratio.
    if motion == "growing":
        size0 = rng.uniform(0.15, 0.19)
        size1 = size0 * rng.uniform(1.7, 2.1)  # area x2.9..4.4, comfortably >= 2
    elif motion == "shrinking":
        size1 = rng.uniform(0.15, 0.19)
        size0 = size1 * rng.uniform(1.7, 2.1)
    else:
        size0 = size1 = rng.uniform(0.22, 0.32)
    half = max(size0, size1) / 2 + 0.01

    def free(lo: float = half, hi: float = 1 - half) -> float:
        return float(rng.uniform(lo, hi))

    if motion in ("left", "right", "up", "down"):
        travel = rng.uniform(MIN_TRAVEL + 0.07, 1 - 2 * half)  # >= 0.42 > MIN_TRAVEL
        a = free(half, 1 - half - travel)
        along = (a, a + travel)
        if motion in ("left", "up"):
            along = (along[1], along[0])
        across = free()
        if motion in ("left", "right"):
            start, end = (along[0], across), (along[1], across)
        else:
            start, end = (across, along[0]), (across, along[1])
    else:
        start = end = (free(), free())
    return Scene(shape, color, background, motion,
                 (float(start[0]), float(start[1])), (float(end[0]), float(end[1])),
                 float(size0), float(size1))


def shape_mask(shape: str, cx: float, cy: float, side: float, width: int, height: int) -> np.ndarray:
    """Boolean (H, W) mask of a shape of bounding-box side `side` pixels centred at (cx, cy) pixels."""
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5  # pixel centres
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    dx, dy, r = xs - cx, ys - cy, side / 2
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (np.abs(dx) <= r) & (np.abs(dy) <= r)
    if shape == "triangle":
        # Apex at (cx, cy - r), base from (cx - r, cy + r) to (cx + r, cy + r).
        depth = (dy + r) / (2 * r)  # 0 at the apex, 1 at the base
        return (depth >= 0) & (depth <= 1) & (np.abs(dx) <= depth * r)
    raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")


def render(scene: Scene, width: int, height: int, frames: int) -> np.ndarray:
    """Draw a scene as a uint8 clip of shape (T, H, W, 3)."""
    if width < 8 or height < 8 or frames < 1:
        raise ValueError(f"render needs width, height >= 8 and frames >= 1; got {width}x{height}x{frames}")
    video = np.empty((frames, height, width, 3), dtype=np.uint8)
    video[:] = np.array(BACKGROUNDS[scene.background], dtype=np.uint8)
    color = np.array(COLORS[scene.color], dtype=np.uint8)
    short = min(width, height)
    for t in range(frames):
        cx, cy, size = scene.at(t / (frames - 1) if frames > 1 else 0.0)
        video[t][shape_mask(scene.shape, cx * width, cy * height, size * short, width, height)] = color
    return video


def is_held_out(scene: Scene) -> bool:
    return (scene.shape, scene.color, scene.motion) in HELD_OUT
