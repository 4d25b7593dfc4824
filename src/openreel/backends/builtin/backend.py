"""The built-in model as a Backend: every OpenReel mode, on VideoPipeline, loaded from a weights folder.

Its capabilities come from the folder's config.json (load_defaults) without loading weights. `run`
is the one place a request's mode becomes a VideoPipeline method.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path

from ...requests import Capabilities, Request, RequestError
from ...video import Video
from ..base import Family, Identity, Progress
from .checkpoint import WEIGHTS_DIR, load_config, load_defaults
from .inputs import caps_from_defaults


def detect(folder: Path) -> bool:
    config = Path(folder) / "config.json"
    if not config.is_file():
        return False
    try:
        c = json.loads(config.read_text())
    except ValueError:
        return False
    return isinstance(c, dict) and "autoencoder" in c and "transformer" in c


def capabilities(name: str, folder: Path, options: dict | None = None) -> Capabilities:
    unknown = set(options or {}) - {"license"}
    if unknown:
        raise ValueError(f"option {sorted(unknown)[0]!r} is not known: the built-in model takes no options")
    return caps_from_defaults(name, load_defaults(folder), options or {})


def weights_sha256(folder: Path) -> str:
    """One hash over every weight file, in name order (the digest the C2PA claims have always cited)."""
    h = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.safetensors")):
        file_hash = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                file_hash.update(block)
        h.update(path.name.encode() + b"\0" + file_hash.hexdigest().encode())
    return h.hexdigest()


class BuiltinBackend:
    family = "builtin"

    def __init__(self, name: str = "openreel-1", folder: str | Path | None = None, options: dict | None = None,
                 pipeline=None):
        self.name = name
        self.folder = Path(folder) if folder else WEIGHTS_DIR
        self.options = dict(options or {})
        self._pipe = pipeline  # tests pass a pipeline of tiny components

    @property
    def pipe(self):
        if self._pipe is None:
            from .pipeline import VideoPipeline
            self._pipe = VideoPipeline.from_pretrained(self.folder)
        return self._pipe

    def capabilities(self) -> Capabilities:
        if self._pipe is not None:  # a pipeline loaded or passed in: its defaults, in memory
            return caps_from_defaults(self.name, self._pipe.defaults, self.options)
        return capabilities(self.name, self.folder, self.options)

    @cached_property
    def _identity(self) -> Identity:
        config = load_config(self.folder) if (self.folder / "config.json").is_file() else {}
        manifest = self.folder / "data_manifest.json"
        manifest_sha = json.loads(manifest.read_text()).get("sha256", "") if manifest.is_file() else ""
        return Identity(self.name, self.family, config.get("name", "openreel-v1"), weights_sha256(self.folder),
                        self.capabilities().license, manifest_sha)

    def identity(self) -> Identity:
        return self._identity

    def read_prompt(self, prompt: str):
        """How the model will read a prompt: the prompt reader's Explanation, or None without a reader."""
        rewriter = self.pipe.rewriter if self.pipe.rewrite_prompts else None
        return rewriter.explain(prompt) if rewriter is not None and hasattr(rewriter, "explain") else None

    def run(self, request: Request, callback: Progress | None = None) -> Video:
        """The one mode switch: each mode onto its VideoPipeline method. Each method checks its request
        again against the pipeline's capabilities (in memory, cheap); a None is the method's default."""
        pipe, o, mode = self.pipe, request.options, request.mode
        seconds = o.seconds if o.frames is None else o.frames // (o.fps or pipe.defaults.default_fps)
        kw = dict(size=o.size, fps=o.fps, steps=o.steps, guidance=o.guidance, seed=o.seed, sampler=o.sampler,
                  callback=callback)
        if mode in ("text", "image"):
            video = pipe(request.prompt, seconds=seconds, image=getattr(request, "image", None), **kw)
        elif mode == "extend":
            video = pipe.extend(request.video, request.prompt, seconds=seconds, backward=request.backward,
                                draws=request.draws, **kw)
        elif mode == "loop":
            video = pipe.loop(request.prompt, seconds=seconds, **kw)
        elif mode in ("remix", "edit"):
            video = pipe.remix(request.video, request.prompt, strength=request.strength, **kw)
        elif mode == "blend":
            video = pipe.blend(request.video_a, request.video_b, request.prompt, seconds=seconds,
                               draws=request.draws, **kw)
        elif mode == "storyboard":
            video = pipe.storyboard([{"prompt": c.prompt, "seconds": c.seconds} for c in request.cards], **kw)
        elif mode == "long":
            video = self._long(request, seconds, kw)
        else:
            raise RequestError("mode", f"model {self.name} cannot do {mode}")
        video.params["model"] = self.name
        if mode == "edit":
            video.params["mode"] = "edit"
        return video

    def _long(self, request, seconds: int, kw: dict) -> Video:
        """Text -> video chained by extension; from an image, its longest one pass, then extended."""
        pipe = self.pipe
        if getattr(request, "image", None) is None:
            return pipe.long(request.prompt, seconds=seconds, **kw)
        seconds = pipe.defaults.default_seconds if seconds is None else seconds
        first_seconds = min(seconds, max(pipe.defaults.seconds))
        first = pipe(request.prompt, seconds=first_seconds, image=request.image, **{**kw, "callback": None})
        if seconds == first_seconds:
            return first
        video = pipe.extend(first, request.prompt, seconds=seconds - first_seconds, **kw)
        video.params.update(mode="long", seconds=seconds)
        return video


FAMILY = Family(name="builtin", summary="OpenReel's own Sora-style model: every mode, on a CPU, in its procedural world",
                detect=detect, capabilities=capabilities,
                load=lambda name, folder, options: BuiltinBackend(name, folder, options))


def prompt_reading(folder: str | Path):
    """prompt -> Explanation (what the model will draw, and the words it could not place), loading only
    the prompt reader and its text encoder, not the video model. None for a folder without a reader."""
    from ...models.prompt_reader import PromptRewriter
    from ...models.text_encoder import TextEncoder
    from ...models.wordnet import WordNet
    from .checkpoint import load_reader
    reader = load_reader(Path(folder))
    if reader is None:
        return None
    return PromptRewriter(reader, TextEncoder(), WordNet()).explain
