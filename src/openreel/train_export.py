"""The end of training: the weights folder that `VideoPipeline.from_pretrained` loads, and its data manifest.

A run from init_from cites the manifest it continued from, so the chain of runs stays traceable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .models.autoencoder import VideoAutoencoder
from .train_transformer import pool_buckets

if TYPE_CHECKING:
    from .train import TrainConfig


def export(cfg: TrainConfig, ae: VideoAutoencoder, dit: torch.nn.Module, reader, dest: Path, encoder=None) -> Path:
    """Write safetensors weights, config and data manifest: what `VideoPipeline.from_pretrained` loads.
    `encoder` is a loaded TextEncoder to reuse (loading MiniLM again costs seconds)."""
    from .models.text_encoder import CachedTextEncoder, TextEncoder
    from .backends.builtin import VideoPipeline
    from .world.manifest import build_manifest
    previous_config = json.loads((Path(cfg.init_from) / "config.json").read_text()) if cfg.init_from else {}
    # A continued run without a reader stage keeps init_from's reader instead of exporting without one.
    kept_reader = reader is None and "prompt_reader" in previous_config
    if kept_reader:
        reader = VideoPipeline.load_reader(Path(cfg.init_from))
    stages = {}
    if not cfg.reader_only:
        stages["autoencoder"] = {"steps": cfg.ae_steps, "batch": cfg.ae_batch, "frames": cfg.ae_frames,
                                 "clips": cfg.ae_steps * cfg.ae_batch}
        stages["transformer"] = {
            "steps": cfg.dit_steps, "batch": cfg.dit_batch, "image_steps": cfg.dit_image_steps,
            "pool": [{"width": w, "height": h, "frames": f, "clips": n} for w, h, f, n, _ in pool_buckets(cfg)]}
    if reader is not None and not kept_reader:
        from .world.captions import READER_SENTENCES_VERSION
        stages["prompt_reader"] = {"steps": cfg.reader_steps, "batch": cfg.reader_batch, "sentences": cfg.reader_sentences,
                                   "sentences_version": READER_SENTENCES_VERSION,
                                   "random_words": "all-MiniLM-L6-v2 tokenizer vocabulary minus paraphrase and dev wording"}
    if cfg.init_from:  # a continued run cites what it continued from, so the chain stays traceable
        previous = json.loads((Path(cfg.init_from) / "data_manifest.json").read_text())
        cited = {"data_manifest_sha256": previous["sha256"], "stages": previous["stages"]}
        # A new reader replaces an earlier reader-only stage: cite what that reader was added to.
        while cfg.reader_only and set(cited["stages"]) == {"prompt_reader", "continued_from"}:
            cited = cited["stages"]["continued_from"]
        stages["continued_from"] = cited
    manifest = build_manifest(cfg.seed, stages)
    extra = {"data_manifest_sha256": manifest["sha256"], "train": cfg.to_dict()}
    if cfg.reader_only:  # the autoencoder and transformer are init_from's: keep the settings that trained them
        extra = {**extra, "train": previous_config["train"], "train_reader": cfg.to_dict()}
    elif kept_reader:  # and the kept reader keeps the settings that trained it (its own stage's, or its run's)
        extra["train_reader"] = previous_config.get("train_reader", previous_config["train"])
    pipe = VideoPipeline(CachedTextEncoder(encoder or TextEncoder()), ae, dit, reader=reader)
    pipe.save_pretrained(dest, extra=extra)
    (dest / "data_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return dest
