"""The probe: reads a clip back into (shape, colour, background, motion).

A plain image-analysis reader, numpy only and with no learned parts, so
its verdicts can be checked by hand and it can't share a learned model's
blind spots. It is how `openreel eval` marks generated clips against their
prompts, and it must read ground-truth clips (after an H.264 round trip)
almost perfectly: tests/test_probe.py holds it to >= 99%.

Per clip, in order (1 and 2 are world/objects.py, shared with the built-in pipeline):
  1. background  = per-frame channel median (the background is most pixels)
  2. object      = each pixel's coverage (0 = background colour, 1 = object
                   colour); the mask is the largest blob of covered pixels
  3. colour      = median of its purest pixels -> nearest contract colour
  4. shape       = best soft IoU against ideal shapes of the same area and
                   centroid, averaged over frames
  5. motion      = centroid travel and area ratio between the clip's ends
A clip where no object is found reads as shape/colour/motion "none", which
matches no prompt and so simply counts as wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openreel.world.objects import backgrounds, box_blur, dilate, object_masks, segment
from openreel.media.video import read_video
from openreel.world.contract import BACKGROUNDS, COLORS, SHAPES
from openreel.world.scene import shape_mask

NONE = "none"  # the reading for an attribute the probe could not see

# The object's centre moves at least 0.35 of the frame in a moving clip and
# not at all in a still one; halfway-ish splits them with room for drift.
MOVE_THRESHOLD = 0.17
# Growing/shrinking changes the area >= 2x (2.9x as sampled); 1.5x splits it
# from the ~1.0x of everything else.
AREA_THRESHOLD = 1.5
# Box-blur radii (pixels) tried on each ideal shape before comparing: a
# blurred square must still beat a sharp circle. 0 fits ground truth.
BLURS = (0, 1, 2)
# Shape is scored on at most this many frames, spread over the clip: enough
# to outvote a few bad frames, and it bounds the cost of long clips.
SHAPE_FRAMES = 8


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
    shape_scores: dict[str, float]  # mean soft IoU against each ideal shape, over scored frames
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
# Attributes
# ---------------------------------------------------------------------------

def _nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    return min(palette, key=lambda name: float(np.sum((rgb - np.array(palette[name])) ** 2)))


# Area of each shape as a fraction of its box (side^2), and how far its
# centroid sits below the box centre as a fraction of the side (a triangle's
# centroid is a third of the way up from its base).
_AREA_PER_BOX = {"circle": np.pi / 4, "square": 1.0, "triangle": 0.5}
_CENTROID_DROP = {"circle": 0.0, "square": 0.0, "triangle": 1 / 6}
_SUPERSAMPLE = 4  # ideal shapes are drawn with 4x4 samples per pixel, for soft edges


def _ideal_coverage(shape: str, cx: float, cy: float, side: float, width: int, height: int) -> np.ndarray:
    """(height, width) fraction of each pixel covered by the ideal shape (pixel units)."""
    s = _SUPERSAMPLE
    fine = shape_mask(shape, cx * s, cy * s, side * s, width * s, height * s)
    return fine.reshape(height, s, width, s).mean(axis=(1, 3))


def _blocks(a: np.ndarray) -> np.ndarray:
    """2x2 block means of an (even H, even W) array: yuv420p's chroma grid."""
    h, w = a.shape
    return a.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _soft_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.minimum(a, b).sum() / max(np.maximum(a, b).sum(), 1e-6))


def _shape_ious(coverage: np.ndarray) -> dict[str, float]:
    """Soft IoU of one frame's coverage with each ideal shape of the same area and centroid.

    - Fitting by area and centroid (not the bounding box) means blur and a
      few stray edge pixels barely move the fit: blur keeps both.
    - Soft coverage against soft ideals scores a blurred edge by how much of
      each pixel is covered, not by which side of a threshold it fell; each
      ideal is also tried blurred (BLURS), so blur alone doesn't make a
      square look round.
    - Both are compared on yuv420p's 2x2 chroma grid: where object and
      background are equally bright (green on gray) the edge only exists at
      that resolution, and comparing finer would punish the codec, not the shape.
    """
    H, W = coverage.shape
    area = float(coverage.sum())
    ys, xs = np.arange(H) + 0.5, np.arange(W) + 0.5  # pixel centres
    mx = float(coverage.sum(axis=0) @ xs) / area
    my = float(coverage.sum(axis=1) @ ys) / area
    # Work in a window around the object, on even pixel coordinates so its
    # 2x2 blocks are the codec's.
    reach = int(np.ceil(np.sqrt(2 * area))) + 4  # >= the largest fitted side
    x0, y0 = max(int(mx) - reach, 0) // 2 * 2, max(int(my) - reach, 0) // 2 * 2
    x1, y1 = min(int(mx) + reach, W), min(int(my) + reach, H)
    x1, y1 = x1 - (x1 - x0) % 2, y1 - (y1 - y0) % 2
    seen = _blocks(coverage[y0:y1, x0:x1])
    scores = {}
    for shape in SHAPES:
        side = np.sqrt(area / _AREA_PER_BOX[shape])
        cy = my - _CENTROID_DROP[shape] * side
        sharp = _ideal_coverage(shape, mx - x0, cy - y0, side, x1 - x0, y1 - y0)
        scores[shape] = max(_soft_iou(seen, _blocks(box_blur(sharp, r))) for r in BLURS)
    return scores


def _object_color(video: np.ndarray, masks: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Median RGB of the object's purest pixels: its quarter with the highest coverage.

    Edge pixels are mixed with the background (blur, and yuv420p's
    half-resolution chroma), and a heavily blurred object may have no
    unmixed core at all; the most covered pixels are the least mixed either
    way. (Not the pixels farthest from the background: a desaturated edge of
    a bright colour can be farther from black than the colour itself.)
    """
    cover = coverage[masks]  # (N,)
    pure = cover >= np.percentile(cover, 75)
    return np.median(video[masks][pure], axis=0)


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
    object whose area wobbles still reads as moving, and vice versa. An
    object that appears or vanishes mid-clip (area 0 at one end) reads as
    growing or shrinking.
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
    masks, coverage = segment(frames)  # (T, H, W) each
    soft = np.clip(coverage, 0.0, 1.0)  # codec ringing can overshoot 0 and 1
    found = masks.reshape(T, -1).any(axis=1)  # (T,)

    background_rgb = np.median(backgrounds(video), axis=0)
    background = _nearest(background_rgb, BACKGROUNDS)

    # Area and centroid from soft coverage: exact under blur, which keeps both.
    areas = soft.reshape(T, -1).sum(axis=1) / (H * W)  # (T,)
    ys, xs = (np.arange(H) + 0.5) / H, (np.arange(W) + 0.5) / W
    centroids = np.full((T, 2), np.nan)
    for t in np.flatnonzero(found):
        rows, cols = soft[t].sum(axis=1), soft[t].sum(axis=0)
        centroids[t] = cols @ xs / cols.sum(), rows @ ys / rows.sum()

    if not found.any():
        return Reading(NONE, NONE, background, NONE, 0, tuple(map(tuple, centroids.tolist())),
                       tuple(areas.tolist()), {s: 0.0 for s in SHAPES}, 0.0,
                       (np.nan,) * 3, tuple(background_rgb.tolist()), (np.nan, np.nan), np.nan)

    color_rgb = _object_color(video, masks, coverage)
    color = _nearest(color_rgb, COLORS)

    seen = np.flatnonzero(found)
    scored = seen[np.linspace(0, len(seen) - 1, min(len(seen), SHAPE_FRAMES)).round().astype(int)]
    per_frame = [_shape_ious(soft[t]) for t in scored]
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
    masks = dilate(object_masks(frames))
    still = ~(masks[1:] | masks[:-1])  # (T-1, H, W)
    change = np.abs(video[1:] - video[:-1]).mean(axis=-1)  # (T-1, H, W)
    return float(change[still].mean()) if still.any() else 0.0
