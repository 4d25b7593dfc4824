"""Stage 1 of training: the video autoencoder, on short clips cropped around the object.

Resumable: autoencoder.pt in the run folder holds weights, optimiser, step and config.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .models.autoencoder import AutoencoderConfig, VideoAutoencoder
from .train_common import Dist, Interrupted, Log, lr_at, progress, save_atomic, shard
from .world import data

if TYPE_CHECKING:
    from .train import TrainConfig


def edge_map(x: torch.Tensor) -> torch.Tensor:
    """1 where a pixel differs from a neighbour (object boundaries), else 0. x: (N, 3, H, W)."""
    hi = F.max_pool2d(x, 3, 1, 1)
    lo = -F.max_pool2d(-x, 3, 1, 1)
    return ((hi - lo).abs().amax(dim=1, keepdim=True) > 0.05).float()  # (N, 1, H, W)


def crop_around_object(ex: data.Example, crop: int, seed: int, step: int, index: int) -> np.ndarray:
    """A crop x crop window of the clip around the object's mid-clip position, jittered (whole clip if crop=0)."""
    T, H, W, _ = ex.video.shape
    if not crop or crop >= min(H, W):
        return ex.video
    rng = np.random.default_rng([seed, 3, step, index])
    cx, cy, _ = ex.scene.at(0.5)
    x0 = int(np.clip(cx * W - crop / 2 + rng.integers(-8, 9), 0, W - crop))
    y0 = int(np.clip(cy * H - crop / 2 + rng.integers(-8, 9), 0, H - crop))
    return ex.video[:, y0:y0 + crop, x0:x0 + crop]


def object_map(x: torch.Tensor) -> torch.Tensor:
    """1 on pixels that differ from the frame's (flat, majority) background. x: (N, 3, H, W)."""
    background = x.flatten(2).median(dim=2).values[:, :, None, None]  # (N, 3, 1, 1)
    return ((x - background).abs().amax(dim=1, keepdim=True) > 0.1).float()  # (N, 1, H, W)


def autoencoder_loss(model: Callable, x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator):
    """model: the autoencoder, or its DDP wrapper (so gradients are averaged across ranks)."""
    y, mean, logvar = model(x, gen)  # (B, T, 3, H, W), (B, n, C, h, w) x2
    frames = x.flatten(0, 1)  # (B*T, 3, H, W)
    weight = 1 + cfg.ae_edge_weight * edge_map(frames) + cfg.ae_object_weight * object_map(frames)
    weight = weight.unflatten(0, x.shape[:2])  # (B, T, 1, H, W)
    rec = ((y - x).abs() * weight).mean()
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
    return rec + cfg.ae_kl * kl, rec.detach(), kl.detach()


def reconstruction_probe(model: VideoAutoencoder, device, n: int = 48, seed: int = 12345) -> float:
    """Share of held-aside clips whose *reconstruction* the probe reads as the original."""
    from .eval.probe import probe
    from .backends.builtin import to_frames
    hits = 0
    with torch.no_grad():
        for i in range(n):
            ex = data.example(seed, 0, i, 64, 64, 16)
            x = torch.from_numpy(data.to_tensor_layout(ex.video[None])).to(device)
            y = model.decode(model.encode(x), frames=16)[0]
            r = probe(to_frames(y))
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
    stop = cfg.ae_steps if not cfg.session_steps else min(cfg.ae_steps, step + cfg.session_steps)
    rng_sizes = np.random.default_rng([cfg.seed, 1])
    sizes = [data.NATIVE_SIZES[i] for i in rng_sizes.choice(3, size=cfg.ae_steps, p=[0.6, 0.2, 0.2])]
    while step < stop:
        w, h = sizes[step]
        mine = shard(cfg.ae_batch, dist)
        clips = data.batch(cfg.seed, step, mine, w, h, cfg.ae_frames)
        videos = np.stack([crop_around_object(c, cfg.ae_crop, cfg.seed, step, i) for c, i in zip(clips, mine)])
        x = torch.from_numpy(data.to_tensor_layout(videos)).to(device)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.ae_steps, cfg.ae_lr, warmup=min(100, max(1, cfg.ae_steps // 10)))
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
        if dist.main and (step % cfg.ckpt_every == 0 or step == stop):
            save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                         "config": model.cfg.to_dict(), "train": cfg.to_dict()}, ckpt_path)
        if dist.main and cfg.probe_every and (step % cfg.probe_every == 0 or step == cfg.ae_steps):
            model.eval()
            score = reconstruction_probe(model, device)
            model.train()
            bar.write(f"autoencoder step {step}: probe agrees with {score:.0%} of reconstructions")
            log(step=step, recon_probe=score)
    bar.close()
    if step < cfg.ae_steps:
        raise Interrupted(f"autoencoder stopped at step {step} of {cfg.ae_steps}; run again to resume")
    return model
