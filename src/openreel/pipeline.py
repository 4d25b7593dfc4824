"""VideoPipeline: prompt -> video, over components passed in.

    from openreel import VideoPipeline
    pipe = VideoPipeline.from_pretrained()          # the built-in model, offline
    video = pipe("a red ball moving left on a black background", seconds=2, size="64x64", seed=0)
    video.save("out.mp4")

The pipeline owns no weights of its own: text encoder, autoencoder,
transformer and sampler are given to the constructor (diffusers' rule), so a
test can pass tiny seeded components and a GPU user a bigger model.

The generation modes are methods too: pipe(prompt, image=...), pipe.extend,
pipe.loop, pipe.remix, pipe.blend, pipe.storyboard and pipe.long. All of them
run one sampler over windows of latent frames with some frames pinned
(VideoPipeline.sample_window); README "Generation modes" has what each does
and how well, measured by eval/modes.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

from .diffusion.flow import SAMPLERS, guided, noisy, timesteps, with_known
from .media.objects import backgrounds, segment, track
from .media.video import as_saved, write_mp4
from .models.autoencoder import AutoencoderConfig, VideoAutoencoder, latent_frames
from .models.dit import DiT, DiTConfig
from .models.prompt_reader import PromptReader, PromptRewriter, ReaderConfig
from .models.wordnet import WordNet

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class GenerationDefaults:
    """What a caller gets without asking; stored in the weights' config.json."""
    sizes: tuple[str, ...] = ("64x64", "112x64", "64x112")  # native WxH: 1:1, ~16:9, ~9:16
    size: str = "64x64"
    seconds: tuple[int, ...] = (1, 2, 3, 4)  # one pass; longer videos chain extensions
    default_seconds: int = 2
    fps: tuple[int, ...] = (8,)  # the frame rate the model was trained at
    default_fps: int = 8
    steps: int = 16
    guidance: float = 4.0
    sampler: str = "euler"
    shift: float = 2.0  # timestep shift toward high noise, see diffusion.flow.timesteps

    @classmethod
    def from_dict(cls, d: dict) -> "GenerationDefaults":
        d = dict(d)
        for k in ("sizes", "seconds", "fps"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


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
        alike, the wrap and the seam are steps like the others. Predicted frames carry a small
        object's colour a few levels off from one frame to the next, most where the picture
        changes character (a white triangle's: 0.5-1.6 levels across a seam before the MP4,
        5-8 after; measured above seam_eased). The cost is size: +36% at 64x64 (12.1 to 16.5 kB
        for 4 s), 2x upscaled to 1280x720."""
        return self.params.get("mode") in ("loop", "extend")

    def save(self, path: str | Path, scale_to: tuple[int, int] | None = None) -> Path:
        return write_mp4(path, self.frames, self.fps, scale_to=scale_to, all_intra=self.all_intra)


def to_frames(y: torch.Tensor) -> np.ndarray:
    """Decoded pixels (T, 3, H, W) in about [-1, 1] -> (T, H, W, 3) uint8."""
    return np.ascontiguousarray(((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())


def parse_size(size: str) -> tuple[int, int]:
    w, _, h = str(size).lower().partition("x")
    return int(w), int(h)


def load_defaults(path: str | Path | None = None) -> GenerationDefaults:
    """The allowed and default settings of a saved model, without loading its weights."""
    cfg_path = Path(path or WEIGHTS_DIR) / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"no model at {cfg_path.parent}: config.json is missing")
    return GenerationDefaults.from_dict(json.loads(cfg_path.read_text()).get("defaults", {}))


def check_inputs(d: GenerationDefaults, prompt, seconds, size, fps, steps, guidance, sampler) -> None:
    """One rule set for CLI, HTTP and Python, with messages that name the field and what to fix."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string describing the video")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds not in d.seconds:
        raise ValueError(f"seconds must be one of {', '.join(map(str, d.seconds))}; got {seconds!r}")
    check_settings(d, size, fps, steps, guidance, sampler)


def check_settings(d: GenerationDefaults, size, fps, steps, guidance, sampler) -> None:
    """The rules every mode shares (all of check_inputs but prompt and the one-pass seconds)."""
    if size not in d.sizes:
        raise ValueError(f"size must be one of {', '.join(d.sizes)} (width x height); got {size!r}")
    if isinstance(fps, bool) or fps not in d.fps:
        raise ValueError(f"fps must be one of {', '.join(map(str, d.fps))}; got {fps!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1 or steps > 200:
        raise ValueError(f"steps must be a whole number from 1 to 200; got {steps!r}")
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or math.isnan(guidance) \
            or not 0 <= guidance <= 20:
        raise ValueError(f"guidance must be a number from 0 to 20; got {guidance!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}")


def check_output_path(path: str | Path) -> Path:
    """The output must be a .mp4 file in an existing, writable folder; checked before any work."""
    import os
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"output must be a path ending in .mp4; got {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"output {str(path)!r} is a folder; give a file path ending in .mp4")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"output folder {str(parent)!r} does not exist; create it or choose another path")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"output {str(path)!r} is not writable; choose a path you can write to")
    return path


# ----------------------------------------------------------------------------
# Inputs of the generation modes: images, videos, strengths, storyboard cards.
# Same rule as above: each message starts with the field it is about.

MAX_SECONDS = 120  # longest chained video (long, extend, storyboard); memory stays flat, time is linear
MIN_VIDEO_FRAMES = 2  # a video to extend or blend; one frame is an image (use image -> video)
MAX_CHUNK = 32  # new frames per window at most: a window is then at most the 4 s clip the model knows
# Reconstruction guidance on pinned frames (diffusion.flow.with_known). Without it the
# model draws its own layout beside a pinned frame and the video jumps at the seam.
GUIDE = 2.0
DEFAULT_STRENGTH = 0.9  # remix: measured best for this model (eval/modes.py): lower keeps the old colour or loses the object


def check_prompt(prompt, field: str = "prompt") -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"{field} must be a non-empty string describing the video")


def check_chain_seconds(seconds, field: str = "seconds", most: int = MAX_SECONDS) -> int:
    """Whole seconds from 1 to `most`, for chained modes; returns them as an int."""
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and math.isfinite(seconds) \
        and seconds == int(seconds) and 1 <= seconds <= most
    if not ok:
        raise ValueError(f"{field} must be a whole number of seconds from 1 to {most}; got {seconds!r}")
    return int(seconds)


def check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
        raise ValueError(f"strength must be in (0, 1], got {strength!r}")
    return float(strength)


MAX_DRAWS = 8  # extend and blend: more costs time for little (4 already keeps the best of the spread)


def check_draws(draws) -> int:
    """How many times extend and blend draw their new frames, keeping the best: 1 to MAX_DRAWS."""
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws must be a whole number from 1 to {MAX_DRAWS}; got {draws!r}")
    return draws


def check_cards(cards) -> list[tuple[str, int]]:
    """A storyboard: a non-empty list of {"prompt": str, "seconds": number} -> [(prompt, seconds)]."""
    if not isinstance(cards, (list, tuple)) or not cards:
        raise ValueError('cards must be a non-empty list of {"prompt": ..., "seconds": ...} cards; '
                         f"got {cards!r:.80}")
    out = []
    for i, card in enumerate(cards):
        if not isinstance(card, dict) or "prompt" not in card:
            raise ValueError(f'cards[{i}] must be a {{"prompt": ..., "seconds": ...}} card; got {card!r:.80}')
        unknown = set(card) - {"prompt", "seconds"}
        if unknown:
            raise ValueError(f"cards[{i}] has unknown keys {sorted(unknown)}; a card has prompt and seconds")
        check_prompt(card["prompt"], f"cards[{i}].prompt")
        out.append((card["prompt"], check_chain_seconds(card.get("seconds", 4), f"cards[{i}].seconds")))
    total = sum(sec for _, sec in out)
    if total > MAX_SECONDS:
        raise ValueError(f"cards must add up to at most {MAX_SECONDS} seconds; got {total}")
    return out


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


def fit_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale (T, H, W, 3) frames to cover width x height, keeping their aspect ratio, and crop the centre."""
    T, H, W, _ = frames.shape
    if (W, H) == (width, height):
        return frames
    from PIL import Image
    scale = max(width / W, height / H)
    w, h = max(width, round(W * scale)), max(height, round(H * scale))
    box = ((w - width) // 2, (h - height) // 2, (w - width) // 2 + width, (h - height) // 2 + height)
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.LANCZOS).crop(box))
                     for f in frames])


def load_image(image) -> np.ndarray:
    """A path, a PIL image or an (H, W, 3) uint8 array -> (H, W, 3) uint8 RGB."""
    from PIL import Image, UnidentifiedImageError
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise ValueError(f"image {str(path)!r} is not a file; give the path of a PNG or JPEG image")
        try:
            with Image.open(path) as im:
                image = im.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            raise ValueError(f"image {str(path)!r} is not a readable image ({exc})") from None
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise ValueError("image must be a path to an image file, a PIL image or an (H, W, 3) uint8 array; "
                         f"got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(f"image must be an (H, W, 3) uint8 array; got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def load_video(video, fps: int, field: str = "video") -> np.ndarray:
    """A Video, a (T, H, W, 3) uint8 array (taken to be at `fps`) or a path to a video file ->
    (T, H, W, 3) uint8 at `fps`. Other frame rates are resampled to `fps` by picking the nearest frames."""
    from .media.video import read_video
    source_fps = fps
    if isinstance(video, Video):
        video, source_fps = video.frames, video.fps
    elif isinstance(video, (str, Path)):
        path = Path(video)
        if not path.is_file():
            raise ValueError(f"{field} {str(path)!r} is not a file; give the path of a video (MP4, WebM, ...)")
        try:
            video, source_fps = read_video(path)
        except ValueError as exc:
            raise ValueError(f"{field} {str(path)!r} is not a readable video ({exc})") from None
    if not isinstance(video, np.ndarray):
        raise ValueError(f"{field} must be a Video, a (T, H, W, 3) uint8 array or a path to a video file; "
                         f"got {type(video).__name__}")
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[3] != 3 or 0 in video.shape:
        raise ValueError(f"{field} must be a (T, H, W, 3) uint8 array; got {video.dtype} {video.shape}")
    if source_fps and abs(source_fps - fps) > 0.01 * fps:
        picks = np.round(np.arange(0, len(video) * fps / source_fps) * source_fps / fps).astype(int)
        video = video[np.unique(picks.clip(0, len(video) - 1))]
    return np.ascontiguousarray(video)


def video_size(d: GenerationDefaults, frames: np.ndarray, size: str | None) -> str:
    """The size a mode works at: the one asked for, else the video's own if native, else the default."""
    if size is not None:
        return size
    own = f"{frames.shape[2]}x{frames.shape[1]}"
    return own if own in d.sizes else d.size


@dataclass(frozen=True)
class Settings:
    """The resolved, checked settings of one job (see VideoPipeline.settings)."""
    size: str
    fps: int
    steps: int
    guidance: float
    sampler: str
    shift: float

    @property
    def width(self) -> int:
        return parse_size(self.size)[0]

    @property
    def height(self) -> int:
        return parse_size(self.size)[1]


# ----------------------------------------------------------------------------
# Where to cut a boomerang loop (VideoPipeline.loop). Pixel statistics only.

# Below these a step can't be seen (half a pixel of travel, 3 of 255 levels of colour), so a
# median below them is taken as them: else a still clip's codec-level jitter sets the scale.
INVISIBLE_MOVE_PX = 0.5
INVISIBLE_COLOR = 3.0
# A pixel counts toward "what differs from the background" only beyond this colour distance
# (RGB, 0-255), so generator and codec noise on the background does not pull the centroid.
FOREGROUND_DISTANCE = 10.0
# A boomerang turns twice. The far turn must stay within this many median steps to be
# acceptable; among starts that meet it, the wrap (see boomerang_start) is made the smoothest.
TURN_LIMIT = 1.5


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
# Blends (VideoPipeline.blend). Between two pinned frames the model moves the object in hops
# at latent-group boundaries. Two training-free remedies, measured on development cases
# (eval.modes --seed 777, 50 blends): gentler reconstruction guidance toward the ends (2.0:
# 26% of blends pass the step test, 1.0: 28%, 0.5: 38%, 0.25: 32%, 0: 6%; 4 and 8: 12%, 4%),
# and keeping the smoothest of several draws (0.5 and 4 draws: 48%, against 38% for one).
BLEND_GUIDE = 0.5
BLEND_CANDIDATES = 4


# A blend's frames start from a rough in-between (tween), noised to t = BLEND_STRENGTH and
# denoised under the prompt (SDEdit, as Meng et al. turn a rough sketch into a picture): the
# model decides each latent frame's layout while t is above about 0.7 (README), so starting
# below that from a layout that moves steadily keeps the moves steady. 0 keeps no tween.
# Blends passing, development cases (eval.modes --only blend --cases 25, shipped caption-v2
# weights), --seed 777 / 4242: no tween 56% / -, strength 0.4 - / 76%, 0.5 88% / 80%,
# 0.6 88% / 76%, 0.7 84% / 76%, 0.8 92% / 76%. What still failed was mostly a blend the prompt
# calls static whose ends are a few pixels apart: the model moves the object in a staircase, a
# hop at each latent group and still within it (glide takes that out).
BLEND_STRENGTH = 0.5
# A blend's classifier-free guidance unless the caller sets one: its two ends say where the
# object goes, and a strong pull toward the prompt fights them (a "static" prompt holds the
# object still, then it hops into B's place). Development blends passing, shipped weights,
# --seed 777 / 4242: guidance 4 (the model's default) 88% / 84%, 2: 88% / 92%, 1 (none): 92% / 92%.
BLEND_GUIDANCE = 1.0
# A pixel's share of the foreground layer grows from 0 at FOREGROUND_DISTANCE from the
# background colour to 1 at FOREGROUND_DISTANCE + TWEEN_EDGE: soft edges, no codec-noise specks.
TWEEN_EDGE = 40.0


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
    colour steps picked worse draws on development cases (38% against 48%)."""
    move, _ = motion_steps(frames)
    return float(move.max() / max(float(np.median(move)), INVISIBLE_MOVE_PX))


# Between its two pinned ends the model moves the object in hops at latent-group boundaries
# (frame 4p -> 4p + 1) and slows to a stop inside each group: a staircase of period 4. Where the
# ends are a few pixels apart (a "static" prompt) the hops are most of the travel and stand out
# against a pace of a few tenths of a pixel. glide takes that judder out, as a stabiliser does:
# each in-between frame is shifted (sub-pixel) by its centroid's offset from the track smoothed
# over one group (a period-4 box, so an even pace passes through unchanged), the two ends not at
# all. The centroid is the one hop_ratio reads (motion_track). An offset over GLIDE_LIMIT pixels
# is not judder (the object leaving the frame, a mis-read): that frame is left as drawn.
# Development blends passing (eval.modes --only blend --cases 25), --seed 777 / 4242 / 99: without
# 23 / 23 / 22, with 25 / 25 / 25 (and 17 -> 24, 21 -> 24 on --seed 5151 / 6262). Every failure
# without it was a "static" blend. (The centroid of the soft alpha, _centroid, did as well over
# those five seeds, 123 of 125; smoothing the decoded frames only, the two pasted ends left out
# of the track, did worse: 19 of the 24 static blends against 22.)
GLIDE_LIMIT = 1.5


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
# Extensions (VideoPipeline.extend): the seam with the source sits on a latent-group
# boundary, where the model's own clips jump most. Keeping the draw whose seam stands out
# least, of 4, passed the seam test in 76% of forward extensions on development cases
# (eval.modes --only extend --seed 777; one draw: 52%) and followed the prompt in 88% (84%);
# on the reported cases forward 38% -> 60%, backward 48% -> 64% (README). Eight draws did no
# better than four (--seed 777 / 4242: the same seams passed): a failing seam is the case's.
EXTEND_CANDIDATES = 4
# Of the draws whose seam passes (seam_ratio at most SEAM_PASS, the step test's own factor),
# extend keeps the one its prompt explains best (VideoPipeline.prompt_fit): with the seam alone
# the kept draw often did not do what the prompt asked (development extensions, forward --seed
# 777 / 4242 / 99 / 5151: 8 of 94 read a wrong motion, mostly "static" for a new direction,
# while another draw with a clean seam did it). Following the prompt, with it: forward 92 / 96
# / 82 / 92% -> 96 / 91 / 95 / 96%, seams 100 / 96 / 86 / 100% -> 100 / 91 / 91 / 100%;
# backward (777 / 4242) follows 96 / 81% either way, seams 88 / 100% -> 96 / 100%. Choosing by
# how closely the object keeps the source's outline instead (session 11; a small square drawn
# round is forward's commonest miss) followed the prompt less on fresh development extensions:
# forward --seed 2323 / 4545 88 / 84% against the fit's 88 / 88%, backward 5656 / 7878 88 / 76%
# against 92 / 80% (README).
SEAM_PASS = 2.0
# The noise levels prompt_fit compares at: where the layout, and so the motion, is settled (t >
# about 0.7) and a little below. Fixed noise, so a draw's fit does not depend on luck.
FIT_TIMES = (0.5, 0.7, 0.9)


# A seam is judged as drawn and as its file gives it back, the worse of the two. yuv420p keeps
# colour at half resolution, so a small object's colour in the file moves with where its edges
# fall on the 2x2 grid: seams eased to nothing came back 5-13 levels off (the median step of such
# clips, 4-7). extend chooses among the draws whose seam passes both ways, and where fewer than
# two of its draws pass, it draws as many again. That happens mostly on objects that have shrunk
# small, where the model also places the new frames off: development extensions after shrinking sources
# (forward, 25 each on dev seeds 1212 / 3434, all-intra file), of 25:
#                                                   seams passing    following the prompt
#   4 draws, seam as drawn (before)                    18 / 11            18 / 20
#   4, as many again where < 2 pass, seam in the file   22 / 16            19 / 21
# Offline, on the same draws: 4 draws with the seam in the file alone, 19 / 14 seams; on 25 + 25
# sources of any motion, seams 25 / 25 and following 23 / 19 before and after (4 of 50 would draw
# more). A draw costs about 0.8 s; the file 20 ms.


def saved_seam_ratio(frames: np.ndarray, at: int, fps: int, shared: slice | None = None,
                     memo: dict | None = None) -> float:
    """seam_ratio of the frames, and of them as an all-intra MP4 (Video.save) gives them back:
    the worse. shared: where the frames hold what every draw of one job shares (extend's
    source), whose tracks are read once into `memo` (a dict the caller keeps across the draws), which
    gives the same values: track reads each frame on its own, and the file codes each frame
    after the ones before it only, so a shared start comes back the same whatever follows it
    (a shared end does not: the frames before it change how it is coded). Reading every frame
    was most of a draw's judging cost, and grew with the source: 1.8 s a draw for a 60 s one."""
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


# Seams that fail the 2x-median test mostly fail on colour, not travel: the model draws a
# window's first frames a few RGB levels off the frame it is pinned to (the object's solid
# inside most; visible where the clip's own steps change colour by one or two levels), and
# placed up to a pixel or so off its pace. seam_eased takes that drift out at each window's
# seam and fades the correction over EASE_FRAMES frames, as an editor matches a splice. A
# move over EASE_MOVE_LIMIT pixels is content, not drift: left alone. A colour change of any
# size is eased: across a seam the object is the same object, and a larger one becomes a
# one-second fade instead of a jump.
#
# Where the object is and what colour it is come from media.objects (coverage against the
# background: the measure the probe and eval.modes read seams with), for the easing and for
# choosing among draws (seam_ratio). Both first read a cruder foreground (distance from the
# background, full weight from 50 levels out, and a weighted mean colour), whose centroid sat
# up to 0.8 px off the object's on the same frame: shifting by its estimate made some seams
# worse. Development extensions (eval.modes --only extend), seams passing in the file as saved,
# on sources that show their object at the seam, forward --seed 777 / 4242 / 99 / 5151 and
# backward 777 / 4242:
#   cruder measure, inter-coded file            76 / 78 / 68 / 83%    79 / 81%
#   cruder measure, all-intra file (Video)      80 / 91 / 73 / 92%    83 / 90%
#   media.objects, inter-coded file             92 / 91 / 86 / 100%   92 / 81%
#   media.objects, all-intra file (shipped)     100 / 96 / 86 / 100%  88 / 100%
# (before any MP4: 100 / 100 / 95 / 100% and 96 / 100%).
EASE_FRAMES = 8
EASE_MOVE_LIMIT = 1.5


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
    there (media.objects.track) over the median of the other steps (medians below what can be
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


class Field(NamedTuple):
    """A prompt's velocity field: `guided` samples; `cond` (no guidance) steers pinned frames;
    given(known, known_mask) is the same field told which latent frames are known (frame_cond models)."""
    guided: Callable
    cond: Callable
    given: Callable[[torch.Tensor, torch.Tensor], "Field"]


class _Progress:
    """Counts denoising steps over a whole job (every window of it), for callback(i, n)."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int):
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, i, n, x) -> None:  # a sampler's per-step callback
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


class VideoPipeline:
    def __init__(self, text_encoder: Callable, autoencoder: VideoAutoencoder, transformer: DiT,
                 defaults: GenerationDefaults = GenerationDefaults(), name: str = "openreel-v1",
                 reader: PromptReader | None = None):
        self.text_encoder = text_encoder
        self.autoencoder = autoencoder.eval()
        self.transformer = transformer.eval()
        self.defaults = defaults
        self.name = name
        self.reader = reader
        # The reader rewrites prompts in wording the transformer never read (models/prompt_reader.py);
        # off, the transformer reads every prompt as given. It needs MiniLM's own tokenizer and model.
        encoder = getattr(text_encoder, "encoder", text_encoder)
        self.rewriter = (PromptRewriter(reader, encoder, WordNet()) if reader is not None and hasattr(encoder, "bert")
                         else None)
        self.rewrite_prompts = self.rewriter is not None
        self._null_text = None

    # ------------------------------------------------------------------
    # Loading

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, text_encoder: Callable | None = None) -> "VideoPipeline":
        """Load weights saved by `save_pretrained` (default: the built-in model shipped in the package)."""
        from safetensors.torch import load_file
        from .models.text_encoder import CachedTextEncoder, TextEncoder
        path = Path(path) if path else WEIGHTS_DIR
        cfg_path = path / "config.json"
        if not cfg_path.exists():
            raise FileNotFoundError(f"no model at {path}: config.json is missing")
        config = json.loads(cfg_path.read_text())
        ae = cls.load_autoencoder(path)
        dit = cls.load_transformer(path)
        te = text_encoder or CachedTextEncoder(TextEncoder())
        return cls(te, ae, dit, GenerationDefaults.from_dict(config.get("defaults", {})), config.get("name", "openreel-v1"),
                   reader=cls.load_reader(path))

    @staticmethod
    def load_reader(path: Path) -> PromptReader | None:
        """The folder's prompt reader; None for older folders, whose prompts go to the transformer as given."""
        from safetensors.torch import load_file
        config = json.loads((path / "config.json").read_text())
        if "prompt_reader" not in config:
            return None
        reader = PromptReader(ReaderConfig(**config["prompt_reader"]))
        reader.load_state_dict(load_file(path / "prompt_reader.safetensors"))
        return reader

    @staticmethod
    def load_transformer(path: Path) -> DiT:
        from safetensors.torch import load_file
        config = json.loads((path / "config.json").read_text())
        dit = DiT(DiTConfig(**config["transformer"]))
        dit.load_state_dict(load_file(path / "transformer.safetensors"))
        return dit

    @staticmethod
    def load_autoencoder(path: Path) -> VideoAutoencoder:
        from safetensors.torch import load_file
        config = json.loads((path / "config.json").read_text())
        ae = VideoAutoencoder(AutoencoderConfig.from_dict(config["autoencoder"]))
        ae.load_state_dict(load_file(path / "autoencoder.safetensors"))
        return ae

    def save_pretrained(self, path: str | Path, extra: dict | None = None) -> None:
        from safetensors.torch import save_file
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.autoencoder.state_dict().items()}, path / "autoencoder.safetensors")
        save_file({k: v.contiguous() for k, v in self.transformer.state_dict().items()}, path / "transformer.safetensors")
        if self.reader is not None:
            save_file({k: v.contiguous() for k, v in self.reader.state_dict().items()}, path / "prompt_reader.safetensors")
        d = self.defaults
        config = {"name": self.name, "autoencoder": self.autoencoder.cfg.to_dict(),
                  "transformer": self.transformer.cfg.to_dict(),
                  "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (token states, frozen)",
                  "defaults": {k: list(v) if isinstance(v, tuple) else v for k, v in d.__dict__.items()},
                  **({"prompt_reader": self.reader.cfg.to_dict()} if self.reader is not None else {}),
                  **(extra or {})}
        (path / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    def check_inputs(self, prompt, seconds, size, fps, steps, guidance, sampler) -> None:
        check_inputs(self.defaults, prompt, seconds, size, fps, steps, guidance, sampler)

    # ------------------------------------------------------------------
    # Generation

    def revise_prompt(self, prompt: str) -> str:
        """What the transformer reads for `prompt`: the prompt itself, or, in wording it never
        read, the training caption the prompt reader makes of it."""
        return self.rewriter.revise(prompt) if self.rewrite_prompts and self.rewriter else prompt

    def encode_prompt(self, prompt: str):
        if self._null_text is None:
            self._null_text = self.text_encoder([""])
        states, mask = self.text_encoder([self.revise_prompt(prompt)])
        return (states, mask), self._null_text

    @torch.no_grad()
    def prompt_fit(self, prompt: str, frames: np.ndarray) -> float:
        """How well `prompt` explains the frames (T, H, W, 3) uint8, lower is better: the
        transformer's velocity error on their latents with the prompt, less its error without
        one, at each of FIT_TIMES (fixed noise). A diffusion model read as a zero-shot
        classifier (Li et al. 2023; Clark & Jaini 2023): the model's own judgement, no probe."""
        z = self.encode_head(frames)  # (1, n, C, h, w)
        (text, mask), (null, null_mask) = self.encode_prompt(prompt)
        gen = torch.Generator().manual_seed(0)
        fit = 0.0
        for t in FIT_TIMES:
            noise = torch.randn(z.shape, generator=gen)
            x, tt = noisy(z, noise, torch.tensor([t])), torch.full((1,), t)
            errors = [float((self.transformer(x, tt, s, m) - (noise - z))[:, 1:].pow(2).mean())
                      for s, m in ((text, mask), (null, null_mask))]
            fit += errors[0] - errors[1]
        return fit

    def velocity(self, prompt: str, guidance: float, known: torch.Tensor | None = None,
                 known_mask: torch.Tensor | None = None) -> "Field":
        """The velocity field for one prompt: with classifier-free guidance, and without. A
        frame_cond transformer also sees known latents (1, n, C, h, w) where known_mask (1, n) is
        True, with and without the prompt alike, so guidance pushes toward the text only."""
        (text, mask), (null, null_mask) = self.encode_prompt(prompt)
        dit = self.transformer
        frames = {} if known is None else {"known": known, "known_mask": known_mask}

        def cond(z, t):
            return dit(z, torch.full((1,), t), text, mask, **frames)

        def uncond(z, t):
            return dit(z, torch.full((1,), t), null, null_mask, **frames)

        return Field(guided(cond, uncond, guidance), cond,
                     lambda k, m: self.velocity(prompt, guidance, k, m))

    def settings(self, size=None, fps=None, steps=None, guidance=None, sampler=None) -> "Settings":
        """Fill in the model's defaults and check them (the rules every mode shares)."""
        d = self.defaults
        size = d.size if size is None else size
        fps = d.default_fps if fps is None else fps
        steps = d.steps if steps is None else steps
        guidance = d.guidance if guidance is None else guidance
        sampler = d.sampler if sampler is None else sampler
        check_settings(d, size, fps, steps, guidance, sampler)
        return Settings(size, fps, steps, guidance, sampler, d.shift)

    @torch.no_grad()
    def __call__(self, prompt: str, seconds: int | None = None, size: str | None = None, fps: int | None = None,
                 steps: int | None = None, guidance: float | None = None, seed: int = 0,
                 sampler: str | None = None, callback: Callable[[int, int], None] | None = None,
                 image=None) -> Video:
        """Text -> video in one pass; with `image` (a path, PIL image or (H, W, 3) uint8 array),
        image -> video: the image, scaled to cover `size` and centre-cropped, is frame 0 and
        the prompt says what happens next."""
        d = self.defaults
        seconds = d.default_seconds if seconds is None else seconds
        # 1. Check inputs
        o = self.settings(size, fps, steps, guidance, sampler)
        self.check_inputs(prompt, seconds, o.size, o.fps, o.steps, o.guidance, o.sampler)
        first = None if image is None else fit_frames(load_image(image)[None], o.width, o.height)
        frames = int(round(seconds * o.fps))
        # 2. The velocity field of the prompt (and the empty prompt, for guidance)
        velocity = self.velocity(prompt, o.guidance)
        # 3. Known latents: the image is latent frame 0 (the causal autoencoder encodes frame 0 alone)
        pinned = {} if first is None else {0: self.encode_frame(first[0])}
        # 4. Denoise from noise drawn from the seed alone
        gen = torch.Generator().manual_seed(int(seed))
        z = self.sample_window(velocity, latent_frames(frames, self.autoencoder.cfg.time_factor), o, gen,
                               _Progress(callback, o.steps), pinned)
        # 5. Decode to pixels. Frame 0 is the autoencoder's copy of the image, pulled toward the
        # image only where the copy is worse than FIRST_FRAME_DB: pasting the sharper original in
        # whole made the frame 0 -> 1 step jump in 41 of 50 cases, against 27 for the copy.
        video = self.decode(z)[:frames]
        if first is not None:
            video[0] = toward(video[0], first[0], FIRST_FRAME_DB)
        params = {"model": self.name, "seconds": seconds, "size": o.size, "fps": o.fps, "steps": o.steps,
                  "guidance": o.guidance, "seed": int(seed), "sampler": o.sampler}
        if first is not None:
            params["mode"] = "image"
        revised = self.revise_prompt(prompt)
        if revised != prompt:  # say what the transformer read, so a surprising video can be explained
            params["revised_prompt"] = revised
        return Video(video, o.fps, prompt, params)

    # ------------------------------------------------------------------
    # The one sampler every mode uses: a window of latent frames, some pinned
    #
    # A window of n latent frames decodes to 1 + 4(n - 1) frames. Latent 0 is
    # frame 0 alone; latent p >= 1 is the group of frames 4p-3 .. 4p. Groups are
    # encoded independently (autoencoder.py), and one frame alone encodes exactly
    # as a group of 4 copies of it. So one frame can be pinned at any position:
    # at 0 it is that frame, elsewhere a group holding still on it. Pinned latents
    # stay on their noising line and the model draws the rest around them, with
    # reconstruction guidance toward them (diffusion.flow.with_known): a
    # training-free way to condition a model trained on text -> video only.
    #
    # A transformer trained with masked frame conditioning (DiT frame_cond) is
    # also told which frames are known: at each pinned position, the latent of the
    # one frame alone (at p >= 1, the first frame of that group). Replacement and
    # guidance stay on as well: measured on a 5,800-step fine-tune, telling alone
    # (no held group) made backward seams pass in 1 of 50 cases, against 28 with both.
    #
    # Why single frames, not runs of them: the model never saw a motion change
    # inside a clip, so pinning frames that show one motion fights a prompt asking
    # for another. A single frame pins position, shape and colour, and leaves the
    # motion to the prompt.

    def encode_head(self, frames: np.ndarray) -> torch.Tensor:
        """(T, H, W, 3) uint8, frame 0 first -> latents (1, 1 + ceil((T-1)/4), C, h, w)."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return self.autoencoder.encode(x[None])  # (1, n, C, h, w)

    def encode_frame(self, frame: np.ndarray) -> torch.Tensor:
        """One (H, W, 3) uint8 frame -> its latent (1, 1, C, h, w), for any window position."""
        return self.encode_head(frame[None])

    def decode(self, z: torch.Tensor) -> np.ndarray:
        return to_frames(self.autoencoder.decode(z)[0])  # (1 + 4(n-1), H, W, 3) uint8

    def sample_window(self, velocity: "Field", n: int, o: "Settings", gen: torch.Generator, progress: _Progress,
                      pinned: dict[int, torch.Tensor] | None = None, init: torch.Tensor | None = None,
                      strength: float = 1.0, steps: int | None = None, guide: float = GUIDE) -> torch.Tensor:
        """Sample n latent frames. pinned: {position: latent (1, 1, C, h, w)} held there;
        init: latents (1, n, C, h, w) to start from, noised to t = strength (SDEdit);
        guide: reconstruction guidance toward the pinned frames (diffusion.flow.with_known)."""
        ae = self.autoencoder.cfg
        shape = (1, n, ae.latent_channels, o.height // ae.space_factor, o.width // ae.space_factor)
        noise = torch.randn(shape, generator=gen)
        x = noise if init is None else noisy(init, noise, torch.tensor([strength]))
        model = velocity.guided
        if pinned:
            known, mask = torch.zeros(shape), torch.zeros(1, n, 1, 1, 1, dtype=torch.bool)
            for p, z in pinned.items():
                known[:, p], mask[:, p] = z[:, 0], True
            if self.transformer.cfg.frame_cond:
                velocity = velocity.given(known, mask.view(1, n))
            x = torch.where(mask, noisy(known, noise, torch.tensor([strength])), x)
            model = with_known(velocity.guided, known, noise, mask, guide=guide, guide_model=velocity.cond)
        ts = timesteps(o.steps if steps is None else steps, o.shift, start=strength)
        return SAMPLERS[o.sampler](model, x, ts, callback=progress)

    # ------------------------------------------------------------------
    # Chains of windows: extension forward and backward

    @staticmethod
    def chunks(frames: int) -> list[int]:
        """Split a run of new frames into chunks of at most MAX_CHUNK, whole groups, as even as possible."""
        count = math.ceil(frames / MAX_CHUNK)
        size = 4 * math.ceil(frames / count / 4)
        return [size] * (count - 1) + [frames - size * (count - 1)]

    def forward(self, last: np.ndarray | None, segments: list[tuple[str, int]], o: "Settings",
                gen: torch.Generator, progress: _Progress):
        """Yield new frames after the frame `last` (None: start from nothing), chunk by chunk:
        `frames` frames following each (prompt, frames) segment. A window per chunk, its
        frame 0 pinned to the latest frame, its drift from that frame eased out (seam_eased).
        Only that frame is kept, so memory stays flat."""
        for prompt, frames in segments:
            velocity = self.velocity(prompt, o.guidance)
            for chunk in self.chunks(frames):
                if last is None:  # the very first chunk is plain text -> video
                    new = self.decode(self.sample_window(velocity, latent_frames(chunk), o, gen, progress))[:chunk]
                else:
                    z = self.sample_window(velocity, 1 + math.ceil(chunk / 4), o, gen, progress,
                                           {0: self.encode_frame(last)})
                    new = seam_eased(self.decode(z)[1:1 + chunk], last)
                last = new[-1]
                yield new

    def backward(self, first: np.ndarray, prompt: str, frames: int, o: "Settings", gen: torch.Generator,
                 progress: _Progress) -> np.ndarray:
        """`frames` new frames leading into the frame `first`, built back to front. Each window
        holds still on the earliest frame so far in its last group (a frame_cond model is
        also told it), and its frames before that group are the new ones."""
        velocity = self.velocity(prompt, o.guidance)
        out = []
        for chunk in self.chunks(frames):
            n = math.ceil((chunk + 7) / 4)  # new frames: window frames 0 .. 4(n-1) - 4
            z = self.sample_window(velocity, n, o, gen, progress, {n - 1: self.encode_frame(first)})
            new = seam_eased(self.decode(z)[:4 * (n - 1) - 3][-chunk:][::-1], first)[::-1]
            out.insert(0, new)
            first = new[0]
        return np.concatenate(out)

    def _video_input(self, video, field: str, o: "Settings", size) -> tuple[np.ndarray, "Settings"]:
        """Load a video argument at the job's fps, and settle the job's size from it."""
        frames = load_video(video, o.fps, field)
        if size is None:
            o = replace(o, size=video_size(self.defaults, frames, None))
        if len(frames) < MIN_VIDEO_FRAMES:
            raise ValueError(f"{field} must have at least {MIN_VIDEO_FRAMES} frames (for a single image, use "
                             f"image -> video); got {len(frames)}")
        return fit_frames(frames, o.width, o.height), o

    def _params(self, mode: str, o: "Settings", seed: int, **extra) -> dict:
        return {"model": self.name, "mode": mode, "size": o.size, "fps": o.fps, "steps": o.steps,
                "guidance": o.guidance, "seed": int(seed), "sampler": o.sampler, **extra}

    def _check_one_pass_seconds(self, seconds) -> int | float:
        seconds = self.defaults.default_seconds if seconds is None else seconds
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds not in self.defaults.seconds:
            raise ValueError(f"seconds must be one of {', '.join(map(str, self.defaults.seconds))}; got {seconds!r}")
        return seconds

    # ------------------------------------------------------------------
    # The modes (issue 3). Each checks its inputs first, then runs windows of the one sampler.

    @torch.no_grad()
    def extend(self, video, prompt: str, seconds: int | None = None, backward: bool = False,
               size: str | None = None, fps: int | None = None, steps: int | None = None,
               guidance: float | None = None, seed: int = 0, sampler: str | None = None,
               callback: Callable[[int, int], None] | None = None, draws: int = EXTEND_CANDIDATES) -> Video:
        """Add `seconds` of video after (or, with backward=True, before) `video`, following `prompt`.
        Returns the whole video: the source's frames untouched, plus the new ones. The new
        part is drawn `draws` times (default EXTEND_CANDIDATES; 1 is fastest), each window's
        drift in colour and place at its seam eased out (seam_eased); where fewer than two
        seams pass (saved_seam_ratio: as drawn and in the file; with one draw, where its seam
        fails), as many again are drawn. Of the draws whose seam passes, the one the prompt
        explains best (prompt_fit) is kept, or with fewer than two passing, the least visible
        seam. long and storyboard chain single draws (their time budget)."""
        # 1. Check inputs
        check_prompt(prompt)
        draws = check_draws(draws)
        seconds = check_chain_seconds(self.defaults.default_seconds if seconds is None else seconds)
        o = self.settings(size, fps, steps, guidance, sampler)
        source, o = self._video_input(video, "video", o, size)
        frames = seconds * o.fps
        gen = torch.Generator().manual_seed(int(seed))
        progress = _Progress(callback, o.steps * len(self.chunks(frames)) * draws)
        # 2. Windows of new frames, each pinned to the frame next to it; `draws` draws, or twice
        # that where fewer than two seams pass
        def draw() -> np.ndarray:
            if backward:
                return np.concatenate([self.backward(source[0], prompt, frames, o, gen, progress), source])
            return np.concatenate([source, *self.forward(source[-1], [(prompt, frames)], o, gen, progress)])

        at = frames - 1 if backward else len(source) - 1  # the step across the seam
        shared, memo = (slice(frames, None) if backward else slice(0, len(source))), {}  # the source's tracks, read once
        made = [draw() for _ in range(draws)]
        seams = [saved_seam_ratio(d, at, o.fps, shared, memo) for d in made]
        if sum(s <= SEAM_PASS for s in seams) < min(2, draws):
            progress.total *= 2
            made += [draw() for _ in range(draws)]
            seams += [saved_seam_ratio(d, at, o.fps, shared, memo) for d in made[draws:]]
        # 3. Keep one: a clean seam first, then the prompt's fit, read on the new frames next to
        # the seam with the frame they join
        near = slice(at + 1 - min(frames, MAX_CHUNK), at + 2) if backward else slice(at, at + 1 + min(frames, MAX_CHUNK))
        out = made[fit_among_passing(seams, lambda i: self.prompt_fit(prompt, made[i][near]))]
        return Video(out, o.fps, prompt, self._params("extend", o, seed, seconds=seconds, backward=bool(backward),
                                                    source_frames=len(source), draws=draws, drawn=len(made)))

    @torch.no_grad()
    def loop(self, prompt: str, seconds: int | None = None, size: str | None = None, fps: int | None = None,
             steps: int | None = None, guidance: float | None = None, seed: int = 0,
             sampler: str | None = None, callback: Callable[[int, int], None] | None = None) -> Video:
        """A clip whose last frame flows into its first: a run of `half` steps of one 4 s
        text -> video clip, played forward and then back (a boomerang), so every step, the
        wrap included, is one the model drew. The run is cut where its turns are smoothest
        (boomerang_start). (A generated way back, a window from the end that held still on
        frame 0, failed the wrap-step test in 39 of 50 measured loops: between two pinned
        frames the model moves the object in hops at latent-frame boundaries, not in a glide.)"""
        # 1. Check inputs
        check_prompt(prompt)
        seconds = self._check_one_pass_seconds(seconds)
        o = self.settings(size, fps, steps, guidance, sampler)
        half = 4 * math.ceil(seconds * o.fps / 8)  # whole groups
        # 2. The longest clip the model was trained on (4 s), so there are many places to cut
        # the run from; its cost is one window, as a 4 s text -> video.
        n = max(latent_frames(max(self.defaults.seconds) * o.fps, self.autoencoder.cfg.time_factor),
                2 + half // 4)
        z = self.sample_window(self.velocity(prompt, o.guidance), n, o,
                               torch.Generator().manual_seed(int(seed)), _Progress(callback, o.steps))
        clip = self.decode(z)
        # 3. Frames a .. a + half, then back down to a + 1
        a = boomerang_start(clip, half)
        there = clip[a:a + half + 1]
        out = np.concatenate([there, there[-2:0:-1]])
        return Video(out, o.fps, prompt, self._params("loop", o, seed, seconds=seconds))

    @torch.no_grad()
    def remix(self, video, prompt: str, strength: float = DEFAULT_STRENGTH, size: str | None = None,
              fps: int | None = None, steps: int | None = None, guidance: float | None = None, seed: int = 0,
              sampler: str | None = None, callback: Callable[[int, int], None] | None = None) -> Video:
        """SDEdit (Meng et al. 2022): noise the video's latents to t = strength and denoise them
        under `prompt`. Low strength keeps more of the source, 1 keeps only its length. Runs
        round(steps * strength) steps per window; a long video goes in chained windows."""
        # 1. Check inputs
        check_prompt(prompt)
        strength = check_strength(strength)
        o = self.settings(size, fps, steps, guidance, sampler)
        source, o = self._video_input(video, "video", o, size)
        n_steps = refine_steps(o.steps, strength)
        velocity = self.velocity(prompt, o.guidance)
        gen = torch.Generator().manual_seed(int(seed))
        head = min(len(source), 1 + MAX_CHUNK)
        rest = self.chunks(len(source) - head) if len(source) > head else []
        progress = _Progress(callback, n_steps * (1 + len(rest)))
        # 2. The first window: the source's first (up to) 1 + MAX_CHUNK frames
        init = self.encode_head(source[:head])
        out = [self.decode(self.sample_window(velocity, init.shape[1], o, gen, progress, init=init,
                                              strength=strength, steps=n_steps))[:head]]
        # 3. Later windows start from the source's frames, frame 0 pinned to the last remixed one
        done = head
        for chunk in rest:
            init = self.encode_head(source[done - 1:done + chunk])
            z = self.sample_window(velocity, init.shape[1], o, gen, progress, {0: self.encode_frame(out[-1][-1])},
                                   init=init, strength=strength, steps=n_steps)
            out.append(self.decode(z)[1:1 + chunk])
            done += chunk
        return Video(np.concatenate(out), o.fps, prompt, self._params("remix", o, seed, strength=strength))

    @torch.no_grad()
    def blend(self, video_a, video_b, prompt: str, seconds: int | None = None, size: str | None = None,
              fps: int | None = None, steps: int | None = None, guidance: float | None = None, seed: int = 0,
              sampler: str | None = None, callback: Callable[[int, int], None] | None = None,
              draws: int = BLEND_CANDIDATES) -> Video:
        """The transition from video A's last frame to video B's first: one window from A's last
        frame that holds still on B's first in its last group (a frame_cond model is also told
        both). Its first and last frames are those two frames themselves; it has 4k + 2 frames,
        the fewest that are at least seconds * fps. The window starts from a tween of the two
        frames noised to t = BLEND_STRENGTH (SDEdit: `steps` is a full run's, of which it takes
        that share). It is drawn `draws` times (default BLEND_CANDIDATES; 1 is fastest), with
        gentler guidance toward the two ends (BLEND_GUIDE), its judder at latent-group boundaries
        smoothed out by sub-pixel shifts (glide), and the draw with the smallest hop (hop_ratio)
        is kept. Without `guidance`, BLEND_GUIDANCE (1: the ends lead, not the prompt)."""
        # 1. Check inputs
        check_prompt(prompt)
        draws = check_draws(draws)
        seconds = self._check_one_pass_seconds(seconds)
        o = self.settings(size, fps, steps, BLEND_GUIDANCE if guidance is None else guidance, sampler)
        a, o = self._video_input(video_a, "video_a", o, size)
        b, o = self._video_input(video_b, "video_b", o, o.size)
        # 2. One window: A's last frame at 0, B's first held in the last group (frames 4n-7 .. 4n-4)
        n = math.ceil((seconds * o.fps + 6) / 4)  # the transition is window frames 0 .. 4n - 7
        pinned = {0: self.encode_frame(a[-1]), n - 1: self.encode_frame(b[0])}
        velocity, gen = self.velocity(prompt, o.guidance), torch.Generator().manual_seed(int(seed))
        # 3. The rough in-between to start from: A's last frame to B's first, then B's held
        init, strength, n_steps = None, 1.0, o.steps
        if BLEND_STRENGTH > 0:
            rough = np.concatenate([tween(a[-1], b[0], 4 * n - 6), np.repeat(b[:1], 3, axis=0)])
            init, strength, n_steps = self.encode_head(rough), BLEND_STRENGTH, refine_steps(o.steps, BLEND_STRENGTH)
        progress = _Progress(callback, n_steps * draws)
        def draw() -> np.ndarray:
            z = self.sample_window(velocity, n, o, gen, progress, pinned, init=init, strength=strength,
                                   steps=n_steps, guide=BLEND_GUIDE)
            return glide(np.concatenate([a[-1:], self.decode(z)[1:4 * n - 7], b[:1]]))

        out = best_of(draws, draw, hop_ratio)
        return Video(out, o.fps, prompt, self._params("blend", o, seed, seconds=seconds, draws=draws))

    @torch.no_grad()
    def storyboard(self, cards, size: str | None = None, fps: int | None = None, steps: int | None = None,
                   guidance: float | None = None, seed: int = 0, sampler: str | None = None,
                   callback: Callable[[int, int], None] | None = None) -> Video:
        """Cards [{"prompt": str, "seconds": whole number}, ...] -> one continuous video: each
        card's seconds follow its prompt, every window starting from the frame before it."""
        # 1. Check inputs
        segments = check_cards(cards)
        o = self.settings(size, fps, steps, guidance, sampler)
        segments = [(prompt, sec * o.fps) for prompt, sec in segments]
        # 2. The chain
        progress = _Progress(callback, o.steps * sum(len(self.chunks(f)) for _, f in segments))
        gen = torch.Generator().manual_seed(int(seed))
        out = np.concatenate(list(self.forward(None, segments, o, gen, progress)))
        params = self._params("storyboard", o, seed, cards=[{"prompt": p, "seconds": f // o.fps} for p, f in segments])
        return Video(out, o.fps, segments[0][0], params)

    @torch.no_grad()
    def long(self, prompt: str, seconds: int, size: str | None = None, fps: int | None = None,
             steps: int | None = None, guidance: float | None = None, seed: int = 0,
             sampler: str | None = None, callback: Callable[[int, int], None] | None = None) -> Video:
        """Any whole number of seconds up to MAX_SECONDS: text -> video, then chained extension
        with the same prompt (memory flat in length, time linear)."""
        check_prompt(prompt)
        seconds = check_chain_seconds(seconds)
        video = self.storyboard([{"prompt": prompt, "seconds": seconds}], size, fps, steps, guidance, seed,
                                sampler, callback)
        video.params.update(mode="long", seconds=seconds)
        del video.params["cards"]
        return video
