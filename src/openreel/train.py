"""Training OpenReel's built-in model: the settings, and the stages run in order.

    openreel train --out runs/base            # all stages, resumable
    torchrun --nproc-per-node 4 -m openreel.train --out runs/base   # the same, DDP

Stage 1, the video autoencoder, is train_autoencoder.py; stage 2, the diffusion transformer, is
train_transformer.py; stage 3, the prompt reader, is train_reader.py; train_export.py writes the
weights folder and its data manifest. train_common.py holds what the stages share.

Everything is deterministic from `seed`: each example is a pure function of
(seed, step, index) (see world/data.py) and each step's noise comes from a
generator seeded with (seed, step). A checkpoint holds weights, optimiser,
step and config, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .train_autoencoder import train_autoencoder
from .train_common import Dist, Interrupted, lr_at, pick_device, setup_distributed
from .train_export import export
from .train_reader import train_reader
from .train_transformer import Bucket, encode_stills, frame_mask, train_dit

# Re-exported: the CLI imports Interrupted from here, and pool.pt files written before the split
# pickle their buckets as openreel.train.Bucket (or __main__.Bucket, under `python -m`).
__all__ = ["Bucket", "Dist", "Interrupted", "TrainConfig", "encode_stills", "export", "frame_mask", "lr_at",
           "run", "train_autoencoder", "train_dit", "train_reader"]


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
    # Masked frame conditioning (tried, not shipped: docs/decisions/weights.md). > 0 gives the transformer its known-frames input
    # (zero-initialised, so init_from's model is where it starts) and shows that share of
    # training clips with some latent frames known; the rest see none, so text -> video keeps its practice.
    frame_masks: float = 0.0
    # Weight of diffusion.flow.motion_loss beside the flow loss: > 0 asks the transformer for
    # errors that persist from one latent frame to the next rather than hop at group seams
    # (what most limits extension seams and blends).
    dit_motion_weight: float = 0.0
    pool_scale: float = 1.0  # multiplies every pool bucket's clip count (smoke runs use a sliver)
    # Stage 3: the prompt reader (models/prompt_reader.py), on tagged sentences. 0 steps = none trained
    # (a run from init_from then keeps that folder's reader; see export).
    reader_steps: int = 3000
    reader_batch: int = 64
    # A fixed set, encoded once by MiniLM; sized for sentence version 3 (docs/decisions/training.md).
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


# ----------------------------------------------------------------------------
# All stages, then export

def run(cfg: TrainConfig) -> Path:
    device = pick_device(cfg.device)
    dist = setup_distributed(device)
    if cfg.reader_only and not cfg.init_from:
        raise ValueError("reader_only needs init_from: the weights folder whose autoencoder and transformer to keep")
    if cfg.init_from:  # continue from exported weights: the autoencoder (and its latent scale) stays as it is
        from .backends.builtin import VideoPipeline
        ae = VideoPipeline.load_autoencoder(Path(cfg.init_from)).to(device)
    else:
        ae = train_autoencoder(cfg, device, dist)
    if cfg.reader_only:
        from .backends.builtin import VideoPipeline
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
