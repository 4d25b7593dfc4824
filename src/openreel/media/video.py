"""Video files in and out, through PyAV's bundled FFmpeg.

Outputs are H.264 yuv420p MP4 with the moov atom at the front (faststart),
which every browser plays and can seek while still downloading.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


SMALL_FRAME = 128 * 128  # pixels; up to this, libx264 encodes on one thread


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int, crf: int = 18,
              scale_to: tuple[int, int] | None = None, all_intra: bool = False) -> Path:
    """Write (T, H, W, 3) uint8 frames to an H.264 MP4, atomically.

    yuv420p needs even sides; odd sizes are refused rather than silently
    cropped. `scale_to=(W, H)` resizes every frame on the way out (for the
    API's upscaled Sora sizes). `all_intra` codes every frame as a keyframe,
    for loops: otherwise the wrap goes from the last, most predicted frame back
    to the keyframe, and the colour steps by a few levels at every restart (on
    150 development loops, 2-6% of wraps failed the step test for that alone,
    none all-intra). At the native sizes it costs a few kB.
    """
    frames = np.ascontiguousarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3); got {frames.dtype} {frames.shape}")
    out_w, out_h = scale_to or (frames.shape[2], frames.shape[1])
    return write_mp4_frames(path, frames, fps, (out_w, out_h), crf=crf, all_intra=all_intra)[0]


def write_mp4_frames(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int],
                     crf: int = 18, all_intra: bool = False) -> tuple[Path, int]:
    """write_mp4 for frames that come one at a time (a generator): none is kept after it is encoded.

    Every frame is scaled to `size` (W, H) if it is not that already. Returns (path, frames written);
    if the iterable raises, nothing is left behind.
    """
    out_w, out_h = size
    if out_w % 2 or out_h % 2:
        raise ValueError(f"H.264 yuv420p needs even width and height; got {out_w}x{out_h}")
    path = Path(path)
    # Write next to the target, then rename: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(suffix=".mp4", prefix=".tmp-", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the video should get the usual permissions
    count = 0
    try:
        with av.open(tmp, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
            if all_intra:
                stream.codec_context.gop_size = 1
            stream.options = {"crf": str(crf), "preset": "veryfast",
                              # The same frames must make the same file. With x264's routines
                              # for this CPU, 73 of 100 generated clips, each written 6 times with
                              # a video decoded between writes, made more than one file (pixels up
                              # to 22 levels apart after decoding): what came out depended on what
                              # the memory held. Its CPU-independent routines: 0 of 100.
                              "x264-params": "cpu-independent=1",
                              # x264's threads cost more than they save on the model's native sizes
                              # (64x64: 10.4 ms alone, 13.3 ms threaded); bigger frames use them all.
                              **({"threads": "1"} if out_w * out_h <= SMALL_FRAME else {})}
            for frame in frames:
                if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
                    raise ValueError(f"frames must be uint8 (H, W, 3); got {frame.dtype} {frame.shape}")
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                if (out_w, out_h) != (frame.shape[1], frame.shape[0]):
                    vf = vf.reformat(width=out_w, height=out_h, interpolation="BICUBIC")
                for packet in stream.encode(vf):
                    container.mux(packet)
                count += 1
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, count


def as_saved(frames: np.ndarray, fps: int, all_intra: bool = False) -> np.ndarray:
    """The frames (T, H, W, 3) uint8 as an MP4 of them (write_mp4, native size) gives them back."""
    with tempfile.TemporaryDirectory() as tmp:
        return read_video(write_mp4(Path(tmp) / "clip.mp4", frames, fps, all_intra=all_intra))[0]


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Decode a video file to ((T, H, W, 3) uint8 frames, fps)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path}: the file has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    except av.error.FFmpegError as exc:
        raise ValueError(f"{path}: not a readable video ({exc})") from exc
    if not frames:
        raise ValueError(f"{path}: the video has no frames")
    return np.stack(frames), fps


# --------------------------------------------------------------------------
# Bounded reading: for files from outside (uploads, `verify`)
# --------------------------------------------------------------------------

class TooLarge(ValueError):
    """A video past one of the caller's limits; `limit` names it (pixels, seconds or frames)."""

    def __init__(self, limit: str, message: str):
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class Probe:
    """What a container says about its first video stream, before any frame is decoded."""
    codec: str
    width: int
    height: int
    fps: float  # 0 when the file does not say
    frames: int  # the stream's frame count; 0 when the file does not say
    seconds: float  # the longest of the stream's and the container's durations; 0 when neither is known


def _fps(stream) -> float:
    return float(stream.average_rate or stream.guessed_rate or 0)


def _probe(container, stream) -> Probe:
    cc = stream.codec_context
    seconds = 0.0
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    if container.duration:
        seconds = max(seconds, container.duration / av.time_base)
    return Probe(cc.name, int(cc.width or 0), int(cc.height or 0), _fps(stream), int(stream.frames or 0), seconds)


def probe_video(path: str | os.PathLike) -> Probe:
    """The first video stream's codec, size, rate, frame count and duration, from the headers only."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path}: the file has no video stream")
            return _probe(container, container.streams.video[0])
    except av.error.FFmpegError as exc:
        raise ValueError(f"{path}: not a readable video ({exc})") from exc


def check_probe(p: Probe, max_pixels: int, max_seconds: float, max_frames: int) -> None:
    """Refuse (TooLarge) what the headers already say is past a limit."""
    if p.width * p.height > max_pixels:
        raise TooLarge("pixels", f"is {p.width}x{p.height}, more than {max_pixels:,} pixels a frame")
    if p.seconds > max_seconds + 0.5:  # containers round; the decoded count below is exact
        raise TooLarge("seconds", f"is {p.seconds:.1f} s long, more than {max_seconds:g} s")
    if p.frames > max_frames:
        raise TooLarge("frames", f"has {p.frames} frames, more than {max_frames}")
    if p.fps and p.frames and p.frames / p.fps > max_seconds:
        raise TooLarge("seconds", f"is {p.frames / p.fps:.1f} s long, more than {max_seconds:g} s")


def read_frames(path: str | os.PathLike, size: Callable[[Probe], tuple[int, int]] | tuple[int, int] | None,
                max_pixels: int, max_seconds: float, max_frames: int, interpolation: str = "BICUBIC",
                on_probe: Callable[[Probe], None] | None = None) -> Iterator[np.ndarray]:
    """Decode a video from outside one frame at a time, each scaled to `size` as it is decoded.

    The headers are checked first (check_probe), then every decoded frame again: its own
    size, the count and the count / rate, so a file whose headers lie is stopped at the
    first frame past a limit (TooLarge) and no more than one full-size frame is ever held.
    `size` is (W, H), or a function of the probe giving it, or None for the source's size.
    `on_probe` sees the probe before the first frame. Unreadable files raise ValueError.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path}: the file has no video stream")
            stream = container.streams.video[0]
            probe = _probe(container, stream)
            if not probe.width or not probe.height:
                raise ValueError(f"{path}: the video stream has no frame size")
            check_probe(probe, max_pixels, max_seconds, max_frames)
            if on_probe:
                on_probe(probe)
            w, h = size(probe) if callable(size) else (size or (probe.width, probe.height))
            fps = probe.fps or 1e-6
            count = 0
            for frame in container.decode(stream):
                count += 1
                if frame.width * frame.height > max_pixels:
                    raise TooLarge("pixels", f"has a {frame.width}x{frame.height} frame, more than "
                                             f"{max_pixels:,} pixels a frame")
                if count > max_frames:
                    raise TooLarge("frames", f"has more than {max_frames} frames")
                if count / fps > max_seconds:
                    raise TooLarge("seconds", f"is longer than {max_seconds:g} s")
                yield frame.reformat(width=w, height=h, format="rgb24",
                                     interpolation=interpolation).to_ndarray()
                del frame
    except av.error.FFmpegError as exc:
        raise ValueError(f"{path}: not a readable video ({exc})") from exc
