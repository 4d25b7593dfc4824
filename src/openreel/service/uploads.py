"""Uploaded media of the Videos API: images and videos, read and refused before anything is queued.

Each function raises ServiceError (400, naming the field) for anything that is not a readable
image or video within the instance's limits.
"""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ServiceError, bad


@dataclass
class Upload:
    """A file part of a request, already read (the HTTP layer caps its size)."""
    filename: str
    content_type: str
    data: bytes


def decode_image(ref: Any, max_pixels: int, param: str = "input_reference"):
    """An image upload, or {image_url: data URL}, as an RGB PIL image; refuses bombs and non-images."""
    from PIL import Image
    if isinstance(ref, Upload):
        data = ref.data
    elif isinstance(ref, dict) and isinstance(ref.get("image_url"), str):
        url = ref["image_url"]
        if not url.startswith("data:") or ";base64," not in url:
            raise bad(param, f"{param}.image_url must be a base64 data URL (data:image/png;base64,...); "
                             "this server does not fetch remote URLs")
        try:
            data = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            raise bad(param, f"{param}.image_url is not valid base64") from None
    elif isinstance(ref, dict) and ref.get("file_id"):
        raise bad(param, f"{param}.file_id is not supported here; upload the image or send image_url")
    else:
        raise bad(param, f"{param} must be an image file (PNG, JPEG or WebP) or {{\"image_url\": data URL}}")
    try:
        im = Image.open(io.BytesIO(data))
        if im.format not in ("PNG", "JPEG", "WEBP", "GIF", "BMP"):
            raise bad(param, f"{param} must be a PNG, JPEG or WebP image, got {im.format}")
        w, h = im.size
        if w * h > max_pixels:
            raise bad(param, f"{param} is {w}x{h}, more than {max_pixels} pixels; send a smaller image",
                      "image_too_large")
        im.load()
        return im.convert("RGB")
    except ServiceError:
        raise
    except Exception as exc:  # Pillow raises many types for corrupt data, bombs included
        raise bad(param, f"{param} is not a readable image ({type(exc).__name__}); send a PNG, JPEG "
                         "or WebP file") from None


def decode_video(upload: Upload, max_seconds: float, param: str = "video") -> tuple[np.ndarray, float]:
    """An uploaded video -> (frames (T, H, W, 3) uint8, fps)."""
    from ..media.video import read_video
    with tempfile.NamedTemporaryFile(suffix=Path(upload.filename or "v.mp4").suffix or ".mp4") as f:
        f.write(upload.data)
        f.flush()
        try:
            frames, fps = read_video(f.name)
        except Exception:
            raise bad(param, f"{param} is not a readable video file; send an MP4 or WebM") from None
    if len(frames) < 2:
        raise bad(param, f"{param} has {len(frames)} frame(s); at least 2 are needed")
    if len(frames) / max(fps, 1e-6) > max_seconds:
        raise bad(param, f"{param} is longer than {max_seconds:g} s")
    return frames, fps


def resize_frames(frames: np.ndarray, size: str) -> np.ndarray:
    """Frames scaled to WxH (the model's native size for the source's aspect)."""
    from PIL import Image
    w, h = (int(v) for v in size.split("x"))
    if frames.shape[2] == w and frames.shape[1] == h:
        return frames
    return np.stack([np.asarray(Image.fromarray(fr).resize((w, h), Image.BICUBIC)) for fr in frames])
