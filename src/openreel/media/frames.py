"""Input loaders any backend may use: images and videos in, frames out, and the output path
checked before any work. Each raises ValueError whose message starts with the field it is about."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..video import Video
from .video import read_video


def check_output_path(path: str | Path) -> Path:
    """The output must be a .mp4 file in an existing, writable folder; checked before any work."""
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
