"""The probe: reads a clip back into (shape, colour, background, motion).

A plain image-analysis reader, numpy only and with no learned parts, so
its verdicts can be checked by hand and it can't share a learned model's
blind spots. It is how `openreel eval` marks generated clips against their
prompts, and it must read ground-truth clips (after an H.264 round trip)
almost perfectly: tests/test_probe.py holds it to >= 99%.

Per clip, in order:
  1. background  = per-frame channel median (the background is most pixels)
  2. object mask = pixels nearer the object's colour than the background's,
                   keeping the largest connected blob (drops noise specks)
  3. colour      = median of the mask's core  -> nearest contract colour
  4. shape       = best IoU against ideal shapes fitted to the mask's box
  5. motion      = centroid travel and area ratio between the clip's ends
A clip where no object is found reads as shape/colour/motion "none", which
matches no prompt and so simply counts as wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openreel.media.video import read_video
from openreel.world.contract import BACKGROUNDS, COLORS, SHAPES
from openreel.world.scene import shape_mask

NONE = "none"  # the reading for an attribute the probe could not see

# A pixel this far (RGB Euclidean, 0-255) from the background is a first guess
# at "object". The closest contract pair (purple on gray) is ~106 apart, so 40
# keeps every object while ignoring codec noise and mild generator noise.
ROUGH_DISTANCE = 40.0
# Blobs smaller than this fraction of the frame are noise, not the object. The
# smallest contract object (a triangle of side 0.15 at 64x64) is ~1.1%.
MIN_AREA = 0.002
# The object's centre moves at least 0.35 of the frame in a moving clip and
# not at all in a still one; halfway-ish splits them with room for drift.
MOVE_THRESHOLD = 0.17
# Growing/shrinking changes the area >= 2x (2.9x as sampled); 1.5x splits it
# from the ~1.0x of everything else.
AREA_THRESHOLD = 1.5


@dataclass(frozen=True)
class Reading:
    shape: str  # a contract shape, or "none"
    color: str  # a contract colour, or "none"
    background: str  # a contract background
    motion: str  # a contract motion, or "none"
    # Diagnostics, for reports and for debugging a surprising verdict.
    found: int  # frames in which an object was found
    centroids: tuple[tuple[float, float], ...]  # per frame (x/W, y/H); NaN where none found
    areas: tuple[float, ...]  # per frame, object area as a fraction of W*H
    shape_scores: dict[str, float]  # mean IoU against each ideal shape, over found frames
    fill: float  # the winning shape's mean IoU: how cleanly the object is drawn
    color_rgb: tuple[float, float, float]  # measured object colour
    background_rgb: tuple[float, float, float]  # measured background colour
    travel: tuple[float, float]  # centroid displacement, fractions of (W, H)
    area_ratio: float  # area at the end / area at the start

    @property
    def attributes(self) -> tuple[str, str, str, str]:
        """(shape, color, background, motion), to compare with a prompt's."""
        return self.shape, self.color, self.background, self.motion


# ---------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------

def _largest_blobs(mask: np.ndarray) -> np.ndarray:
    """Keep each frame's largest 4-connected blob. mask: (T, H, W) bool.

    Every pixel starts with its own label; each pass gives every horizontal
    run, then every vertical run, the largest label in it, until nothing
    changes. Then all pixels of a blob share one label. A convex blob settles
    in two or three passes, which keeps this fast in plain numpy.
    """
    T, H, W = mask.shape
    labels = np.where(mask, np.arange(1, T * H * W + 1, dtype=np.int32).reshape(T, H, W), 0)
    while True:
        spread = _spread_runs(labels, mask)  # along W
        spread = _spread_runs(spread.swapaxes(1, 2), mask.swapaxes(1, 2)).swapaxes(1, 2)  # along H
        if np.array_equal(spread, labels):
            break
        labels = spread
    keep = np.zeros_like(mask)
    for t in range(T):
        ids, counts = np.unique(labels[t][labels[t] > 0], return_counts=True)
        if len(ids):
            keep[t] = labels[t] == ids[np.argmax(counts)]
    return keep


def _spread_runs(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Give each run of mask pixels along the last axis the largest label in the run."""
    # A False column after each row keeps runs from joining across rows.
    m = np.pad(mask, ((0, 0), (0, 0), (0, 1))).ravel()
    lab = np.pad(labels, ((0, 0), (0, 0), (0, 1))).ravel()
    starts = m & ~np.concatenate(([False], m[:-1]))
    if not starts.any():
        return labels
    run_max = np.maximum.reduceat(lab, np.flatnonzero(starts))  # gaps hold 0, so they never win
    run_of = np.cumsum(starts) - 1  # run index of every pixel (valid on mask pixels)
    lab = np.where(m, run_max[run_of], 0)
    return lab.reshape(mask.shape[0], mask.shape[1], mask.shape[2] + 1)[:, :, :-1]


def _erode(mask: np.ndarray) -> np.ndarray:
    """4-neighbour erosion of (T, H, W) masks; the frame edge counts as outside."""
    core = mask.copy()
    core[:, 1:] &= mask[:, :-1]
    core[:, :-1] &= mask[:, 1:]
    core[:, :, 1:] &= mask[:, :, :-1]
    core[:, :, :-1] &= mask[:, :, 1:]
    core[:, 0] = core[:, -1] = core[:, :, 0] = core[:, :, -1] = False
    return core


def _dilate(mask: np.ndarray) -> np.ndarray:
    """4-neighbour dilation of (T, H, W) masks."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


def _backgrounds(video: np.ndarray) -> np.ndarray:
    """Per-frame background colour, (T, 3): the channel median, since the object is a minority."""
    T = video.shape[0]
    return np.median(video.reshape(T, -1, 3), axis=1)


def object_masks(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: the object in each frame (all False where there is none).

    Two passes. A rough distance threshold finds the object and its colour;
    then a pixel belongs to the object when it lies past the midpoint from the
    background colour to the object colour. The midpoint rule puts the edge
    where a blurred (codec or generator) edge is half covered, so the mask
    keeps the true area and outline instead of growing with the blur.
    """
    video = frames.astype(np.float32)  # (T, H, W, 3)
    T, H, W, _ = video.shape
    offset = video - _backgrounds(video)[:, None, None, :]  # (T, H, W, 3)
    rough = _largest_blobs(np.linalg.norm(offset, axis=-1) > ROUGH_DISTANCE)
    masks = np.zeros((T, H, W), dtype=bool)
    for t in range(T):
        if rough[t].sum() < MIN_AREA * H * W:
            continue
        towards = np.median(offset[t][rough[t]], axis=0)  # object colour minus background, (3,)
        along = offset[t] @ towards / max(float(towards @ towards), 1e-6)  # 0 at bg, 1 at object
        masks[t] = along > 0.5
    masks = _largest_blobs(masks)
    masks[masks.reshape(T, -1).sum(axis=1) < MIN_AREA * H * W] = False
    return masks


# ---------------------------------------------------------------------------
# Attributes
# ---------------------------------------------------------------------------

def _nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    return min(palette, key=lambda name: float(np.sum((rgb - np.array(palette[name])) ** 2)))


def _shape_ious(mask: np.ndarray) -> dict[str, float]:
    """IoU of one frame's mask with each ideal shape fitted to the mask's bounding box.

    Shapes are drawn in a square box, so the fitted side is the mean of the
    box's width and height (a triangle's pointed apex can lose a pixel row).
    """
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    # Work in a window around the box: same answer, far fewer pixels.
    pad = 2
    wx0, wy0 = max(x0 - pad, 0), max(y0 - pad, 0)
    window = mask[wy0:y1 + pad, wx0:x1 + pad]
    h, w = window.shape
    cx, cy, side = (x0 + x1) / 2 - wx0, (y0 + y1) / 2 - wy0, ((x1 - x0) + (y1 - y0)) / 2
    scores = {}
    for shape in SHAPES:
        ideal = shape_mask(shape, cx, cy, side, w, h)
        scores[shape] = float((window & ideal).sum() / max((window | ideal).sum(), 1))
    return scores


def _ends(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust start and end values: the mean of the first and last ~1/8 of the clip.

    Frames without an object carry NaN and are skipped; an end with no
    object at all stays NaN.
    """
    k = max(1, len(values) // 8)
    return _nan_mean(values[:k]), _nan_mean(values[-k:])


def _nan_mean(values: np.ndarray) -> np.ndarray:
    seen = ~np.isnan(values)
    total = np.where(seen, values, 0.0).sum(axis=0)
    count = seen.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _motion(centroids: np.ndarray, areas: np.ndarray) -> tuple[str, tuple[float, float], float]:
    """(motion, travel, area_ratio) from per-frame centroids (T, 2) and areas (T,).

    Whichever change is larger relative to its threshold wins, so a moving
    object whose area wobbles still reads as moving, and vice versa.
    """
    (x0, y0), (x1, y1) = _ends(centroids)
    a0, a1 = _ends(areas)
    dx, dy = float(x1 - x0), float(y1 - y0)
    ratio = float(a1 / a0) if a0 > 0 else (np.inf if a1 > 0 else 1.0)
    move = max(abs(dx), abs(dy)) if np.isfinite(dx) and np.isfinite(dy) else 0.0
    move_score = move / MOVE_THRESHOLD
    area_score = abs(np.log(ratio)) / np.log(AREA_THRESHOLD) if ratio > 0 else np.inf
    if move_score < 1 and area_score < 1:
        motion = "static"
    elif move_score >= area_score:
        if abs(dx) >= abs(dy):
            motion = "right" if dx > 0 else "left"
        else:
            motion = "down" if dy > 0 else "up"  # image y grows downward
    else:
        motion = "growing" if ratio > 1 else "shrinking"
    return motion, (dx, dy), ratio


def probe(frames: np.ndarray) -> Reading:
    """Read a (T, H, W, 3) uint8 clip into the contract's attributes."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3); got shape {frames.shape}")
    T, H, W, _ = frames.shape
    video = frames.astype(np.float32)
    masks = object_masks(frames)  # (T, H, W)
    found = masks.reshape(T, -1).any(axis=1)  # (T,)

    background_rgb = np.median(_backgrounds(video), axis=0)
    background = _nearest(background_rgb, BACKGROUNDS)

    areas = masks.reshape(T, -1).sum(axis=1) / (H * W)  # (T,)
    ys, xs = (np.arange(H) + 0.5) / H, (np.arange(W) + 0.5) / W
    centroids = np.full((T, 2), np.nan)
    for t in np.flatnonzero(found):
        rows, cols = masks[t].sum(axis=1), masks[t].sum(axis=0)
        centroids[t] = cols @ xs / cols.sum(), rows @ ys / rows.sum()

    if not found.any():
        return Reading(NONE, NONE, background, NONE, 0, tuple(map(tuple, centroids)),
                       tuple(areas.tolist()), {s: 0.0 for s in SHAPES}, 0.0,
                       (np.nan,) * 3, tuple(background_rgb.tolist()), (np.nan, np.nan), np.nan)

    # Colour from the core: edge pixels are mixed with the background by blur
    # and by yuv420p's half-resolution chroma. Tiny objects may have no core.
    core = _erode(masks)
    pixels = video[core] if core.sum() >= 4 else video[masks]
    color_rgb = np.median(pixels, axis=0)
    color = _nearest(color_rgb, COLORS)

    per_frame = [_shape_ious(masks[t]) for t in np.flatnonzero(found)]
    shape_scores = {s: float(np.mean([f[s] for f in per_frame])) for s in SHAPES}
    shape = max(shape_scores, key=shape_scores.get)

    motion, travel, ratio = _motion(centroids, areas)
    return Reading(shape, color, background, motion, int(found.sum()),
                   tuple(map(tuple, centroids.tolist())), tuple(areas.tolist()), shape_scores,
                   shape_scores[shape], tuple(color_rgb.tolist()), tuple(background_rgb.tolist()),
                   travel, ratio)


def probe_file(path: str | Path) -> Reading:
    """Read a video file (any format PyAV decodes) with the probe."""
    frames, _fps = read_video(path)
    return probe(frames)


def flicker(frames: np.ndarray) -> float:
    """Temporal flicker: mean |frame-to-frame change| (0-255) over background pixels.

    Only pixels outside the object in both frames count (grown by a pixel, so
    codec ringing at the object's edge isn't counted), so a moving object is
    not flicker but a pulsing or crawling background is. Ground truth: ~0.
    """
    video = frames.astype(np.float32)
    if len(video) < 2:
        return 0.0
    masks = _dilate(object_masks(frames))
    still = ~(masks[1:] | masks[:-1])  # (T-1, H, W)
    change = np.abs(video[1:] - video[:-1]).mean(axis=-1)  # (T-1, H, W)
    return float(change[still].mean()) if still.any() else 0.0
