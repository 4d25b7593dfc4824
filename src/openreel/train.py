"""Training: stage 1 the video autoencoder, stage 2 the diffusion transformer.

    openreel train --out runs/base            # both stages, resumable
    torchrun --nproc-per-node 4 -m openreel.train --out runs/base   # the same, DDP

Everything is deterministic from `seed`: each example is a pure function of
(seed, step, index) (see world/data.py) and each step's noise comes from a
generator seeded with (seed, step). A checkpoint holds weights, optimiser,
step and config, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .models.autoencoder import AutoencoderConfig, VideoAutoencoder
from .world import data


@dataclass
class TrainConfig:
    seed: int = 0
    out: str = "runs/base"  # checkpoints, logs and the exported weights go here
    device: str = "auto"  # auto = cuda if available, else cpu
    # Stage 1: autoencoder. Short clips of 9 frames = frame 0 + two groups of 4,
    # enough to learn the causal first frame and a group seam.
    ae_steps: int = 1200
    ae_batch: int = 8
    ae_frames: int = 9
    ae_lr: float = 2e-3
    ae_kl: float = 1e-4  # small: we want sharp shapes, the KL only keeps latents tame
    ae_edge_weight: float = 4.0  # extra L1 weight on object edges, so squares stay square
    # Stage 2: diffusion transformer (filled in by train_dit).
    dit_steps: int = 10000
    dit_batch: int = 16
    dit_lr: float = 6e-4
    dit_preset: str = "S"
    dit_pool: int = 16000  # pre-encoded training clips per size bucket, 64x64
    dit_image_steps: int = 1000  # first steps on one-frame clips (image pre-training)
    caption_dropout: float = 0.1  # for classifier-free guidance
    # Bookkeeping.
    ckpt_every: int = 200
    probe_every: int = 1000  # 0 = never
    log_every: int = 20

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------
# Distributed and device helpers

@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> Dist:
    """torchrun passes rank and world size in the environment; without it we run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(torch.distributed.get_rank(), world)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(name)


def lr_at(step: int, total: int, peak: float, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def shard(batch: int, dist: Dist) -> range:
    per = batch // dist.world
    return range(dist.rank * per, (dist.rank + 1) * per)


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Log:
    """A JSON-lines log beside the checkpoints, so a run's curve survives it."""

    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled = path, enabled

    def __call__(self, **row) -> None:
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")


def progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True)


# ----------------------------------------------------------------------------
# Stage 1: the autoencoder

def edge_map(x: torch.Tensor) -> torch.Tensor:
    """1 where a pixel differs from a neighbour (object boundaries), else 0. x: (N, 3, H, W)."""
    hi = F.max_pool2d(x, 3, 1, 1)
    lo = -F.max_pool2d(-x, 3, 1, 1)
    return ((hi - lo).abs().amax(dim=1, keepdim=True) > 0.05).float()  # (N, 1, H, W)


def autoencoder_loss(model: Callable, x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator):
    """model: the autoencoder, or its DDP wrapper (so gradients are averaged across ranks)."""
    y, mean, logvar = model(x, gen)  # (B, T, 3, H, W), (B, n, C, h, w) x2
    weight = 1 + cfg.ae_edge_weight * edge_map(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    rec = ((y - x).abs() * weight).mean()
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
    return rec + cfg.ae_kl * kl, rec.detach(), kl.detach()


def reconstruction_probe(model: VideoAutoencoder, device, n: int = 48, seed: int = 12345) -> float:
    """Share of held-aside clips whose *reconstruction* the probe reads as the original."""
    from .eval.probe import probe
    hits = 0
    with torch.no_grad():
        for i in range(n):
            ex = data.example(seed, 0, i, 64, 64, 16)
            x = torch.from_numpy(data.to_tensor_layout(ex.video[None])).to(device)
            y = model.decode(model.encode(x), frames=16)[0]
            frames = ((y.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            r = probe(frames)
            s = ex.scene
            hits += (r.shape, r.color, r.background, r.motion) == (s.shape, s.color, s.background, s.motion)
    return hits / n


def train_autoencoder(cfg: TrainConfig, device: torch.device, dist: Dist) -> VideoAutoencoder:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "autoencoder.pt"
    torch.manual_seed(cfg.seed)
    ae_cfg = AutoencoderConfig()
    model = VideoAutoencoder(ae_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.ae_lr, weight_decay=0.0)
    step = 0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step = ckpt["step"]
        model.cfg = AutoencoderConfig.from_dict(ckpt["config"])
    if step >= cfg.ae_steps:
        return model
    ddp = torch.nn.parallel.DistributedDataParallel(model) if dist.world > 1 else model
    log = Log(out / "autoencoder.log.jsonl", dist.main)
    bar = progress(cfg.ae_steps, step, "autoencoder", dist.main)
    rng_sizes = np.random.default_rng([cfg.seed, 1])
    sizes = [data.NATIVE_SIZES[i] for i in rng_sizes.choice(3, size=cfg.ae_steps, p=[0.6, 0.2, 0.2])]
    while step < cfg.ae_steps:
        w, h = sizes[step]
        clips = data.batch(cfg.seed, step, shard(cfg.ae_batch, dist), w, h, cfg.ae_frames)
        x = torch.from_numpy(data.to_tensor_layout(np.stack([c.video for c in clips]))).to(device)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.ae_steps, cfg.ae_lr)
        loss, rec, kl = autoencoder_loss(ddp, x, cfg, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(rec=f"{rec.item():.4f}", kl=f"{kl.item():.2f}")
        if step % cfg.log_every == 0:
            log(step=step, rec=rec.item(), kl=kl.item(), time=time.time())
        if dist.main and (step % cfg.ckpt_every == 0 or step == cfg.ae_steps):
            save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                         "config": model.cfg.to_dict(), "train": cfg.to_dict()}, ckpt_path)
        if dist.main and cfg.probe_every and (step % cfg.probe_every == 0 or step == cfg.ae_steps):
            model.eval()
            score = reconstruction_probe(model, device)
            model.train()
            bar.write(f"autoencoder step {step}: probe agrees with {score:.0%} of reconstructions")
            log(step=step, recon_probe=score)
    bar.close()
    return model

