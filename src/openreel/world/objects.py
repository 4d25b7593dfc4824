"""Segments the one object in a frame of the built-in world: per-pixel coverage against a flat background.

The world's clips hold one flat-coloured object on a flat background, so the object is
found without any learned part: the background is each frame's median colour, and each
pixel's coverage is how far its colour lies from the background's toward the object's.
The probe (eval/probe.py) reads attributes from it; the pipeline eases extension seams
with it (seams.seam_eased), so a seam is judged and mended on one measure of where
the object is and what colour it is. Numpy only.
"""

from __future__ import annotations

import numpy as np

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


# ---------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------

def largest_blobs(mask: np.ndarray) -> np.ndarray:
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


def dilate(mask: np.ndarray) -> np.ndarray:
    """4-neighbour dilation of (T, H, W) masks."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


def box_blur(a: np.ndarray, radius: int, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
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


def backgrounds(video: np.ndarray) -> np.ndarray:
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
    offset = video - backgrounds(video)[:, None, None, :]  # (T, H, W, 3)
    # Locate the object on a 3x3-smoothed copy, so pixel noise can't pass
    # for object and the object's own noisy pixels stay joined.
    smooth = box_blur(offset, 1, axes=(1, 2))
    rough = largest_blobs(np.linalg.norm(smooth, axis=-1) > ROUGH_DISTANCE)
    coverage = np.zeros((T, H, W), dtype=np.float32)
    for t in range(T):
        if rough[t].sum() < MIN_AREA * H * W:
            continue
        towards = np.median(offset[t][rough[t]], axis=0)  # object colour minus background, (3,)
        coverage[t] = offset[t] @ towards / max(float(towards @ towards), 1e-6)
    masks = largest_blobs(coverage > COVER)
    masks[masks.reshape(T, -1).sum(axis=1) < MIN_AREA * H * W] = False
    # Keep coverage only on and just around the object, so background noise
    # elsewhere adds nothing to the object's measured area. Not clipped to
    # [0, 1] here: the unclipped value still ranks pixels by purity.
    coverage = np.where(dilate(dilate(dilate(masks))), coverage, 0.0)
    return masks, coverage


def object_masks(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: the object in each frame (all False where there is none)."""
    return segment(frames)[0]


def track(frames: np.ndarray, segmented: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the object's centroid (x, y) in pixels (T, 2), coverage-weighted, and its colour
    (T, 3), the median of its mask's pixels; NaN where none is found. segmented: segment(frames),
    where the caller has it already (each frame is segmented on its own)."""
    masks, coverage = segment(frames) if segmented is None else segmented
    soft = np.clip(coverage, 0, 1)
    T, H, W = masks.shape
    cent, col = np.full((T, 2), np.nan), np.full((T, 3), np.nan)
    for t in np.flatnonzero(masks.reshape(T, -1).any(axis=1)):
        w = soft[t]
        cent[t] = (w.sum(axis=0) @ (np.arange(W) + 0.5)) / w.sum(), (w.sum(axis=1) @ (np.arange(H) + 0.5)) / w.sum()
        col[t] = np.median(frames[t][masks[t]].astype(np.float64), axis=0)
    return cent, col
