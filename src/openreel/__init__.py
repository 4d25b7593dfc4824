"""OpenReel: open, self-hosted text-to-video.

    from openreel import VideoPipeline                  # the built-in model's own API
    pipe = VideoPipeline.from_pretrained()

    from openreel import load_backend, run              # any model in the catalog (openreel models add)
    from openreel.requests import TextToVideo, SamplingOptions
    video = run(load_backend("wan-1.3b"), TextToVideo("a red fox in snow", SamplingOptions(seconds=5)))
"""

__version__ = "0.1.0"

__all__ = ["VideoPipeline", "Video", "load_backend", "run", "__version__"]


def load_backend(name: str | None = None, data_dir=None):
    """A model from the instance's catalog (<data_dir>/models.json; default OPENREEL_DATA_DIR or ./openreel-data),
    or the built-in model without a name. Weights load on first use."""
    from .backends.catalog import Catalog
    from .service.settings import Settings
    s = Settings(**({"data_dir": data_dir} if data_dir is not None else {}))
    catalog = Catalog(s.data_dir, s.model_name, s.weights, s.commercial_use)
    return catalog.load(name or s.model_name)


def __getattr__(name):
    # Lazy, so `import openreel` (and the CLI's --help) stays fast: torch loads on first use.
    if name == "VideoPipeline":
        from .backends.builtin import VideoPipeline
        return VideoPipeline
    if name == "Video":
        from .video import Video
        return Video
    if name == "run":
        from .runner import run
        return run
    raise AttributeError(f"module 'openreel' has no attribute {name!r}")
