"""Video files in and out, through PyAV's bundled FFmpeg.

Outputs are H.264 yuv420p MP4 with the moov atom at the front (faststart),
which every browser plays and can seek while still downloading.
"""

from __future__ import annotations

import os
import tempfile
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
    if out_w % 2 or out_h % 2:
        raise ValueError(f"H.264 yuv420p needs even width and height; got {out_w}x{out_h}")
    path = Path(path)
    # Write next to the target, then rename: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(suffix=".mp4", prefix=".tmp-", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the video should get the usual permissions
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
                vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
                if (out_w, out_h) != (frame.shape[1], frame.shape[0]):
                    vf = vf.reformat(width=out_w, height=out_h, interpolation="BICUBIC")
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
