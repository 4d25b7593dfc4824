"""OpenReel: open, self-hosted text-to-video. `from openreel import VideoPipeline`."""

__version__ = "0.1.0"

__all__ = ["VideoPipeline", "Video", "__version__"]


def __getattr__(name):
    # Lazy, so `import openreel` (and the CLI's --help) stays fast: torch loads on first use.
    if name == "VideoPipeline":
        from .backends.builtin import VideoPipeline
        return VideoPipeline
    if name == "Video":
        from .video import Video
        return Video
    raise AttributeError(f"module 'openreel' has no attribute {name!r}")
