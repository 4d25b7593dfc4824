"""Still previews of a clip: a WebP thumbnail and a JPEG sprite sheet (the Videos API's variants).

Both are written atomically, like the MP4, so a reader never sees half a file.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes to path through a temporary file and a rename, with the usual permissions."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def thumbnail(frames: np.ndarray, size: tuple[int, int] | None = None) -> bytes:
    """The middle frame as WebP, scaled to size=(W, H) if given."""
    im = Image.fromarray(frames[len(frames) // 2])
    if size and size != im.size:
        im = im.resize(size, Image.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, format="WEBP", quality=90)
    return buf.getvalue()


def spritesheet(frames: np.ndarray, tiles: int = 10, columns: int = 5, tile_width: int = 160) -> bytes:
    """`tiles` frames spread evenly over the clip, in a grid `columns` wide, as one JPEG.

    Each tile keeps the clip's aspect ratio at tile_width pixels wide.
    """
    t, h, w, _ = frames.shape
    tiles = min(tiles, t)
    picks = np.linspace(0, t - 1, tiles).round().astype(int)
    tw, th = tile_width, max(2, round(tile_width * h / w))
    rows = -(-tiles // columns)
    sheet = Image.new("RGB", (min(columns, tiles) * tw, rows * th))
    for k, i in enumerate(picks):
        tile = Image.fromarray(frames[i]).resize((tw, th), Image.BICUBIC)
        sheet.paste(tile, ((k % columns) * tw, (k // columns) * th))
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def stamp(frames: np.ndarray, text: str) -> np.ndarray:
    """A small visible label in the bottom-right corner of every frame (the optional visible watermark)."""
    from PIL import ImageDraw, ImageFont
    out = []
    font = ImageFont.load_default()
    for frame in frames:
        im = Image.fromarray(frame)
        draw = ImageDraw.Draw(im)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        w, h = right - left, bottom - top
        x, y = max(0, im.width - w - 3), max(0, im.height - h - 4)
        draw.rectangle((x - 2, y - 1, x + w + 1, y + h + 2), fill=(0, 0, 0))
        draw.text((x - left, y - top), text, fill=(255, 255, 255), font=font)
        out.append(np.asarray(im))
    return np.stack(out)
