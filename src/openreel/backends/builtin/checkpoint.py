"""The built-in model's weights folder: config.json beside safetensors files.

    config.json                  name, each component's config, the generation defaults
    autoencoder.safetensors      VideoAutoencoder
    transformer.safetensors      DiT
    prompt_reader.safetensors    PromptReader (absent in older folders)

The config says how to rebuild every component, so a folder loads with nothing else
(nanoGPT's checkpoints carry model_args the same way). `load_defaults` reads the menu of
sizes, seconds and settings without loading any weights. train.py exports with `save`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file, save_file

from ...models.autoencoder import AutoencoderConfig, VideoAutoencoder
from ...models.dit import DiT, DiTConfig
from ...models.prompt_reader import PromptReader, ReaderConfig

WEIGHTS_DIR = Path(__file__).parents[2] / "weights"  # the built-in model, shipped in the package


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


def load_config(path: str | Path | None = None) -> dict:
    """A folder's config.json (default: the built-in model's)."""
    cfg_path = Path(path or WEIGHTS_DIR) / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"no model at {cfg_path.parent}: config.json is missing")
    return json.loads(cfg_path.read_text())


def load_defaults(path: str | Path | None = None) -> GenerationDefaults:
    """The allowed and default settings of a saved model, without loading its weights."""
    return GenerationDefaults.from_dict(load_config(path).get("defaults", {}))


# Each loader takes the folder's config where the caller has read it already (one read per load).

def load_reader(path: str | Path, config: dict | None = None) -> PromptReader | None:
    """The folder's prompt reader; None for older folders, whose prompts go to the transformer as given."""
    config = load_config(path) if config is None else config
    if "prompt_reader" not in config:
        return None
    reader = PromptReader(ReaderConfig(**config["prompt_reader"]))
    reader.load_state_dict(load_file(Path(path) / "prompt_reader.safetensors"))
    return reader


def load_transformer(path: str | Path, config: dict | None = None) -> DiT:
    config = load_config(path) if config is None else config
    dit = DiT(DiTConfig(**config["transformer"]))
    dit.load_state_dict(load_file(Path(path) / "transformer.safetensors"))
    return dit


def load_autoencoder(path: str | Path, config: dict | None = None) -> VideoAutoencoder:
    config = load_config(path) if config is None else config
    ae = VideoAutoencoder(AutoencoderConfig.from_dict(config["autoencoder"]))
    ae.load_state_dict(load_file(Path(path) / "autoencoder.safetensors"))
    return ae


def save(path: str | Path, autoencoder: VideoAutoencoder, transformer: DiT, reader: PromptReader | None,
         name: str, defaults: GenerationDefaults, extra: dict | None = None) -> None:
    """Write a folder that the loaders above read back; `extra` adds top-level config keys."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in autoencoder.state_dict().items()}, path / "autoencoder.safetensors")
    save_file({k: v.contiguous() for k, v in transformer.state_dict().items()}, path / "transformer.safetensors")
    if reader is not None:
        save_file({k: v.contiguous() for k, v in reader.state_dict().items()}, path / "prompt_reader.safetensors")
    config = {"name": name, "autoencoder": autoencoder.cfg.to_dict(),
              "transformer": transformer.cfg.to_dict(),
              "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (token states, frozen)",
              "defaults": {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.__dict__.items()},
              **({"prompt_reader": reader.cfg.to_dict()} if reader is not None else {}),
              **(extra or {})}
    (path / "config.json").write_text(json.dumps(config, indent=2) + "\n")
