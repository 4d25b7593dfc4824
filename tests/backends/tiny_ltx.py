"""A tiny random-weight LTX-Video folder, built in code (nothing fetched), for the ltx family's tests.

It mirrors a real LTX-Video 0.9.x folder (model_index names LTXPipeline; a T5 encoder, the LTX
video VAE, LTXVideoTransformer3DModel, FlowMatchEulerDiscreteScheduler) with every dimension cut
down. The VAE keeps the real model's 8x temporal compression (so frames follow 8k+1 as for the
real model) but compresses 8x spatially instead of 32x; the pipelines still want sides that are
multiples of 32, so 32x32 is the smallest size. One folder serves text, image, extend and blend.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tokenizer.py beside us, however we were imported
from tokenizer import WORDS, word_tokenizer  # noqa: E402

VARIANTS = {"t2v": "LTXPipeline folder (LTX-Video 0.9.x: text, image, extend, blend)"}
SIZE = "32x32"
SECONDS = 1  # 24 fps -> 25 frames (8k+1): 4 latent frames of 4x4
FPS = 24
TEXT_DIM = 32
CARD = "---\nlicense: apache-2.0\n---\n\n# tiny-ltx\n\nRandom weights for tests. Not a model.\n"


def text_parts():
    import torch
    from transformers import T5Config, T5EncoderModel
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(WORDS) + 3, d_model=TEXT_DIM, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                      relative_attention_num_buckets=8, relative_attention_max_distance=16, pad_token_id=0,
                      eos_token_id=1, decoder_start_token_id=0)
    return T5EncoderModel(config).eval(), word_tokenizer()


def vae():
    """Three spatio-temporal downsamplings, as the real VAE (8x in time); patch 1 instead of 4."""
    import torch
    from diffusers import AutoencoderKLLTXVideo
    torch.manual_seed(0)
    return AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False)


def transformer():
    import torch
    from diffusers import LTXVideoTransformer3DModel
    torch.manual_seed(0)
    return LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                      num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
                                      num_layers=1, caption_channels=TEXT_DIM)


def build(folder: Path, variant: str = "t2v") -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXPipeline
    text_encoder, tokenizer = text_parts()
    # The real folders' scheduler: flow matching with a resolution-dependent shift.
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05,
                                                base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1)
    pipe = LTXPipeline(transformer=transformer(), vae=vae(), text_encoder=text_encoder, tokenizer=tokenizer,
                       scheduler=scheduler)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    (folder / "README.md").write_text(CARD)
    return folder


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "t2v"))
