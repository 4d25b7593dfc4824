"""The spacetime video autoencoder: pixels (B, T, 3, H, W) <-> latents (B, n, C, H/4, W/4).

Space is compressed 4x per side by strided convolutions applied frame by
frame. Time is compressed 4x by stacking groups of 4 frames' features into
channels ("time to depth"). It is causal in time, as in Sora and CogVideoX:
frame 0 forms a group on its own (repeated 4 times), then every 4 frames make
one group, so T = 1 + 4k frames give n = 1 + k latent frames, and an image is
simply a one-frame video with a one-frame latent. The decoder mixes each
latent frame only with the one before it, so decoding stays causal too.

It is a VAE with a small KL weight: the posterior's noise during training
makes the decoder tolerant of the slightly-off latents a diffusion model
samples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class AutoencoderConfig:
    channels: tuple[int, int, int] = (16, 32, 64)  # widths at full, 1/2 and 1/4 resolution; small: this runs on 2 cores
    group_channels: int = 128  # width after stacking a group of 4 frames at 1/4 resolution
    latent_channels: int = 8  # C of the latent; the DiT patchifies it
    time_factor: int = 4  # frames per latent frame (after the first)
    space_factor: int = 4  # pixels per latent cell, per side
    # Latents are normalised to roughly unit variance for the DiT: z_dit = (z - shift) * scale.
    # Measured on training data after the autoencoder is trained (see train.py).
    latent_shift: float = 0.0
    latent_scale: float = 1.0

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        d = dict(d)
        d["channels"] = tuple(d["channels"])
        return cls(**d)


def latent_frames(frames: int, time_factor: int = 4) -> int:
    """Number of latent frames for a clip of `frames` frames (frames are padded up to 1 + 4k)."""
    return 1 + math.ceil(max(frames - 1, 0) / time_factor)


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, ch), nn.Conv2d(ch, ch, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(8, ch), nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):  # (N, ch, h, w)
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class Encoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        c0, c1, c2 = cfg.channels
        self.frame = nn.Sequential(  # one frame: (N, 3, H, W) -> (N, c2, H/4, W/4)
            nn.Conv2d(3, c0, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c0, c1, 4, stride=2, padding=1), ResBlock(c1),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), ResBlock(c2),
        )
        self.group = nn.Sequential(  # a group of 4 frames stacked in channels -> posterior
            nn.Conv2d(cfg.time_factor * c2, cfg.group_channels, 3, padding=1), ResBlock(cfg.group_channels),
            nn.GroupNorm(8, cfg.group_channels), nn.SiLU(),
            nn.Conv2d(cfg.group_channels, 2 * cfg.latent_channels, 3, padding=1),
        )
        self.tf = cfg.time_factor

    def forward(self, video):  # (B, T, 3, H, W) with T = 1 + 4k
        B, T = video.shape[:2]
        feats = self.frame(video.flatten(0, 1))  # (B*T, c2, h, w)
        feats = feats.unflatten(0, (B, T))  # (B, T, c2, h, w)
        first = feats[:, :1].expand(-1, self.tf, -1, -1, -1)  # frame 0 is its own group
        groups = torch.cat([first, feats[:, 1:]], dim=1)  # (B, 4n, c2, h, w)
        groups = groups.unflatten(1, (-1, self.tf)).flatten(2, 3)  # (B, n, 4*c2, h, w)
        n = groups.shape[1]
        moments = self.group(groups.flatten(0, 1)).unflatten(0, (B, n))  # (B, n, 2C, h, w)
        mean, logvar = moments.chunk(2, dim=2)  # (B, n, C, h, w) each
        # The offset starts the posterior std near 0.02: at a fresh model's std of 1
        # the sampling noise drowns the signal and the decoder learns only blobs.
        return mean, (logvar - 8.0).clamp(-30.0, 20.0)


class Decoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        c0, c1, c2 = cfg.channels
        g = cfg.group_channels
        self.proj = nn.Conv2d(cfg.latent_channels, g, 3, padding=1)
        # Causal time mixing: each latent frame also sees the previous one, which
        # keeps the object continuous across group seams.
        self.prev = nn.Conv2d(cfg.latent_channels, g, 3, padding=1)
        self.group = nn.Sequential(ResBlock(g), nn.GroupNorm(8, g), nn.SiLU(),
                                   nn.Conv2d(g, cfg.time_factor * c2, 3, padding=1))
        self.frame = nn.Sequential(  # one frame: (N, c2, H/4, W/4) -> (N, 3, H, W)
            ResBlock(c2),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), ResBlock(c1),
            nn.ConvTranspose2d(c1, c0, 4, stride=2, padding=1),
            nn.GroupNorm(8, c0), nn.SiLU(), nn.Conv2d(c0, 3, 3, padding=1),
        )
        self.tf, self.c2 = cfg.time_factor, c2

    def forward(self, z):  # (B, n, C, h, w)
        B, n = z.shape[:2]
        prev = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], dim=1)  # (B, n, C, h, w), shifted one step
        h = self.proj(z.flatten(0, 1)) + self.prev(prev.flatten(0, 1))  # (B*n, g, h, w)
        h = self.group(h)  # (B*n, 4*c2, h, w)
        h = h.unflatten(1, (self.tf, self.c2)).unflatten(0, (B, n))  # (B, n, 4, c2, h, w)
        h = torch.cat([h[:, 0, -1:], h[:, 1:].flatten(1, 2)], dim=1)  # (B, 1 + 4(n-1), c2, h, w)
        T = h.shape[1]
        return self.frame(h.flatten(0, 1)).unflatten(0, (B, T))  # (B, T, 3, H, W)


class VideoAutoencoder(nn.Module):
    """Pixels in [-1, 1]. encode() returns normalised latents ready for the DiT."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)

    def pad_frames(self, video):  # (B, T, 3, H, W) -> (B, 1 + 4k, 3, H, W), repeating the last frame
        extra = (latent_frames(video.shape[1], self.cfg.time_factor) - 1) * self.cfg.time_factor + 1 - video.shape[1]
        return torch.cat([video, video[:, -1:].expand(-1, extra, -1, -1, -1)], dim=1) if extra else video

    def check_size(self, height: int, width: int) -> None:
        f = self.cfg.space_factor
        if height % f or width % f:
            raise ValueError(f"video height and width must be multiples of {f}; got {width}x{height}")

    def posterior(self, video):  # (B, T, 3, H, W) -> mean, logvar of raw latents
        self.check_size(*video.shape[-2:])
        return self.encoder(self.pad_frames(video))

    def encode(self, video, sample: bool = False, generator: torch.Generator | None = None):
        mean, logvar = self.posterior(video)
        z = mean
        if sample:
            z = mean + torch.randn(mean.shape, generator=generator, dtype=mean.dtype) * (0.5 * logvar).exp()
        return (z - self.cfg.latent_shift) * self.cfg.latent_scale  # (B, n, C, H/4, W/4)

    def forward(self, video, generator: torch.Generator | None = None):
        """Training pass: reconstruction through a posterior sample, plus the posterior."""
        mean, logvar = self.posterior(video)  # (B, n, C, h, w)
        z = mean + torch.randn(mean.shape, generator=generator).to(mean.device) * (0.5 * logvar).exp()
        return self.decoder(z)[:, : video.shape[1]], mean, logvar  # (B, T, 3, H, W)

    def decode(self, z, frames: int | None = None):  # normalised latents -> (B, T, 3, H, W) in about [-1, 1]
        video = self.decoder(z / self.cfg.latent_scale + self.cfg.latent_shift)
        return video[:, :frames] if frames is not None else video
