"""The probe: reads a clip back into (shape, colour, background, motion).

A plain image-analysis reader, numpy only and with no learned parts, so
its verdicts can be checked by hand and it can't share a learned model's
blind spots. It is how `openreel eval` marks generated clips against their
prompts, and it must read ground-truth clips (after an H.264 round trip)
almost perfectly: tests/test_probe.py holds it to >= 99%.

Per clip, in order:
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

from openreel.media.video import read_video
from openreel.world.contract import BACKGROUNDS, COLORS, SHAPES
from openreel.world.scene import shape_mask

NONE = "none"  # the reading for an attribute the probe could not see

# A pixel this far (RGB Euclidean, 0-255) from the background, after a 3x3
# smoothing, is a first guess at "object". The closest contract pair (purple
# on gray) is ~106 apart, so 40 keeps every object while ignoring codec noise
# and generator noise (pixel noise of sigma 30 still reads correctly).
ROUGH_DISTANCE = 40.0
# A pixel belongs to the object when it is more than this fraction of the way
# from the background colour to the object colour. Not 0.5: yuv420p stores
# colour at half resolution, so where an edge splits a 2x2 chroma block both
# pixels sit at ~0.5 and codec noise would flip them, leaving ragged edges on
# objects whose brightness matches the background (green on gray).
COVER = 0.6
# Blobs smaller than this fraction of the frame are noise, not the object. The
# smallest contract object (a triangle of side 0.15 at 64x64) is ~1.1%.
MIN_AREA = 0.002
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
# Masks
# ---------------------------------------------------------------------------

def _largest_blobs(mask: np.ndarray) -> np.ndarray:
    """Keep each frame's largest 4-connected blob. mask: (T, H, W) bool."""
    # Work on the rows and columns the mask touches in any frame: usually
    # just the strip the object sweeps through.
    rows, cols = np.flatnonzero(mask.any(axis=(0, 2))), np.flatnonzero(mask.any(axis=(0, 1)))
    keep = np.zeros_like(mask)
    if len(rows):
        box = np.s_[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        keep[box] = _largest_blobs_in(mask[box])
    return keep


def _largest_blobs_in(mask: np.ndarray) -> np.ndarray:
    """Connected-component labelling by label spreading, numpy only.

    Every pixel starts with its own label; each pass gives every horizontal
    run, then every vertical run, the largest label in it, until nothing
    changes. Then all pixels of a blob share one label. A convex blob settles
    in two or three passes.
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
    m = np.concatenate([mask, np.zeros_like(mask[:, :, :1])], axis=2).ravel()
    lab = np.concatenate([labels, np.zeros_like(labels[:, :, :1])], axis=2).ravel()
    starts = m & ~np.concatenate(([False], m[:-1]))
    if not starts.any():
        return labels
    run_max = np.maximum.reduceat(lab, np.flatnonzero(starts))  # gaps hold 0, so they never win
    run_of = np.cumsum(starts) - 1  # run index of every pixel (valid on mask pixels)
    lab = np.where(m, run_max[run_of], 0)
    return lab.reshape(mask.shape[0], mask.shape[1], mask.shape[2] + 1)[:, :, :-1]


def _dilate(mask: np.ndarray) -> np.ndarray:
    """4-neighbour dilation of (T, H, W) masks."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


def _box_blur(a: np.ndarray, radius: int, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Mean over a (2r+1)^2 box around each pixel (over `axes`), zero beyond the edges."""
    k = 2 * radius + 1
    for axis in axes:
        n = a.shape[axis]
        padded = _zero_pad(a, radius, axis)
        a = sum(padded.take(range(i, i + n), axis=axis) for i in range(k)) / k
    return a


def _zero_pad(a: np.ndarray, width: int, axis: int) -> np.ndarray:
    """`width` zeros on both sides of `axis` (np.pad, without its per-call overhead)."""
    shape = list(a.shape)
    shape[axis] = width
    zeros = np.zeros(shape, dtype=a.dtype)
    return np.concatenate([zeros, a, zeros], axis=axis)


def _backgrounds(video: np.ndarray) -> np.ndarray:
    """Per-frame background colour, (T, 3): the channel median, since the object is a minority."""
    T = video.shape[0]
    return np.median(video.reshape(T, -1, 3), axis=1)


def segment(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Find the object: (masks (T, H, W) bool, coverage (T, H, W) float, ~0-1).

    Two passes. A rough distance threshold finds the object and its colour.
    Then each pixel gets a coverage: how far it lies from the background
    colour towards the object colour (0 = background, 1 = object). A blurred
    edge pixel that is half object reads ~0.5, so coverage keeps the object's
    true area and outline however soft its edges are. The mask is coverage >
    COVER, largest blob only; frames with no object have an all-False mask.
    """
    video = frames.astype(np.float32)  # (T, H, W, 3)
    T, H, W, _ = video.shape
    offset = video - _backgrounds(video)[:, None, None, :]  # (T, H, W, 3)
    # Locate the object on a 3x3-smoothed copy, so pixel noise can't pass
    # for object and the object's own noisy pixels stay joined.
    smooth = _box_blur(offset, 1, axes=(1, 2))
    rough = _largest_blobs(np.linalg.norm(smooth, axis=-1) > ROUGH_DISTANCE)
    coverage = np.zeros((T, H, W), dtype=np.float32)
    for t in range(T):
        if rough[t].sum() < MIN_AREA * H * W:
            continue
        towards = np.median(offset[t][rough[t]], axis=0)  # object colour minus background, (3,)
        coverage[t] = offset[t] @ towards / max(float(towards @ towards), 1e-6)
    masks = _largest_blobs(coverage > COVER)
    masks[masks.reshape(T, -1).sum(axis=1) < MIN_AREA * H * W] = False
    # Keep coverage only on and just around the object, so background noise
    # elsewhere adds nothing to the object's measured area. Not clipped to
    # [0, 1] here: the unclipped value still ranks pixels by purity.
    coverage = np.where(_dilate(_dilate(_dilate(masks))), coverage, 0.0)
    return masks, coverage


def object_masks(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: the object in each frame (all False where there is none)."""
    return segment(frames)[0]


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
        scores[shape] = max(_soft_iou(seen, _blocks(_box_blur(sharp, r))) for r in BLURS)
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

    background_rgb = np.median(_backgrounds(video), axis=0)
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
    masks = _dilate(object_masks(frames))
    still = ~(masks[1:] | masks[:-1])  # (T-1, H, W)
    change = np.abs(video[1:] - video[:-1]).mean(axis=-1)  # (T-1, H, W)
    return float(change[still].mean()) if still.any() else 0.0
