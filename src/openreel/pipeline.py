"""VideoPipeline: prompt -> video, over components passed in.

    from openreel import VideoPipeline
    pipe = VideoPipeline.from_pretrained()          # the built-in model, offline
    video = pipe("a red ball moving left on a black background", seconds=2, size="64x64", seed=0)
    video.save("out.mp4")

The pipeline owns no weights of its own: text encoder, autoencoder,
transformer and sampler are given to the constructor (diffusers' rule), so a
test can pass tiny seeded components and a GPU user a bigger model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .diffusion.flow import SAMPLERS, guided, timesteps
from .models.autoencoder import AutoencoderConfig, VideoAutoencoder, latent_frames
from .models.dit import DiT, DiTConfig

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class GenerationDefaults:
    """What a caller gets without asking; stored in the weights' config.json."""
    sizes: tuple[str, ...] = ("64x64", "112x64", "64x112")  # native WxH: 1:1, ~16:9, ~9:16
    size: str = "64x64"
    seconds: tuple[int, ...] = (1, 2, 3, 4)  # one pass; longer videos chain extensions
    default_seconds: int = 2
    fps: tuple[int, ...] = (8,)  # the frame rate the model was trained at
    default_fps: int = 8
    steps: int = 16
    guidance: float = 4.0
    sampler: str = "euler"
    shift: float = 2.0  # timestep shift toward high noise, see diffusion.flow.timesteps

    @classmethod
    def from_dict(cls, d: dict) -> "GenerationDefaults":
        d = dict(d)
        for k in ("sizes", "seconds", "fps"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: int
    prompt: str = ""
    params: dict = field(default_factory=dict)

    @property
    def size(self) -> str:
        return f"{self.frames.shape[2]}x{self.frames.shape[1]}"

    def save(self, path: str | Path, scale_to: tuple[int, int] | None = None) -> Path:
        from .media.video import write_mp4
        return write_mp4(path, self.frames, self.fps, scale_to=scale_to)


def to_frames(y: torch.Tensor) -> np.ndarray:
    """Decoded pixels (T, 3, H, W) in about [-1, 1] -> (T, H, W, 3) uint8."""
    return np.ascontiguousarray(((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())


def parse_size(size: str) -> tuple[int, int]:
    w, _, h = str(size).lower().partition("x")
    return int(w), int(h)


def load_defaults(path: str | Path | None = None) -> GenerationDefaults:
    """The allowed and default settings of a saved model, without loading its weights."""
    cfg_path = Path(path or WEIGHTS_DIR) / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"no model at {cfg_path.parent}: config.json is missing")
    return GenerationDefaults.from_dict(json.loads(cfg_path.read_text()).get("defaults", {}))


def check_inputs(d: GenerationDefaults, prompt, seconds, size, fps, steps, guidance, sampler) -> None:
    """One rule set for CLI, HTTP and Python, with messages that name the field and what to fix."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string describing the video")
    if size not in d.sizes:
        raise ValueError(f"size must be one of {', '.join(d.sizes)} (width x height); got {size!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds not in d.seconds:
        raise ValueError(f"seconds must be one of {', '.join(map(str, d.seconds))}; got {seconds!r}")
    if isinstance(fps, bool) or fps not in d.fps:
        raise ValueError(f"fps must be one of {', '.join(map(str, d.fps))}; got {fps!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1 or steps > 200:
        raise ValueError(f"steps must be a whole number from 1 to 200; got {steps!r}")
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or math.isnan(guidance) \
            or not 0 <= guidance <= 20:
        raise ValueError(f"guidance must be a number from 0 to 20; got {guidance!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}")


def check_output_path(path: str | Path) -> Path:
    """The output must be a .mp4 file in an existing, writable folder; checked before any work."""
    import os
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"output must be a path ending in .mp4; got {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"output {str(path)!r} is a folder; give a file path ending in .mp4")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"output folder {str(parent)!r} does not exist; create it or choose another path")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"output {str(path)!r} is not writable; choose a path you can write to")
    return path


class VideoPipeline:
    def __init__(self, text_encoder: Callable, autoencoder: VideoAutoencoder, transformer: DiT,
                 defaults: GenerationDefaults = GenerationDefaults(), name: str = "openreel-v1"):
        self.text_encoder = text_encoder
        self.autoencoder = autoencoder.eval()
        self.transformer = transformer.eval()
        self.defaults = defaults
        self.name = name
        self._null_text = None

    # ------------------------------------------------------------------
    # Loading

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, text_encoder: Callable | None = None) -> "VideoPipeline":
        """Load weights saved by `save_pretrained` (default: the built-in model shipped in the package)."""
        from safetensors.torch import load_file
        from .models.text_encoder import CachedTextEncoder, TextEncoder
        path = Path(path) if path else WEIGHTS_DIR
        cfg_path = path / "config.json"
        if not cfg_path.exists():
            raise FileNotFoundError(f"no model at {path}: config.json is missing")
        config = json.loads(cfg_path.read_text())
        ae = cls.load_autoencoder(path)
        dit = DiT(DiTConfig(**config["transformer"]))
        dit.load_state_dict(load_file(path / "transformer.safetensors"))
        te = text_encoder or CachedTextEncoder(TextEncoder())
        return cls(te, ae, dit, GenerationDefaults.from_dict(config.get("defaults", {})), config.get("name", "openreel-v1"))

    @staticmethod
    def load_autoencoder(path: Path) -> VideoAutoencoder:
        from safetensors.torch import load_file
        config = json.loads((path / "config.json").read_text())
        ae = VideoAutoencoder(AutoencoderConfig.from_dict(config["autoencoder"]))
        ae.load_state_dict(load_file(path / "autoencoder.safetensors"))
        return ae

    def save_pretrained(self, path: str | Path, extra: dict | None = None) -> None:
        from safetensors.torch import save_file
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.autoencoder.state_dict().items()}, path / "autoencoder.safetensors")
        save_file({k: v.contiguous() for k, v in self.transformer.state_dict().items()}, path / "transformer.safetensors")
        d = self.defaults
        config = {"name": self.name, "autoencoder": self.autoencoder.cfg.to_dict(),
                  "transformer": self.transformer.cfg.to_dict(),
                  "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (token states, frozen)",
                  "defaults": {k: list(v) if isinstance(v, tuple) else v for k, v in d.__dict__.items()},
                  **(extra or {})}
        (path / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    def check_inputs(self, prompt, seconds, size, fps, steps, guidance, sampler) -> None:
        check_inputs(self.defaults, prompt, seconds, size, fps, steps, guidance, sampler)

    # ------------------------------------------------------------------
    # Generation

    def encode_prompt(self, prompt: str):
        if self._null_text is None:
            self._null_text = self.text_encoder([""])
        states, mask = self.text_encoder([prompt])
        return (states, mask), self._null_text

    @torch.no_grad()
    def __call__(self, prompt: str, seconds: int | None = None, size: str | None = None, fps: int | None = None,
                 steps: int | None = None, guidance: float | None = None, seed: int = 0,
                 sampler: str | None = None, callback: Callable[[int, int], None] | None = None) -> Video:
        d = self.defaults
        seconds = d.default_seconds if seconds is None else seconds
        size = d.size if size is None else size
        fps = d.default_fps if fps is None else fps
        steps = d.steps if steps is None else steps
        guidance = d.guidance if guidance is None else guidance
        sampler = d.sampler if sampler is None else sampler
        # 1. Check inputs
        self.check_inputs(prompt, seconds, size, fps, steps, guidance, sampler)
        width, height = parse_size(size)
        frames = int(round(seconds * fps))
        # 2. Encode the prompt (and the empty prompt, for guidance)
        (text, mask), (null, null_mask) = self.encode_prompt(prompt)
        # 3. Prepare the initial noise, from the seed alone
        ae = self.autoencoder.cfg
        shape = (1, latent_frames(frames, ae.time_factor), ae.latent_channels,
                 height // ae.space_factor, width // ae.space_factor)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(int(seed)))
        # 4. The velocity field, with classifier-free guidance
        dit = self.transformer

        def cond(z, t):
            return dit(z, torch.full((1,), t), text, mask)

        def uncond(z, t):
            return dit(z, torch.full((1,), t), null, null_mask)

        velocity = guided(cond, uncond, guidance)
        # 5. Denoising loop
        step_cb = (lambda i, n, _x: callback(i + 1, n)) if callback else None
        z = SAMPLERS[sampler](velocity, x, timesteps(steps, d.shift), callback=step_cb)
        # 6. Decode to pixels
        y = self.autoencoder.decode(z, frames=frames)[0]  # (T, 3, H, W)
        video = to_frames(y)
        params = {"model": self.name, "seconds": seconds, "size": size, "fps": fps, "steps": steps,
                  "guidance": guidance, "seed": int(seed), "sampler": sampler}
        return Video(video, fps, prompt, params)
