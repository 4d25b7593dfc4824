"""Tiny random-weight SkyReels-V2 diffusion-forcing folders, built in code, for the skyreels family's tests.

SkyReels-V2 is Wan-shaped (UMT5 text encoder, Wan VAE), so the shared parts come from tiny_wan; the
transformer is SkyReelsV2Transformer3DModel with its fps embedding (inject_sample_info) switched on.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_wan  # noqa: E402

VARIANTS = {"df": "SkyReelsV2DiffusionForcingPipeline folder (text, image, blend, extend, long)"}
SIZE = "32x32"
SECONDS = 1  # 24 fps -> 25 frames
FPS = 24
CARD = ("---\nlicense: other\nlicense_name: skywork-community-license\n---\n\n"
        "# tiny-skyreels\n\nRandom weights for tests. Not a model.\n")


def build(folder: Path, variant: str = "df") -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    import torch
    from diffusers import SkyReelsV2DiffusionForcingPipeline, SkyReelsV2Transformer3DModel
    text_encoder, tokenizer = tiny_wan.text_parts()
    torch.manual_seed(0)
    transformer = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=tiny_wan.TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, inject_sample_info=True, num_frame_per_block=1)
    pipe = SkyReelsV2DiffusionForcingPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer,
                                              vae=tiny_wan.vae(), scheduler=tiny_wan.scheduler(flow_shift=8.0))
    folder = tiny_wan.finish(pipe, folder)
    (folder / "README.md").write_text(CARD)
    return folder


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "df"))
