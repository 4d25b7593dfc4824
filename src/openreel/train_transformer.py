"""Stage 2 of training: the diffusion transformer, over a pool of pre-encoded latents.

The pool (pool.pt) is encoded once per run folder: latents by the stage-1 autoencoder, several
captions per clip by the text encoder. Resumable: dit.pt holds weights, EMA, optimiser and step.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .models.autoencoder import VideoAutoencoder
from .train_common import Dist, Interrupted, Log, lr_at, progress, save_atomic, shard
from .world import data

if TYPE_CHECKING:
    from .train import TrainConfig


# (width, height, frames, clips, share of training steps). 2 s at 8 fps = 16
# frames, padded by the autoencoder to 17 = 1 + 4*4. Mostly the default 64x64
# 2 s clip, plus 1 s and 4 s clips and both non-square aspect ratios natively.
POOL_BUCKETS: tuple[tuple[int, int, int, int, float], ...] = (
    (64, 64, 17, 6000, 0.6),
    (64, 64, 9, 1500, 0.1),
    (64, 64, 33, 1200, 0.1),
    (112, 64, 17, 1500, 0.1),
    (64, 112, 17, 1500, 0.1),
)
POOL_SEED_OFFSET = 7_000_000  # pool clips use steps far from the autoencoder's (its steps < 1e6)


@dataclass
class Bucket:
    width: int
    height: int
    frames: int
    latents: torch.Tensor  # (N, n, C, h, w) float16, normalised
    text: torch.Tensor  # (N, K, L, 384) float16: K captions of each clip
    mask: torch.Tensor  # (N, K, L) bool
    weight: float
    stills: torch.Tensor | None = None  # (N, n, C, h, w) float16: latent p of the frame at group p's start, alone


def pool_clips(cfg: TrainConfig, bucket_index: int, count: int, w: int, h: int, frames: int):
    """The deterministic clips of one pool bucket (only training combos, via world.data)."""
    step = POOL_SEED_OFFSET + bucket_index
    return (data.example(cfg.seed, step, i, w, h, frames) for i in range(count))


def clip_captions(cfg: TrainConfig, bucket_index: int, index: int, ex: data.Example, k: int) -> list[str]:
    """k captions of one pool clip: its own, then k-1 more drawn from their own seeds.

    Several wordings per clip teach the model that "scarlet wedge going up" and
    "red triangle rising" are one video, so it learns to read meaning from the
    text encoder rather than a few exact tokens.
    """
    from .world.captions import caption
    out = [ex.caption]
    for j in range(1, k):
        rng = np.random.default_rng([cfg.seed, POOL_SEED_OFFSET + bucket_index, index, j])
        out.append(caption(ex.scene, rng, with_background=rng.random() >= data.P_NO_BACKGROUND))
    return out


def pool_buckets(cfg: TrainConfig) -> list[tuple[int, int, int, int, float]]:
    return [(w, h, f, max(cfg.dit_batch * 4, int(n * cfg.pool_scale)), p) for w, h, f, n, p in POOL_BUCKETS]


def build_pool(cfg: TrainConfig, ae: VideoAutoencoder, text_encoder, device, show: bool) -> list[Bucket]:
    out = []
    buckets = pool_buckets(cfg)
    total = sum(b[3] for b in buckets)
    bar = progress(total, 0, "encoding training pool", show)
    for bi, (w, h, frames, count, weight) in enumerate(buckets):
        lat, txt, msk, stl = [], [], [], []
        clips = list(pool_clips(cfg, bi, count, w, h, frames))
        for s in range(0, count, 32):
            chunk = clips[s:s + 32]
            x = torch.from_numpy(data.to_tensor_layout(np.stack([c.video for c in chunk]))).to(device)
            with torch.no_grad():
                lat.append(ae.encode(x).half().cpu())
                if cfg.frame_masks:
                    stl.append(encode_stills(ae, x).half().cpu())
            k = cfg.captions_per_clip
            states, mask = text_encoder([t for j, c in enumerate(chunk)
                                         for t in clip_captions(cfg, bi, s + j, c, k)])
            txt.append(states.half().view(len(chunk), k, *states.shape[1:]))
            msk.append(mask.view(len(chunk), k, -1))
            bar.update(len(chunk))
        out.append(Bucket(w, h, frames, torch.cat(lat), torch.cat(txt), torch.cat(msk), weight,
                          torch.cat(stl) if stl else None))
    bar.close()
    return out


def encode_stills(ae: VideoAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """(B, 1 + 4k, 3, H, W) clips -> (B, 1 + k, C, h, w): latent p is frame 4p - 3 (frame 0 for p = 0)
    encoded alone, what the pipeline gives the transformer as a known frame at position p."""
    B, T = x.shape[:2]
    first = [0] + list(range(1, T, ae.cfg.time_factor))  # the first frame of each latent frame
    z = ae.encode(x[:, first].flatten(0, 1)[:, None])  # (B*n, 1, C, h, w)
    return z.view(B, len(first), *z.shape[2:])


def frame_mask(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Which of n latent frames a training clip shows as known: none (1 - share), else the
    first k, the last k or both ends, k mostly 1 (what the pipeline's modes pin)."""
    m = np.zeros(n, dtype=bool)
    if rng.random() >= share:
        return m
    k = 1 if rng.random() < 0.7 or n < 3 else int(rng.integers(2, n))
    kind = rng.choice(3, p=[0.5, 0.25, 0.25])  # first k (image, extend), last k (extend backward), both ends (blend)
    if kind in (0, 2):
        m[:k] = True
    if kind in (1, 2):
        m[n - (1 if kind == 2 else k):] = True
    return m


def latent_stats(ae: VideoAutoencoder, cfg: TrainConfig, device, n: int = 256) -> tuple[float, float]:
    """(shift, scale) that bring raw latents to zero mean and unit variance."""
    clips = list(pool_clips(cfg, 99, n, 64, 64, 17))
    zs = []
    with torch.no_grad():
        for s in range(0, n, 32):
            x = torch.from_numpy(data.to_tensor_layout(np.stack([c.video for c in clips[s:s + 32]]))).to(device)
            zs.append(ae.posterior(x)[0].cpu())
    z = torch.cat(zs)
    return float(z.mean()), float(1.0 / z.std())


class EMA:
    """Exponential moving average of the weights; sampling uses the average (smoother, better samples)."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # short memory early on, when weights move fast
        for k, v in model.state_dict().items():
            self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)


def dit_batch(buckets: list[Bucket], cfg: TrainConfig, step: int, dist: Dist, null_text, device):
    """One training batch, a pure function of (seed, step): bucket, clips, noise, times, dropout."""
    rng = np.random.default_rng([cfg.seed, 2, step])
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 500_000 + step)
    image_phase = step < cfg.dit_image_steps
    if image_phase:  # image pre-training: latent frame 0 is the image, 4x the batch costs about the same
        bucket, size = buckets[0], 4 * cfg.dit_batch
    else:
        bucket = buckets[rng.choice(len(buckets), p=np.array([b.weight for b in buckets]) / sum(b.weight for b in buckets))]
        size = cfg.dit_batch
    idx = torch.from_numpy(rng.choice(len(bucket.latents), size=size, replace=False))
    x0 = bucket.latents[idx].float()
    if image_phase:
        x0 = x0[:, :1]
    n = x0.shape[1]
    mask_rng = np.random.default_rng([cfg.seed, 4, step])  # its own stream: runs without masks draw as before
    known_mask = torch.from_numpy(np.stack([frame_mask(mask_rng, n, cfg.frame_masks) for _ in range(size)]))  # (B, n)
    known = bucket.stills[idx, :n].float() if cfg.frame_masks else torch.zeros_like(x0)
    which = torch.from_numpy(rng.integers(bucket.text.shape[1], size=size))  # one of each clip's captions
    text, mask = bucket.text[idx, which].float(), bucket.mask[idx, which].clone()
    drop = torch.rand(size, generator=gen) < cfg.caption_dropout
    text[drop], mask[drop] = null_text[0], null_text[1]
    noise = torch.randn(x0.shape, generator=gen)
    from .diffusion.flow import sample_t
    t = sample_t(size, gen)
    mine = shard(size, dist)
    sl = slice(mine.start, mine.stop)
    return [v[sl].to(device) for v in (x0, noise, t, text, mask, known, known_mask)]


def sample_probe(dit: torch.nn.Module, ae: VideoAutoencoder, text_encoder, n: int = 24) -> float:
    """All-attributes-correct share of the probe over n fixed prompts of training combos, sampled
    through the real pipeline at its default settings."""
    from .eval.probe import probe
    from .backends.builtin import VideoPipeline
    from .world.captions import caption
    from .world.scene import sample_scene
    pipe = VideoPipeline(text_encoder, ae, dit)
    rng = np.random.default_rng(4242)
    hits = 0
    for i in range(n):
        scene = sample_scene(rng)
        r = probe(pipe(caption(scene, rng), seed=i).frames)
        hits += (r.shape, r.color, r.background, r.motion) == (scene.shape, scene.color, scene.background, scene.motion)
    return hits / n


def train_dit(cfg: TrainConfig, ae: VideoAutoencoder, device: torch.device, dist: Dist):
    from .diffusion.flow import flow_loss, motion_loss, noisy
    from .models.dit import DIT_PRESETS, DiT, DiTConfig
    from .models.text_encoder import TextEncoder
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "dit.pt"
    ae.eval().requires_grad_(False)
    if ae.cfg.latent_scale == 1.0 and ae.cfg.latent_shift == 0.0:
        ae.cfg.latent_shift, ae.cfg.latent_scale = latent_stats(ae, cfg, device)
    text_encoder = TextEncoder()
    null_text = text_encoder([""])
    torch.manual_seed(cfg.seed)
    dit_cfg = DIT_PRESETS[cfg.dit_preset](latent_channels=ae.cfg.latent_channels, frame_cond=cfg.frame_masks > 0)
    model = DiT(dit_cfg).to(device)
    if cfg.init_from and not ckpt_path.exists():
        from safetensors.torch import load_file
        model.load_state_dict(load_file(Path(cfg.init_from) / "transformer.safetensors"))
    ema = EMA(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.dit_lr, betas=(0.9, 0.99), weight_decay=0.0)
    step = 0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        ema.shadow = ckpt["ema"]
        opt.load_state_dict(ckpt["opt"])
        step = ckpt["step"]
    if step >= cfg.dit_steps:
        model.load_state_dict(ema.shadow)
        return model
    pool_path = out / "pool.pt"
    buckets = torch.load(pool_path, weights_only=False) if pool_path.exists() else None
    if buckets and buckets[0].text.shape[1] != cfg.captions_per_clip:
        buckets = None  # a pool from another caption recipe: encode afresh
    if buckets and cfg.frame_masks and getattr(buckets[0], "stills", None) is None:
        buckets = None  # a pool without the known-frame latents
    if buckets is None:
        buckets = build_pool(cfg, ae, text_encoder, device, dist.main)
        if dist.main:
            save_atomic(buckets, pool_path)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if dist.world > 1 else model
    log = Log(out / "dit.log.jsonl", dist.main)
    bar = progress(cfg.dit_steps, step, "diffusion transformer", dist.main)
    smooth = None
    stop = cfg.dit_steps if not cfg.session_steps else min(cfg.dit_steps, step + cfg.session_steps)
    while step < stop:
        x0, noise, t, text, mask, known, known_mask = dit_batch(buckets, cfg, step, dist, null_text, device)
        frames = {"known": known, "known_mask": known_mask} if cfg.frame_masks else {}
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.dit_steps, cfg.dit_lr, warmup=min(200, max(1, cfg.dit_steps // 10)))
        pred = ddp(noisy(x0, noise, t), t, text, mask, **frames)
        loss = flow_loss(pred, x0, noise)
        if cfg.dit_motion_weight:
            loss = loss + cfg.dit_motion_weight * motion_loss(pred, x0, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model, step)
        step += 1
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{smooth:.4f}")
        if step % cfg.log_every == 0:
            log(step=step, loss=loss.item(), smooth=smooth, time=time.time())
        if dist.main and (step % cfg.ckpt_every == 0 or step == stop):
            save_atomic({"model": model.state_dict(), "ema": ema.shadow, "opt": opt.state_dict(), "step": step,
                         "config": dit_cfg.to_dict(), "autoencoder_config": ae.cfg.to_dict(),
                         "train": cfg.to_dict()}, ckpt_path)
        if dist.main and cfg.probe_every and (step % cfg.probe_every == 0 or step == cfg.dit_steps):
            probe_model = DiT(dit_cfg)
            probe_model.load_state_dict({k: v.cpu() for k, v in ema.shadow.items()})
            score = sample_probe(probe_model, copy.deepcopy(ae).cpu(), text_encoder)
            bar.write(f"dit step {step}: probe reads {score:.0%} of sampled clips as their prompt (all attributes)")
            log(step=step, sample_probe=score)
    bar.close()
    if step < cfg.dit_steps:
        raise Interrupted(f"diffusion transformer stopped at step {step} of {cfg.dit_steps}; run again to resume")
    model.load_state_dict(ema.shadow)
    return model
