"""Pixel heuristics that pick and mend the built-in model's draws.

They hold in the built-in world only, where every clip is one flat-coloured object on a flat
background (objects.py finds it): where to cut a boomerang loop, a blend's rough in-between and
its judder taken out, an extension's seam eased and judged, and image -> video's first frame.
No model here: pixel statistics, numpy, and torch for sub-pixel resampling. Each constant says
why in one line; the measurements behind the values are in docs/decisions/builtin-modes.md.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from ...media.video import as_saved
from ...world.objects import backgrounds, segment, track

# ----------------------------------------------------------------------------
# Image -> video (VideoPipeline.__call__ with an image)

FIRST_FRAME_DB = 28.0  # image -> video: frame 0 is at least this close to the image (PSNR)


def toward(copy: np.ndarray, target: np.ndarray, db: float) -> np.ndarray:
    """`copy` moved toward `target` just far enough that its PSNR against it reaches `db`.

    Mixing in a fraction a of the target scales the error by (1 - a), i.e. adds -20 log10(1 - a)
    dB. The least mix is the point: the model drew frame 1 on from the copy, so every bit of the
    sharper target pasted in is a step it has to take back at frame 1.
    """
    err = copy.astype(np.float64) - target.astype(np.float64)
    mse = float(np.mean(err ** 2))
    have = 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))
    if have >= db:
        return copy
    keep = 10 ** ((have - db - 0.05) / 20)  # the share of the error that may stay (0.05 dB for rounding)
    return np.clip(np.rint(target + keep * err), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------
# Where to cut a boomerang loop (Modes.loop). Pixel statistics only.

INVISIBLE_MOVE_PX = 0.5  # a step under half a pixel can't be seen: a smaller median counts as this, not codec jitter
INVISIBLE_COLOR = 3.0  # likewise for colour, in levels of 255
FOREGROUND_DISTANCE = 10.0  # RGB distance from the background past which a pixel counts, so noise can't pull the centroid
TURN_LIMIT = 1.5  # a boomerang's far turn may stand out this many median steps; among those, the smoothest wrap wins


def motion_steps(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A content-agnostic read of how much each step moves: (T, H, W, 3) uint8 ->
    (centroid travel (T-1,) in pixels, colour change (T-1,) in RGB levels).

    Each pixel is weighted by how far its colour is from its frame's median colour (the
    background, where one fills most of the frame), less FOREGROUND_DISTANCE; the weighted
    centroid and the weighted mean colour are the image's first moments of "what is not
    background". Their frame-to-frame changes are what a viewer sees as a jump: a sudden
    shift of where things are, or of their colour. Plain mean pixel difference is a poorer
    guide: it saturates once a thing moves by more than its own size, and mixes the two."""
    centre, colour, _ = motion_track(frames)
    return np.hypot(np.diff(centre[:, 0]), np.diff(centre[:, 1])), np.linalg.norm(np.diff(colour, axis=0), axis=1)


def motion_track(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What motion_steps differences: (T, H, W, 3) uint8 -> per frame the weighted centroid
    (x, y) (T, 2) in pixels, the weighted mean colour (T, 3) and the total weight (T,)."""
    x = frames.astype(np.float32)
    T, H, W, _ = x.shape
    background = np.median(x.reshape(T, -1, 3), axis=1)[:, None, None]
    weight = np.maximum(np.linalg.norm(x - background, axis=-1) - FOREGROUND_DISTANCE, 0)  # (T, H, W)
    total = weight.sum(axis=(1, 2)) + 1e-6
    cy = (weight.sum(axis=2) * (np.arange(H) + 0.5)).sum(axis=1) / total
    cx = (weight.sum(axis=1) * (np.arange(W) + 0.5)).sum(axis=1) / total
    colour = (weight[..., None] * x).sum(axis=(1, 2)) / total[:, None]
    return np.stack([cx, cy], axis=1), colour, total


def boomerang_start(frames: np.ndarray, half: int) -> int:
    """The start a of the run frames[a : a + half + 1] that makes the smoothest boomerang.

    A boomerang's only steps the model did not draw in sequence are its two turns: the
    wrap (a + 1 -> a -> a + 1, where the file ends and starts again) and the far turn
    (a + half - 1 -> a + half -> a + half - 1). A turn is smooth when the step it repeats
    is an ordinary one, not one of the model's hops (which come mostly at latent-group
    boundaries, but not only there, so positions alone don't settle it). Each turn is
    scored as its step over the run's median step, the worse of travel and colour. The
    wrap is held to the stricter standard: it is also where a player restarts the file
    and a codec starts afresh from a key frame, adding a jump of its own. So: among starts
    whose far turn is within TURN_LIMIT median steps (all starts, if none is), the one with
    the smallest wrap score. Deterministic, and it reads pixels only."""
    move, colour = motion_steps(frames)

    def turns(a: int) -> tuple[float, float]:
        run_move, run_colour = move[a:a + half], colour[a:a + half]
        m = max(float(np.median(run_move)), INVISIBLE_MOVE_PX)
        c = max(float(np.median(run_colour)), INVISIBLE_COLOR)
        score = lambda i: max(move[i] / m, colour[i] / c)  # noqa: E731
        return score(a), score(a + half - 1)

    starts = range(len(frames) - half)
    scored = [(a, *turns(a)) for a in starts]
    fine = [row for row in scored if row[2] <= TURN_LIMIT] or scored
    return min(fine, key=lambda row: (row[1], row[0]))[0]


def best_of(count: int, draw: Callable[[], np.ndarray], score: Callable[[np.ndarray], float]) -> np.ndarray:
    """`count` calls of `draw` (in order, so a seeded generator gives the same draws), and the one
    with the lowest `score`; the first of equals."""
    return min((draw() for _ in range(count)), key=score)


# ----------------------------------------------------------------------------
# Blends (Modes.blend). Between two pinned frames the model moves the object in hops at
# latent-group boundaries; a blend starts from a tween, is drawn several times with gentle
# guidance toward its ends, has its judder glided out, and keeps the smoothest draw.

BLEND_GUIDE = 0.5  # gentler reconstruction guidance toward a blend's two ends: stronger made more of them hop
BLEND_CANDIDATES = 4  # draws per blend, the smoothest kept (hop_ratio)
BLEND_STRENGTH = 0.5  # SDEdit from the tween below t ~0.7, where the model settles layout, so its steady moves stay
BLEND_GUIDANCE = 1.0  # the blend's ends say where the object goes; a strong pull toward the prompt fights them
TWEEN_EDGE = 40.0  # alpha ramps over this many levels past FOREGROUND_DISTANCE: soft edges, no codec-noise specks


def refine_steps(steps: int, strength: float) -> int:
    """Sampler steps for SDEdit from t = strength: the share of a full run's steps it spans."""
    return max(1, round(steps * strength))


def foreground(frame: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """(H, W, 3) uint8 -> (background colour (3,), premultiplied colour layer (3, H, W),
    alpha (1, H, W), in 0-1) and the layer's centroid (x, y) in pixels and size (sqrt of area).
    The background is the frame's median colour, as in motion_steps; alpha, a pixel's share of
    the layer, grows from 0 at FOREGROUND_DISTANCE from it to 1 at FOREGROUND_DISTANCE + TWEEN_EDGE."""
    rgb = frame.astype(np.float32)
    background = np.median(rgb.reshape(-1, 3), axis=0)
    alpha = np.clip((np.linalg.norm(rgb - background, axis=-1) - FOREGROUND_DISTANCE) / TWEEN_EDGE, 0, 1)
    H, W = alpha.shape
    centroid = _centroid(alpha)
    x = torch.from_numpy(np.ascontiguousarray(frame)).float().permute(2, 0, 1) / 255.0  # (3, H, W)
    a = torch.from_numpy(alpha).float()[None]  # (1, H, W)
    if centroid is None:  # nothing stands out: the layer is empty and sits in the middle
        centroid = np.array([W / 2, H / 2])
    return (torch.from_numpy(background).float() / 255.0, x * a, a, torch.from_numpy(centroid).float(),
            math.sqrt(float(alpha.sum())) if float(alpha.sum()) >= 1.0 else 0.0)


def _centroid(alpha: np.ndarray) -> np.ndarray | None:
    """The centroid (x, y) in pixels of a foreground alpha (H, W) (foreground), or None where
    nothing stands out."""
    area = float(alpha.sum())
    if area < 1.0:
        return None
    H, W = alpha.shape
    return np.array([(alpha.sum(axis=0) * (np.arange(W) + 0.5)).sum() / area,
                     (alpha.sum(axis=1) * (np.arange(H) + 0.5)).sum() / area])


def _place(layer: torch.Tensor, source, to, scale: float = 1.0, mode: str = "bilinear",
           padding: str = "zeros") -> torch.Tensor:
    """Move a (C, H, W) layer so the point `source` (x, y) lands on `to`, scaled by `scale`
    about it (outside the frame: empty, or with padding="border" the edge repeated)."""
    C, H, W = layer.shape
    ys, xs = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    sx = source[0] + (xs - to[0]) / scale  # where each output pixel reads from, in pixels
    sy = source[1] + (ys - to[1]) / scale
    grid = torch.stack([2 * sx / W - 1, 2 * sy / H - 1], dim=-1)[None]  # (1, H, W, 2), align_corners=False
    return torch.nn.functional.grid_sample(layer[None], grid, mode=mode, padding_mode=padding,
                                           align_corners=False)[0]


def tween(first: np.ndarray, last: np.ndarray, frames: int) -> np.ndarray:
    """A rough in-between of two frames, (H, W, 3) uint8 each -> (frames, H, W, 3), first and
    last included: what stands out from each frame's background (its foreground layer) travels
    in a straight line from where it is in `first` to where it is in `last`, its size changing
    geometrically, while the two layers and the two backgrounds cross-dissolve. Crude on
    purpose: it is a layout for SDEdit to redraw, not a picture."""
    bg_a, col_a, alpha_a, c_a, s_a = foreground(first)
    bg_b, col_b, alpha_b, c_b, s_b = foreground(last)
    ratio = s_b / s_a if s_a > 0 and s_b > 0 else 1.0
    out = []
    for f in np.linspace(0.0, 1.0, frames):
        at = (1 - f) * c_a + f * c_b
        colour = (1 - f) * _place(col_a, c_a, at, ratio ** f) + f * _place(col_b, c_b, at, ratio ** (f - 1))
        alpha = (1 - f) * _place(alpha_a, c_a, at, ratio ** f) + f * _place(alpha_b, c_b, at, ratio ** (f - 1))
        background = ((1 - f) * bg_a + f * bg_b)[:, None, None]
        out.append(colour + (1 - alpha) * background)
    return (torch.stack(out).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def hop_ratio(frames: np.ndarray) -> float:
    """The largest step of travel over the median step (motion_steps; a median below
    INVISIBLE_MOVE_PX counts as that): how much the worst hop stands out from the clip's
    pace. Travel only: a transition's visible failure is a jump in position, and adding the
    colour steps picked worse draws on development cases."""
    move, _ = motion_steps(frames)
    return float(move.max() / max(float(np.median(move)), INVISIBLE_MOVE_PX))


# The model's in-betweens move in a staircase of period 4 (a hop at each latent group, a stop
# inside it); glide takes that judder out, as a stabiliser does.
GLIDE_LIMIT = 1.5  # an offset over this many pixels is not judder (the object leaving, a mis-read): left as drawn


def glide(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 whose first and last frames are fixed -> the same with the in-between
    frames shifted onto the track of their foreground centroids (motion_track) smoothed over
    one latent group. Smoothed run by run of frames where something stands out (a run's first and
    last frames keep their place, as the clip's do); frames where nothing does are left."""
    centre, _, total = motion_track(frames)  # the centroid hop_ratio reads
    out = frames.copy()
    seen = np.flatnonzero(total >= 1.0)
    for run in np.split(seen, np.flatnonzero(np.diff(seen) > 1) + 1):  # runs of consecutive frames
        if len(run) < 4:
            continue
        c = centre[run]  # (run, 2)
        # Odd reflection about each end keeps an even pace even and each end's own place.
        pad = np.concatenate([2 * c[0] - c[2:0:-1], c, 2 * c[-1] - c[-2:-4:-1]])
        kernel = np.array([0.5, 1, 1, 1, 0.5]) / 4  # a box of one group (4 frames), centred
        smooth = np.stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(2)], axis=1)
        for t, by in zip(run[1:-1], smooth[1:-1] - c[1:-1]):
            if 0 < np.linalg.norm(by) <= GLIDE_LIMIT:
                out[t] = np.clip(np.round(_shifted(frames[t], by)), 0, 255).astype(np.uint8)
    return out


# ----------------------------------------------------------------------------
# Extensions (Modes.extend): the seam with the source sits on a latent-group boundary, where
# the model's own clips jump most. Each window's drift at its seam is eased out (seam_eased),
# the seam is judged as drawn and as its file gives it back (saved_seam_ratio), and of the draws
# whose seam passes, the one the prompt explains best is kept (fit_among_passing).

EXTEND_CANDIDATES = 4  # draws per extension; eight did no better: a failing seam is the case's
SEAM_PASS = 2.0  # a seam passes at most this many median steps: the step test's own factor
FIT_TIMES = (0.5, 0.7, 0.9)  # prompt_fit's fixed noise levels: where the layout, so the motion, is settled, and below
EASE_FRAMES = 8  # seam_eased fades its correction out over this many frames, as an editor matches a splice
EASE_MOVE_LIMIT = 1.5  # a move at the seam over this many pixels is content, not drift: left alone


def saved_seam_ratio(frames: np.ndarray, at: int, fps: int, shared: slice | None = None,
                     memo: dict | None = None) -> float:
    """seam_ratio of the frames, and of them as an all-intra MP4 (Video.save) gives them back:
    the worse (yuv420p keeps colour at half resolution, so a small object's colour in the file
    moves with where its edges fall). shared: where the frames hold what every draw of one job
    shares (extend's source), whose tracks are read once into `memo` (a dict the caller keeps
    across the draws), which gives the same values: track reads each frame on its own, and the
    file codes each frame after the ones before it only, so a shared start comes back the same
    whatever follows it (a shared end does not: the frames before it change how it is coded).
    Reading every frame was most of a draw's judging cost, and grew with the source."""
    saved = as_saved(frames, fps, all_intra=True)
    if shared is None:
        return max(seam_ratio(frames, at), seam_ratio(saved, at))
    memo = {} if memo is None else memo
    def tracked(clip: np.ndarray, key: str) -> tuple[np.ndarray, np.ndarray]:
        if key not in memo:
            memo[key] = track(clip[shared])
        rest = np.ones(len(clip), dtype=bool)
        rest[shared] = False
        cent, colour = np.empty((len(clip), 2)), np.empty((len(clip), 3))
        cent[shared], colour[shared] = memo[key]
        cent[rest], colour[rest] = track(clip[rest])
        return cent, colour
    as_file = tracked(saved, "saved") if shared.indices(len(frames))[0] == 0 else track(saved)
    return max(seam_ratio(frames, at, tracked(frames, "drawn")), seam_ratio(saved, at, as_file))


def fit_among_passing(seams: list[float], fit: Callable[[int], float]) -> int:
    """The index to keep: of the candidates whose seam is at most SEAM_PASS, the one with the
    lowest fit(i); where fewer than two pass, the one with the least seam (the first of equals)."""
    passing = [i for i, s in enumerate(seams) if s <= SEAM_PASS]
    if len(passing) < 2:
        return min(range(len(seams)), key=lambda i: seams[i])
    return min(passing, key=fit)


# A window's first frames come out a few RGB levels and up to a pixel or so off the frame they
# are pinned to; seam_eased takes that drift out, reading the object with objects.py, the
# measure seams are judged with, so a seam is mended and judged alike.
def seam_eased(new: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """New frames (T, H, W, 3) uint8 that follow the frame `anchor`, with new[0]'s drift from it
    taken out in full and the correction fading linearly to nothing over EASE_FRAMES frames:
    colour (the object's and the background's, each pixel by its coverage) and position (the
    whole frame shifted, sub-pixel). For frames that lead into `anchor`, pass them reversed."""
    frames = np.concatenate([anchor[None], new[:EASE_FRAMES]])
    masks, coverage = segment(frames)
    cent, colour = track(frames[:3], (masks[:3], coverage[:3]))
    background = backgrounds(frames.astype(np.float32))  # (1 + n, 3)
    d_bg = background[0] - background[1]
    d_fg = colour[0] - colour[1] if np.isfinite(colour[:2]).all() else d_bg
    # Where new[0] would be had it kept its own pace from the anchor: the anchor's centroid plus
    # new[0]'s own step to new[1]. The offset from there, if under EASE_MOVE_LIMIT pixels, is
    # drift, eased out the same way.
    move = np.zeros(2)
    if len(cent) == 3 and np.isfinite(cent).all():
        move = cent[0] + (cent[2] - cent[1]) - cent[1]
        move = move if np.linalg.norm(move) <= EASE_MOVE_LIMIT else np.zeros(2)
    cover = np.clip(coverage[1:], 0, 1)[..., None]  # (n, H, W, 1)
    out = new.copy()
    for i in range(len(cover)):
        k = 1 - i / EASE_FRAMES
        frame = _shifted(new[i], k * move) if move.any() else new[i].astype(np.float32)
        out[i] = np.clip(np.round(frame + k * (cover[i] * d_fg + (1 - cover[i]) * d_bg)), 0, 255).astype(np.uint8)
    return out


def _shifted(frame: np.ndarray, by: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 moved by `by` (x, y) pixels, bicubic (bilinear softened corners enough to
    turn a square into a circle for the probe), edges repeated -> float (H, W, 3)."""
    x = torch.from_numpy(np.ascontiguousarray(frame)).float().permute(2, 0, 1)
    return _place(x, (0.0, 0.0), (float(by[0]), float(by[1])), mode="bicubic", padding="border").permute(1, 2, 0).numpy()


def seam_ratio(frames: np.ndarray, at: int, tracked: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """How much step `at` (frame at -> at + 1) stands out: the object's travel and colour change
    there (objects.track) over the median of the other steps (medians below what can be
    seen count as that), the worse of the two; infinite where the object is not seen.
    tracked: track(frames), where the caller has it already."""
    cent, colour = track(frames) if tracked is None else tracked
    move = np.linalg.norm(np.diff(cent, axis=0), axis=1)
    change = np.linalg.norm(np.diff(colour, axis=0), axis=1)
    if not (np.isfinite(move[at]) and np.isfinite(change[at])):
        return math.inf
    def median(steps: np.ndarray, floor: float) -> float:
        others = np.delete(steps, at)
        others = others[np.isfinite(others)]
        return max(float(np.median(others)), floor) if len(others) else floor
    return max(float(move[at]) / median(move, INVISIBLE_MOVE_PX), float(change[at]) / median(change, INVISIBLE_COLOR))

