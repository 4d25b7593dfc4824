"""Training: stage 1 the video autoencoder, stage 2 the diffusion transformer, stage 3 the prompt reader.

    openreel train --out runs/base            # all stages, resumable
    torchrun --nproc-per-node 4 -m openreel.train --out runs/base   # the same, DDP

Everything is deterministic from `seed`: each example is a pure function of
(seed, step, index) (see world/data.py) and each step's noise comes from a
generator seeded with (seed, step). A checkpoint holds weights, optimiser,
step and config, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass
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
    ae_steps: int = 2600
    ae_batch: int = 16
    ae_frames: int = 9
    ae_crop: int = 32  # train on crops around the object: 4x cheaper than 64x64 and every pixel of signal kept (0 = whole frames)
    ae_lr: float = 2e-3
    ae_kl: float = 1e-4  # small: we want sharp shapes, the KL only keeps latents tame
    ae_edge_weight: float = 4.0  # extra L1 weight on object edges, so squares stay square
    ae_object_weight: float = 8.0  # extra L1 weight on the object: it is ~5% of the pixels but all of the meaning
    # Stage 2: diffusion transformer (filled in by train_dit).
    dit_steps: int = 10000
    dit_batch: int = 16
    dit_lr: float = 6e-4
    dit_preset: str = "S"
    dit_pool: int = 16000  # pre-encoded training clips per size bucket, 64x64
    dit_image_steps: int = 1000  # first steps on one-frame clips (image pre-training)
    caption_dropout: float = 0.1  # for classifier-free guidance
    captions_per_clip: int = 4  # pool captions per clip, in different wording; each step picks one
    init_from: str = ""  # an exported weights folder to start from: keeps its autoencoder, continues its transformer
    # Masked frame conditioning (issue 3). > 0 gives the transformer its known-frames input
    # (zero-initialised, so init_from's model is where it starts) and shows that share of
    # training clips with some latent frames known; the rest see none, so text -> video keeps its practice.
    frame_masks: float = 0.0
    # Weight of diffusion.flow.motion_loss beside the flow loss: > 0 asks the transformer for
    # errors that persist from one latent frame to the next rather than hop at group seams
    # (what most limits extension seams and blends, issue 3).
    dit_motion_weight: float = 0.0
    pool_scale: float = 1.0  # multiplies every pool bucket's clip count (smoke runs use a sliver)
    # Stage 3: the prompt reader (models/prompt_reader.py), on tagged sentences. 0 steps = none trained
    # (a run from init_from then keeps that folder's reader; see export).
    reader_steps: int = 3000
    reader_batch: int = 64
    # A fixed set, encoded once by MiniLM (about 2 minutes on one core). Sentence version 3 has more
    # shapes: 12,000 sentences and 3,000 steps read dev wordings a little better than 6,000 and 1,500.
    reader_sentences: int = 12000
    reader_lr: float = 2e-3
    reader_only: bool = False  # train only the reader, on top of init_from's autoencoder and transformer
    # Bookkeeping.
    session_steps: int = 0  # stop after this many steps in this invocation (0 = no limit); run again to resume
    ckpt_every: int = 200
    probe_every: int = 1000  # 0 = never
    log_every: int = 20

    def to_dict(self) -> dict:
        return asdict(self)


class Interrupted(Exception):
    """Training stopped early on purpose (session_steps); the checkpoint is saved."""


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
    from .pipeline import to_frames
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



# ----------------------------------------------------------------------------
# Stage 2: the diffusion transformer over pre-encoded latents

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
    from .pipeline import VideoPipeline
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


# ----------------------------------------------------------------------------
# Stage 3: the prompt reader

def train_reader(cfg: TrainConfig, encoder, show: bool = True):
    """Fit the tagger on a fixed set of tagged sentences (world/captions.tagged_sentence). Small
    enough to train in one go: a couple of minutes on one core, so no checkpoints."""
    from .models.prompt_reader import PromptReader, ReaderConfig, reader_loss, word_states
    from .world.captions import reader_vocabulary, tagged_sentence
    rng = np.random.default_rng([cfg.seed, 3])
    vocab = reader_vocabulary(encoder.tokenizer.get_vocab())
    sentences = [tagged_sentence(rng, vocab) for _ in range(cfg.reader_sentences)]
    states = []
    with progress(len(sentences), 0, "reader: encoding sentences", show) as bar:
        for i in range(0, len(sentences), 64):
            chunk = word_states(encoder, [words for words, _ in sentences[i:i + 64]])
            states += [chunk[k, :len(words)] for k, (words, _) in enumerate(sentences[i:i + 64])]
            bar.update(len(chunk))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "reader.log.jsonl", True)
    torch.manual_seed(cfg.seed)
    reader = PromptReader(ReaderConfig())
    opt = torch.optim.AdamW(reader.parameters(), lr=cfg.reader_lr, weight_decay=0.0)
    bar = progress(cfg.reader_steps, 0, "reader", show)
    for step in range(cfg.reader_steps):
        pick = rng.integers(len(sentences), size=cfg.reader_batch)
        length = max(len(sentences[i][0]) for i in pick)
        x = torch.zeros(len(pick), length, states[0].shape[-1])
        y = torch.full((len(pick), length), -100, dtype=torch.long)
        for k, i in enumerate(pick):
            x[k, :len(states[i])] = states[i]
            y[k, :len(states[i])] = torch.tensor(sentences[i][1])
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg.reader_steps, cfg.reader_lr)
        loss = reader_loss(reader, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
        if step % cfg.log_every == 0:
            log(step=step, loss=loss.item())
            bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    return reader.eval()


# ----------------------------------------------------------------------------
# All stages, then export

def export(cfg: TrainConfig, ae: VideoAutoencoder, dit: torch.nn.Module, reader, dest: Path, encoder=None) -> Path:
    """Write safetensors weights, config and data manifest: what `VideoPipeline.from_pretrained` loads.
    `encoder` is a loaded TextEncoder to reuse (loading MiniLM again costs seconds)."""
    from .models.text_encoder import CachedTextEncoder, TextEncoder
    from .pipeline import VideoPipeline
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


def run(cfg: TrainConfig) -> Path:
    device = pick_device(cfg.device)
    dist = setup_distributed(device)
    if cfg.reader_only and not cfg.init_from:
        raise ValueError("reader_only needs init_from: the weights folder whose autoencoder and transformer to keep")
    if cfg.init_from:  # continue from exported weights: the autoencoder (and its latent scale) stays as it is
        from .pipeline import VideoPipeline
        ae = VideoPipeline.load_autoencoder(Path(cfg.init_from)).to(device)
    else:
        ae = train_autoencoder(cfg, device, dist)
    if cfg.reader_only:
        from .pipeline import VideoPipeline
        dit = VideoPipeline.load_transformer(Path(cfg.init_from))
    else:
        dit = train_dit(cfg, ae, device, dist)
    dest = Path(cfg.out) / "weights"
    if dist.main:
        from .models.text_encoder import TextEncoder
        encoder = TextEncoder()
        # The reader is tiny and trains on the CPU in minutes: one process does it, after the transformer.
        reader = train_reader(cfg, encoder) if cfg.reader_steps > 0 else None
        export(cfg, ae.cpu(), dit.cpu(), reader, dest, encoder)
    return dest


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


if __name__ == "__main__":  # torchrun -m openreel.train [--key value ...]
    import argparse
    parser = argparse.ArgumentParser(description="Train OpenReel's built-in model (all stages).")
    for name, value in TrainConfig().to_dict().items():
        kind = _flag if isinstance(value, bool) else type(value)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=value)
    print(run(TrainConfig(**vars(parser.parse_args()))))
