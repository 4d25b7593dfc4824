"""One function runs a request on a backend: the CLI, the worker and the Python API all call it.

    video = run(backend, TextToVideo("a red ball moving right"), callback=lambda i, n: ...)

It checks the request against the backend's capabilities, loads the request's media (paths or
stored references -> frames at the request's frame rate) and hands the backend a request whose
inputs are checked and in memory. Each backend's `run` then maps the mode onto its own mechanism.
"""

from __future__ import annotations

from typing import Any, Callable

from .backends.base import Backend, Progress
from .media.frames import load_image, load_video
from .requests import MIN_VIDEO_FRAMES, Capabilities, Request, RequestError, media_of, with_media
from .video import Video


def load_media(request: Request, caps: Capabilities, resolve: Callable[[str], Any] | None = None) -> Request:
    """The request with its image and videos read and checked: (H, W, 3) and (T, H, W, 3) uint8 arrays,
    videos at the request's frame rate. `resolve` turns a stored reference into a path."""
    fps = request.options.fps or caps.fps[0]
    loaded = {}
    for field, value in media_of(request).items():
        if value is None:
            continue
        if isinstance(value, str) and resolve is not None:
            value = resolve(value)
        try:
            if field == "image":
                loaded[field] = load_image(value)
                continue
            frames = load_video(value, fps, field)
        except RequestError:
            raise
        except ValueError as exc:
            raise RequestError(field, str(exc)) from None
        if len(frames) < MIN_VIDEO_FRAMES:
            raise RequestError(field, f"{field} must have at least {MIN_VIDEO_FRAMES} frames (for a single image, "
                                      f"use image -> video); got {len(frames)}")
        loaded[field] = frames
    return with_media(request, **loaded) if loaded else request


def run(backend: Backend, request: Request, callback: Progress | None = None,
        resolve: Callable[[str], Any] | None = None) -> Video:
    """Check, load the inputs, generate. Raises RequestError (a ValueError) naming the field to fix."""
    caps = backend.capabilities()
    request.check(caps)
    return backend.run(load_media(request, caps, resolve), callback)
