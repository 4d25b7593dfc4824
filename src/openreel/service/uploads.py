"""Uploaded media of the Videos API: images and videos, read and refused before anything is queued.

Each function raises ServiceError (400, naming the field) for anything that is not a readable
image or video within the instance's limits.
"""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ServiceError, bad

# Videos from outside (edit and extension sources, files to verify) are probed before anything is
# decoded, refused past these limits (and max_source_seconds), then decoded one frame at a time,
# each scaled down as it comes out of the decoder: a 31 kB clip of 300 solid 1080p frames used to
# be decoded whole, 2.8-3.0 GB of RGB, before its length was even looked at.

# Why: the models work at a few hundred pixels a side, so a bigger source gains nothing once scaled
# to the native size, but the decoder holds its reference frames at full size (up to 16 of them for
# H.264): at 1080p that is tens of MB a decode, at 8K over half a GB. Counted in pixels, so 1080x1920
# and Sora's 1792x1024 pass too.
MAX_SOURCE_PIXELS = 1920 * 1080
# Why: max_source_seconds (120 s) at 30 fps. The decoded count bounds the work whatever rate the file
# declares (a file claiming 1000 fps would make 120 s of 120,000 frames); 60 fps phone clips pass up to 60 s.
MAX_SOURCE_FRAMES = 3600
# Why: each decode holds a decoder (tens of MB at 1080p) and keeps up to two cores busy; more at once
# only multiplies the memory of concurrent bombs. Requests past this wait in their worker thread,
# off the event loop, so polls are still answered.
DECODE_SLOTS = 2
# Why: the watermark detector area-averages each frame onto a grid of 32 cells on the short side
# (media/watermark.py); at 2 pixels a cell it reads the server's 64-pixel native outputs unscaled
# and every bigger output is scaled to 64 on the short side: 21 kB a 16:9 frame instead of 6 MB.
VERIFY_CELL_PIXELS = 2
# Why: the watermark is in every frame and detect() averages their votes, so evenly spaced frames
# read it as well as all of them; this many (60 s of the server's 8 fps outputs, ~11 MB at 112x64)
# are kept, and a longer file keeps every 2nd, 4th, ... frame.
VERIFY_MAX_FRAMES = 480

_decodes = threading.BoundedSemaphore(DECODE_SLOTS)


@contextmanager
def decode_slot():
    """Hold one of the DECODE_SLOTS for a decode (blocking: call it from a worker thread, not the loop)."""
    with _decodes:
        yield


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


@contextmanager
def _as_file(upload: Upload) -> Iterator[Path]:
    with tempfile.NamedTemporaryFile(suffix=Path(upload.filename or "v.mp4").suffix or ".mp4") as f:
        f.write(upload.data)
        f.flush()
        yield Path(f.name)


def too_large(param: str, exc) -> ServiceError:
    """A TooLarge from media.video as the 400 that names the limit."""
    limit = {"pixels": f"the limit is {MAX_SOURCE_PIXELS:,} pixels a frame (1920x1080)",
             "frames": f"the limit is {MAX_SOURCE_FRAMES} frames"}.get(exc.limit)
    code = "video_too_large" if exc.limit == "pixels" else "video_too_long"
    return bad(param, f"{param} {exc}" + (f"; {limit}" if limit else ""), code)


def _unreadable(param: str) -> ServiceError:
    return bad(param, f"{param} is not a readable video file; send an MP4 or WebM")


def _bounded_frames(path: Path, size, max_seconds: float, interpolation: str = "BICUBIC", on_probe=None):
    from ..media.video import read_frames
    return read_frames(path, size, MAX_SOURCE_PIXELS, max_seconds, MAX_SOURCE_FRAMES, interpolation, on_probe)


def save_video(upload: Upload, max_seconds: float, size_for: Callable[[int, int], str], dest: Path,
               param: str = "video") -> tuple[str, int, float]:
    """An uploaded video, checked and rewritten as the H.264 MP4 `dest` at size_for(source W, H) -> "WxH".

    Never holds more than one decoded frame: each is scaled to that size as it is decoded and
    encoded at once, at the source's rate. Returns (size, frames, fps); refuses (400) unreadable
    files, fewer than 2 frames, and anything past the limits above (nothing is left at dest).
    """
    from ..media.video import TooLarge, probe_video, write_mp4_frames
    with _as_file(upload) as path, decode_slot():
        try:
            probe = probe_video(path)
            if not probe.width or not probe.height:
                raise _unreadable(param)
            size = size_for(probe.width, probe.height)
            w, h = (int(v) for v in size.split("x"))
            frames = _bounded_frames(path, (w, h), max_seconds)
            _, count = write_mp4_frames(dest, frames, max(1, int(round(probe.fps))), (w, h))
        except TooLarge as exc:
            raise too_large(param, exc) from None
        except ServiceError:
            raise
        except Exception:
            raise _unreadable(param) from None
    if count < 2:
        Path(dest).unlink(missing_ok=True)
        raise bad(param, f"{param} has {count} frame(s); at least 2 are needed")
    return size, count, probe.fps


def decode_video(upload: Upload, max_seconds: float, size_for: Callable[[int, int], str],
                 param: str = "video") -> tuple[np.ndarray, float]:
    """An uploaded video -> (frames (T, H, W, 3) uint8 at size_for(source W, H), fps), within the limits.

    Frames are scaled as they are decoded, so this holds T frames at that size only; prefer
    save_video, which holds one.
    """
    from ..media.video import TooLarge
    with _as_file(upload) as path, decode_slot():
        def size(p):
            return tuple(int(v) for v in size_for(p.width, p.height).split("x"))
        seen = {}
        try:
            frames = list(_bounded_frames(path, size, max_seconds, on_probe=lambda p: seen.update(fps=p.fps)))
        except TooLarge as exc:
            raise too_large(param, exc) from None
        except Exception:
            raise _unreadable(param) from None
    if len(frames) < 2:
        raise bad(param, f"{param} has {len(frames)} frame(s); at least 2 are needed")
    return np.stack(frames), seen["fps"]


def watermark_frames(path: Path, max_seconds: float) -> np.ndarray:
    """A file to verify as bounded working frames for watermark.detect: at most VERIFY_MAX_FRAMES,
    evenly spaced, scaled (area average) to VERIFY_CELL_PIXELS pixels per watermark cell.

    Raises media.video.TooLarge past the limits, ValueError if unreadable. Call inside decode_slot().
    """
    from ..media.watermark import SHORT_CELLS, grid_shape

    def size(p) -> tuple[int, int]:
        rows, cols = grid_shape(p.height, p.width)
        if min(p.width, p.height) <= SHORT_CELLS * VERIFY_CELL_PIXELS:
            return p.width, p.height  # already small: as the detector would see it
        return cols * VERIFY_CELL_PIXELS, rows * VERIFY_CELL_PIXELS

    kept, n, stride = None, 0, 1  # kept[:n] are frames 0, stride, 2 stride, ...: compacted in place, never copied
    for i, frame in enumerate(_bounded_frames(path, size, max_seconds, interpolation="AREA")):
        if i % stride:
            continue
        if kept is None:  # pages are only touched as frames arrive: a short clip costs its own size
            kept = np.empty((VERIFY_MAX_FRAMES, *frame.shape), np.uint8)
        kept[n], n = frame, n + 1
        if n == VERIFY_MAX_FRAMES:
            half = (n + 1) // 2
            kept[:half], n, stride = kept[0:n:2], half, stride * 2
    if not n:
        raise ValueError(f"{path.name}: the video has no frames")
    return kept[:n]


def resize_frames(frames: np.ndarray, size: str) -> np.ndarray:
    """Frames scaled to WxH (the model's native size for the source's aspect)."""
    from PIL import Image
    w, h = (int(v) for v in size.split("x"))
    if frames.shape[2] == w and frames.shape[1] == h:
        return frames
    return np.stack([np.asarray(Image.fromarray(fr).resize((w, h), Image.BICUBIC)) for fr in frames])


def save_image(path: Path, image) -> None:
    """An uploaded image, decoded and re-encoded as PNG (what the worker reads), written atomically."""
    from ..media.previews import write_atomic
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    write_atomic(path, buf.getvalue())
