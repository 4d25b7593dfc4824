"""The shared half of every diffusers family: loading a local folder, options, the call, the output.

A family file (wan.py, ltx.py, ...) subclasses `DiffusersBackend` and says three things:
which pipeline class runs each mode for each kind of folder (`MODES`), the family's size, frame and
rate rules (`rules`), and the extra arguments of each mode's call (`mode_kwargs`). Everything else
is here, so adding a family is one file and one entry in `backends.FAMILIES`.

diffusers is imported only when a model is loaded (`_diffusers()`), so the built-in model's CPU
path never pays for it. Folders are read from local disk only: HF_HUB_OFFLINE is set before the
first import and every load passes local_files_only=True.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..requests import Capabilities, Request, parse_size
from ..video import Video
from .base import Family, Identity, Progress, card_license, read_json, weights_digest

MAX_SECONDS = 60  # chained modes on open-weight models: each window costs minutes on a GPU


def _diffusers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub at import: never reach a hub
    import diffusers
    return diffusers


# ----------------------------------------------------------------------------
# Memory and speed options: opt-in, recorded in the job and in the C2PA claims.

@dataclass(frozen=True)
class ModelOptions:
    dtype: str = "float32"  # float32 | bfloat16 | float16: correct fp32 on CPU by default; half precision on GPUs
    device: str = "auto"  # auto (cuda when present) | cpu | cuda | cuda:N
    offload: str = "none"  # none | model | sequential | group: diffusers' CPU offload, least to most memory saved
    vae_tiling: bool = False  # decode in tiles: large frames in less memory
    vae_slicing: bool = False  # decode one video of a batch at a time
    attention: str = ""  # an attention backend diffusers knows (e.g. "flash", "sage", "_native_cudnn"); "" = default
    cache: str = ""  # a diffusers cache hook: first_block | pab ("" = none); see docs/decisions/backends.md
    compile: bool = False  # torch.compile the transformer (slow first call, faster after)

    FIELDS: ClassVar[dict[str, tuple]] = {
        "dtype": ("float32", "bfloat16", "float16"),
        "offload": ("none", "model", "sequential", "group"),
        # Not offered: faster fails in Wan's CFG batches, taylorseer hooks no Wan module, mag needs per-model ratios
        "cache": ("", "first_block", "pab"),
    }

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "ModelOptions":
        """From the catalog's {key: value} (strings from the CLI); ValueError names the bad option."""
        known = cls.__dataclass_fields__
        out: dict[str, Any] = {}
        for key, value in (raw or {}).items():
            if key not in known:
                raise ValueError(f"option {key!r} is not known; options are {', '.join(known)}")
            kind = known[key].type
            if kind in ("bool", bool):
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(f"option {key} must be true or false; got {value!r}")
                    value = value.lower() in ("true", "1", "yes")
                out[key] = bool(value)
                continue
            value = str(value)
            if key in cls.FIELDS and value not in cls.FIELDS[key]:
                raise ValueError(f"option {key} must be one of {', '.join(v or '(empty)' for v in cls.FIELDS[key])}; "
                                 f"got {value!r}")
            out[key] = value
        return cls(**out)

    def changed(self) -> dict[str, Any]:
        """Only the options that differ from the defaults (what a job and its credentials record)."""
        base = ModelOptions()
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k) != getattr(base, k)}


def apply_options(pipe, o: ModelOptions) -> None:
    """Put a loaded pipeline on its device with the memory and speed options asked for."""
    import torch
    device = ("cuda" if torch.cuda.is_available() else "cpu") if o.device == "auto" else o.device
    if o.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif o.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif o.offload == "group":
        pipe.transformer.enable_group_offload(onload_device=torch.device(device), offload_type="leaf_level")
    else:
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    if o.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if o.vae_slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    if o.attention:
        pipe.transformer.set_attention_backend(o.attention)
    if o.cache:
        pipe.transformer.enable_cache(cache_config(o.cache, lambda: pipe.current_timestep))
    if o.compile:
        pipe.transformer.compile()


def cache_config(name: str, timestep):
    """A diffusers cache hook config with its documented defaults. `timestep()` is the pipeline's current
    denoising timestep, which PAB uses to decide when skipping attention is safe."""
    hooks = _diffusers().hooks
    if name == "first_block":
        return hooks.FirstBlockCacheConfig(threshold=0.05)
    if name == "pab":
        return hooks.PyramidAttentionBroadcastConfig(spatial_attention_block_skip_range=2,
                                                     spatial_attention_timestep_skip_range=(100, 800),
                                                     current_timestep_callback=timestep)
    raise ValueError(f"cache {name!r} is not known")


# ----------------------------------------------------------------------------
# The backend.

def to_uint8(frames: Any) -> np.ndarray:
    """A pipeline's np output (1, T, H, W, 3) floats in [0, 1] -> (T, H, W, 3) uint8."""
    arr = np.asarray(frames)
    if arr.ndim == 5:
        arr = arr[0]
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def folder_class(folder: Path) -> str:
    """The diffusers pipeline class a folder was saved from (model_index.json's _class_name), or ""."""
    return str(read_json(Path(folder) / "model_index.json").get("_class_name", ""))


class DiffusersBackend:
    """One local diffusers model folder. Subclasses set `family`, `MODES` and `rules`."""

    family: ClassVar[str] = ""
    version: ClassVar[str] = ""  # shown in identity(); subclasses may refine it from the folder
    # folder's model_index _class_name -> {OpenReel mode: diffusers pipeline class that runs it}
    MODES: ClassVar[dict[str, dict[str, str]]] = {}
    CACHES: ClassVar[tuple[str, ...]] = ("first_block", "pab")  # the cache hooks this family's transformer takes

    def __init__(self, name: str, folder: Path, options: dict | None = None):
        self.name, self.folder = name, Path(folder)
        self.raw_options = dict(options or {})
        self.options = ModelOptions.parse({k: v for k, v in self.raw_options.items() if k != "license"})
        self._pipes: dict[str, Any] = {}
        self._identity: Identity | None = None
        self._caps: Capabilities | None = None

    # -- what it can do, without loading weights ---------------------------------

    @classmethod
    def detect(cls, folder: Path) -> bool:
        return folder_class(folder) in cls.MODES

    @classmethod
    def rules(cls, folder: Path) -> dict:
        """Capabilities fields beyond name, family, modes and license (sizes, seconds, fps, frame_rule, ...)."""
        raise NotImplementedError

    @classmethod
    def modes_of(cls, folder: Path) -> dict[str, str]:
        kind = folder_class(folder)
        if kind not in cls.MODES:
            raise ValueError(f"{folder} is not a {cls.family} folder: its model_index.json names {kind or 'nothing'}, "
                             f"expected one of {', '.join(cls.MODES)}")
        return cls.MODES[kind]

    @classmethod
    def capabilities_of(cls, name: str, folder: Path, options: dict) -> Capabilities:
        chosen = ModelOptions.parse({k: v for k, v in options.items() if k != "license"})  # refuse bad options early
        if chosen.cache and chosen.cache not in cls.CACHES:
            raise ValueError(f"option cache={chosen.cache} is not available for {cls.family} models with diffusers "
                             f"0.42.1; choose {' or '.join(cls.CACHES) or 'none'}")
        modes = tuple(m for m in ("text", "image", "extend", "loop", "remix", "edit", "blend", "storyboard", "long")
                      if m in cls.modes_of(folder))
        license = options.get("license") or card_license(folder)
        return Capabilities(name=name, family=cls.family, modes=modes, license=license, **cls.rules(folder))

    def capabilities(self) -> Capabilities:
        if self._caps is None:  # the folder's configs, read once per loaded model
            self._caps = self.capabilities_of(self.name, self.folder, self.raw_options)
        return self._caps

    def identity(self) -> Identity:
        if self._identity is None:
            caps = self.capabilities()
            self._identity = Identity(self.name, self.family, self.version or folder_class(self.folder),
                                      weights_digest(self.folder), caps.license, options=self.options.changed())
        return self._identity

    # -- loading -------------------------------------------------------------------

    def pipeline(self, mode: str):
        """The diffusers pipeline for a mode, loaded once; modes of one folder share its components."""
        cls_name = self.modes_of(self.folder)[mode]
        if cls_name not in self._pipes:
            import torch
            diffusers = _diffusers()
            cls = getattr(diffusers, cls_name)
            dtype = getattr(torch, self.options.dtype)
            if self._pipes:
                pipe = cls.from_pipe(next(iter(self._pipes.values())), dtype=dtype)
            else:
                pipe = cls.from_pretrained(self.folder, dtype=dtype, local_files_only=True)
                apply_options(pipe, self.options)
            pipe.set_progress_bar_config(disable=True)
            self._pipes[cls_name] = pipe
        return self._pipes[cls_name]

    # -- running ---------------------------------------------------------------

    def common_kwargs(self, request: Request, callback: Progress | None) -> dict:
        """What every mode's call takes: prompt, size, frames, steps, guidance, seed, progress."""
        import torch
        caps, o = self.capabilities(), request.options
        width, height = parse_size(o.size or caps.default_size)
        fps = o.fps or caps.fps[0]
        frames = o.frames or caps.frames_for(o.seconds or caps.default_seconds, fps)
        steps = o.steps or caps.steps
        kw = dict(prompt=request.prompt, height=height, width=width, num_frames=frames, num_inference_steps=steps,
                  guidance_scale=caps.guidance if o.guidance is None else o.guidance,
                  generator=torch.Generator(device="cpu").manual_seed(int(o.seed)), output_type="np")
        if o.negative_prompt:
            kw["negative_prompt"] = o.negative_prompt
        if callback is not None:
            def on_step(pipe, i, t, tensors):
                callback(i + 1, steps)
                return {}
            kw["callback_on_step_end"] = on_step
        return kw

    def mode_kwargs(self, request: Request, kw: dict) -> dict:
        """The mode's own arguments (image=, video=, strength=, ...) added to kw; subclasses override."""
        return kw

    def call(self, mode: str, kw: dict) -> np.ndarray:
        """Run one pipeline call, keeping only the arguments its __call__ takes."""
        import inspect
        pipe = self.pipeline(mode)
        accepted = inspect.signature(pipe.__call__).parameters
        out = pipe(**{k: v for k, v in kw.items() if k in accepted})
        return to_uint8(out.frames)

    def run(self, request: Request, callback: Progress | None = None) -> Video:
        caps = self.capabilities()
        request.check(caps)
        started = time.perf_counter()
        kw = self.mode_kwargs(request, self.common_kwargs(request, callback))
        frames = self.call(request.mode, kw)
        o = request.options
        fps = o.fps or caps.fps[0]
        params = {"model": self.name, "family": self.family, "mode": request.mode, "size": f"{kw['width']}x{kw['height']}",
                  "fps": fps, "frames": int(len(frames)), "steps": kw["num_inference_steps"],
                  "guidance": kw["guidance_scale"], "seed": int(o.seed), "options": self.options.changed(),
                  "seconds_taken": round(time.perf_counter() - started, 3)}
        return Video(frames, fps, request.prompt, params)


def family_of(cls: type[DiffusersBackend], summary: str) -> Family:
    """The Family entry for a DiffusersBackend subclass."""
    return Family(name=cls.family, summary=summary, detect=cls.detect, capabilities=cls.capabilities_of,
                  load=lambda name, folder, options: cls(name, folder, options))
