"""The diffusion transformer: a DiT over latent spacetime patches, conditioned on text.

Latents (B, n, C, h, w) are cut into patches of 1 latent frame x p x p cells,
each a token with a fixed 3D sin-cos position (frame, row, column). Because
positions are computed for whatever grid comes in, one model samples any
duration and any size, including 1:1, 16:9 and 9:16 (Sora's point about
training on native aspect ratios instead of cropping to squares).

Each block: adaLN-zero self-attention over all spacetime tokens, then
cross-attention to the frozen text encoder's token states, then an MLP. The
timestep and a pooled text vector modulate the blocks (DiT's adaLN-zero).
The model predicts the rectified-flow velocity (noise - clean).

Masked frame conditioning (frame_cond=True; tried, not shipped: docs/decisions/weights.md): known latent frames and a
mask channel come in as a second patch input, added to the tokens through a
zero-initialised projection. Known latent p is the latent of one frame alone:
frame 0 at p = 0, the first frame of group p (frame 4p - 3) further on, so one
known frame can sit at any position (image -> video, extension, blends). The
projection starts at zero, so a fine-tune from a text -> video checkpoint
starts out as exactly that model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class DiTConfig:
    latent_channels: int = 8  # must match the autoencoder's
    patch: int = 4  # latent cells per token side: 4x4x8 = 128 values in a 192-wide token (tokens wider than patches)
    width: int = 192
    depth: int = 6
    heads: int = 3
    mlp_ratio: float = 4.0
    text_width: int = 384  # all-MiniLM-L6-v2 token states
    frame_cond: bool = False  # known latent frames + a mask as a second input; False = text -> video only

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------
# Embeddings

def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def sincos_1d(pos: torch.Tensor, dim: int) -> torch.Tensor:  # (N,) -> (N, dim)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(dim // 2, dtype=torch.float32) / (dim // 2))
    angles = pos.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_3d(n: int, gh: int, gw: int, dim: int) -> torch.Tensor:
    """Fixed positions for an n x gh x gw token grid: (n*gh*gw, dim), split 1/4 time, 3/8 rows, 3/8 columns."""
    dt = dim // 4
    dh = (dim - dt) // 2
    t, y, x = torch.meshgrid(torch.arange(n), torch.arange(gh), torch.arange(gw), indexing="ij")
    return torch.cat([sincos_1d(t.flatten(), dt), sincos_1d(y.flatten(), dh),
                      sincos_1d(x.flatten(), dim - dt - dh)], dim=1)


class TimestepEmbedder(nn.Module):
    def __init__(self, width: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t):  # (B,) in [0, 1] -> (B, width)
        return self.mlp(sincos_1d(t * 1000, self.freq_dim).to(t.dtype))


# ----------------------------------------------------------------------------
# Core blocks

class Attention(nn.Module):
    def __init__(self, width: int, heads: int, kv_width: int | None = None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(kv_width or width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x, context=None, mask=None):  # x (B, N, D), context (B, L, D), mask (B, L) True = keep
        B, N, D = x.shape
        context = x if context is None else context
        q = self.q(x).view(B, N, self.heads, -1).transpose(1, 2)  # (B, nh, N, hs)
        k, v = self.kv(context).view(B, context.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)  # (B, nh, L, hs)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, L)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, nh, N, hs)
        return self.out(y.transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        D = cfg.width
        self.norm1 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(D, cfg.heads)
        self.norm_x = nn.LayerNorm(D, eps=1e-6)
        self.cross = Attention(D, cfg.heads)
        self.norm2 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        hidden = int(D * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(D, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, D))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D))

    def forward(self, x, c, text, text_mask):  # x (B, N, D), c (B, D), text (B, L, D)
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=1)  # (B, D) each
        x = x + gate1.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift1, scale1))
        x = x + self.cross(self.norm_x(x), text, text_mask)
        return x + gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.norm = nn.LayerNorm(cfg.width, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(cfg.width, 2 * cfg.width))
        self.linear = nn.Linear(cfg.width, cfg.patch * cfg.patch * cfg.latent_channels)

    def forward(self, x, c):
        shift, scale = self.ada(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))


# ----------------------------------------------------------------------------
# The model

class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        D, p, C = cfg.width, cfg.patch, cfg.latent_channels
        self.patch_in = nn.Linear(p * p * C, D)
        # Known latents and their mask, one more channel: a cell is known or not.
        self.frames_in = nn.Linear(p * p * (C + 1), D) if cfg.frame_cond else None
        self.t_embed = TimestepEmbedder(D)
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_width, D), nn.GELU(approximate="tanh"), nn.Linear(D, D))
        self.pool_proj = nn.Linear(cfg.text_width, D)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.final = FinalLayer(cfg)
        self.initialize_weights()

    def initialize_weights(self):
        def basic(m):
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        self.apply(basic)
        # adaLN-zero: every residual branch starts closed and the output starts at
        # zero, so the untrained model is the identity and training is stable (DiT).
        for block in self.blocks:
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
            nn.init.zeros_(block.cross.out.weight)
        nn.init.zeros_(self.final.ada[-1].weight)
        nn.init.zeros_(self.final.ada[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)
        # Frame conditioning starts closed too: a fine-tune from a text -> video model
        # starts out as exactly that model.
        if self.frames_in is not None:
            nn.init.zeros_(self.frames_in.weight)
            nn.init.zeros_(self.frames_in.bias)

    def check_latent(self, z) -> None:
        p = self.cfg.patch
        if z.ndim != 5 or z.shape[2] != self.cfg.latent_channels or z.shape[3] % p or z.shape[4] % p:
            raise ValueError(f"latents must be (B, n, {self.cfg.latent_channels}, h, w) with h, w multiples of {p}; "
                             f"got {tuple(z.shape)}")

    def patchify(self, z):  # (B, n, C, h, w) -> (B, n*gh*gw, p*p*C)
        B, n, C, h, w = z.shape
        p = self.cfg.patch
        x = z.reshape(B, n, C, h // p, p, w // p, p).permute(0, 1, 3, 5, 4, 6, 2)  # (B, n, gh, gw, p, p, C)
        return x.reshape(B, n * (h // p) * (w // p), p * p * C)

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):
        """As nn.Module's; a frame_cond model also takes a text -> video checkpoint, which has no
        frames_in: that stays at its zero init, so the model is the checkpoint's exactly."""
        if self.frames_in is not None and not any(k.startswith("frames_in.") for k in state):
            state = {**state, **{f"frames_in.{k}": torch.zeros_like(v) for k, v in self.frames_in.state_dict().items()}}
        return super().load_state_dict(state, strict=strict, assign=assign)

    def forward(self, z, t, text, text_mask, known=None, known_mask=None):
        """z (B, n, C, h, w) noisy latents, t (B,) in [0, 1], text (B, L, 384), text_mask (B, L) -> velocity like z.
        frame_cond models also take known (B, n, C, h, w) latents and known_mask (B, n) bool, True where
        latent frame p is known (see the module docstring for what a known latent is); None = none known."""
        self.check_latent(z)
        B, n, C, h, w = z.shape
        p = self.cfg.patch
        gh, gw = h // p, w // p
        x = self.patch_in(self.patchify(z))  # (B, N, D)
        if self.frames_in is not None:
            m = torch.zeros(B, n, device=z.device, dtype=torch.bool) if known_mask is None else known_mask
            m = m.to(z.dtype)[:, :, None, None, None].expand(B, n, 1, h, w)  # (B, n, 1, h, w)
            k = torch.zeros_like(z) if known is None else known * m
            x = x + self.frames_in(self.patchify(torch.cat([k, m], dim=2)))  # (B, N, D)
        elif known is not None:
            raise ValueError("this transformer has no frame conditioning (frame_cond=False); pass known=None")
        x = x + sincos_3d(n, gh, gw, self.cfg.width).to(x.dtype).to(x.device)[None]
        m = text_mask.unsqueeze(-1).to(text.dtype)  # (B, L, 1)
        pooled = (text * m).sum(1) / m.sum(1).clamp(min=1)  # (B, 384)
        c = self.t_embed(t) + self.pool_proj(pooled)  # (B, D)
        ctx = self.text_proj(text)  # (B, L, D)
        for block in self.blocks:
            x = block(x, c, ctx, text_mask)
        x = self.final(x, c)  # (B, N, p*p*C)
        x = x.reshape(B, n, gh, gw, p, p, C).permute(0, 1, 6, 2, 4, 3, 5)  # (B, n, C, gh, p, gw, p)
        return x.reshape(B, n, C, h, w)


# ----------------------------------------------------------------------------
# Presets: plain functions in a dict, usable directly as CLI choices.

def DiT_XS(**kw) -> DiTConfig:  # tests and smoke runs
    return DiTConfig(width=64, depth=2, heads=2, **kw)


def DiT_S(**kw) -> DiTConfig:  # the shipped model: sized for about an hour of training on 2 cores
    return DiTConfig(width=192, depth=6, heads=3, **kw)


def DiT_B(**kw) -> DiTConfig:  # for a GPU
    return DiTConfig(width=512, depth=12, heads=8, **kw)


DIT_PRESETS = {"XS": DiT_XS, "S": DiT_S, "B": DiT_B}
