"""Tiny random-weight CogVideoX folders, built in code (nothing fetched), for the cogvideox family's tests.

Each variant mirrors one kind of real CogVideoX 1.0 folder (the same pipeline class, component
kinds and config keys: a T5 encoder, AutoencoderKLCogVideoX with 8x spatial and 4x temporal
compression, CogVideoXTransformer3DModel with patch 2) with every dimension cut down:
  t2v  as CogVideoX-5b: rotary position embeddings, any size that is a multiple of 16;
  i2v  as CogVideoX-5b-I2V: twice the latent channels in (noise + image latents) and learned
       position embeddings, so it runs only at the size it was built for (here 16x16, there 720x480).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tokenizer.py beside us, however we were imported
from tokenizer import WORDS, word_tokenizer  # noqa: E402

VARIANTS = {
    "t2v": "CogVideoXPipeline folder (CogVideoX-5b: text, remix, edit)",
    "i2v": "CogVideoXImageToVideoPipeline folder (CogVideoX-5b-I2V: image)",
}
SIZE = "16x16"  # the i2v variant's one size (learned position embeddings); the t2v one takes it too
SECONDS = 1  # 8 fps -> 9 frames (4k+1): 3 latent frames
FPS = 8
TEXT_DIM = 32
TEXT_LEN = 16  # the transformer's max_text_seq_length; the backend passes it as max_sequence_length
# CogVideoX-5b ships under the CogVideoX licence (the Hub card says `license: other`)
CARD = ("---\nlicense: other\nlicense_name: cogvideox-license\n---\n\n# tiny-cogvideox\n\n"
        "Random weights for tests. Not a model.\n")


def text_parts():
    import torch
    from transformers import T5Config, T5EncoderModel
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(WORDS) + 3, d_model=TEXT_DIM, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                      relative_attention_num_buckets=8, relative_attention_max_distance=16, pad_token_id=0,
                      eos_token_id=1, decoder_start_token_id=0)
    return T5EncoderModel(config).eval(), word_tokenizer(TEXT_LEN)


def vae():
    import torch
    from diffusers import AutoencoderKLCogVideoX
    torch.manual_seed(0)
    return AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)


def transformer(image: bool):
    import torch
    from diffusers import CogVideoXTransformer3DModel
    torch.manual_seed(0)
    # sample_* are latent sizes (16x16 pixels / 8); rotary embeddings need a head dim divisible by 16
    return CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8 if image else 4, out_channels=4,
        time_embed_dim=2, text_embed_dim=TEXT_DIM, num_layers=1, sample_width=2, sample_height=2, sample_frames=9,
        patch_size=2, temporal_compression_ratio=4, max_text_seq_length=TEXT_LEN,
        use_rotary_positional_embeddings=True, use_learned_positional_embeddings=image)


def build(folder: Path, variant: str = "t2v") -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    from diffusers import CogVideoXDPMScheduler, CogVideoXImageToVideoPipeline, CogVideoXPipeline
    text_encoder, tokenizer = text_parts()
    # The 5b folders' scheduler (v-prediction, zero terminal SNR, trailing timesteps).
    scheduler = CogVideoXDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                      prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                      set_alpha_to_one=True, snr_shift_scale=1.0, timestep_spacing="trailing")
    cls = CogVideoXImageToVideoPipeline if variant == "i2v" else CogVideoXPipeline
    pipe = cls(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae(), transformer=transformer(variant == "i2v"),
               scheduler=scheduler)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    (folder / "README.md").write_text(CARD)
    return folder


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "t2v"))
