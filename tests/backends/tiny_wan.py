"""Tiny random-weight Wan folders, built in code (nothing fetched), for the wan family's tests.

Each variant mirrors one kind of real Wan folder (the same pipeline class, component kinds and
config keys), with every dimension cut down so that a folder is a few hundred KB and a 32x32,
5-frame, 2-step run takes well under a second on CPU. SkyReels-V2 reuses the shared parts below.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tokenizer.py beside us, however we were imported
from tokenizer import WORDS, word_tokenizer  # noqa: E402

VARIANTS = {
    "t2v": "WanPipeline folder (Wan 2.1 T2V: text, remix, edit)",
    "i2v": "WanImageToVideoPipeline folder (Wan 2.1 I2V: CLIP image encoder; image)",
    "flf2v": "WanImageToVideoPipeline folder (Wan 2.1 FLF2V: paired image embeddings; blend)",
    "a14b": "WanImageToVideoPipeline folder (Wan 2.2 I2V-A14B: two experts, boundary_ratio, no image encoder)",
    "vace": "WanVACEPipeline folder (Wan 2.1 VACE: text, image, extend, blend)",
}
SIZE = "32x32"
SECONDS = 1  # 16 fps -> 17 frames: still fast at 32x32
FPS = 16
TEXT_DIM = 32
CARD = "---\nlicense: apache-2.0\n---\n\n# tiny-wan\n\nRandom weights for tests. Not a model.\n"


def text_parts():
    """A tiny UMT5 encoder (Wan's text encoder class) and the shared word tokenizer."""
    import torch
    from transformers import UMT5Config, UMT5EncoderModel
    torch.manual_seed(0)
    config = UMT5Config(vocab_size=len(WORDS) + 3, d_model=TEXT_DIM, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                        relative_attention_num_buckets=8, relative_attention_max_distance=16, pad_token_id=0,
                        eos_token_id=1, decoder_start_token_id=0)
    return UMT5EncoderModel(config).eval(), word_tokenizer()


def vae():
    """Wan 2.1's VAE shape (8x spatial, 4x temporal, 16 latent channels), a few channels wide."""
    import torch
    from diffusers import AutoencoderKLWan
    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def transformer(cls_name: str = "WanTransformer3DModel", seed: int = 0, **extra):
    import diffusers
    import torch
    torch.manual_seed(seed)
    kw = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
              text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
              qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    kw.update(extra)
    return getattr(diffusers, cls_name)(**kw)


def scheduler(flow_shift: float = 3.0):
    """What real Wan folders ship: UniPC over flow-matching sigmas (shift 3.0 at 480p, 5.0 at 720p)."""
    from diffusers import UniPCMultistepScheduler
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=flow_shift)


def finish(pipe, folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    (folder / "README.md").write_text(CARD)
    return folder


def build(folder: Path, variant: str = "t2v") -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    import diffusers
    text_encoder, tokenizer = text_parts()
    common = dict(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae(), scheduler=scheduler())
    if variant == "t2v":
        return finish(diffusers.WanPipeline(transformer=transformer(), **common), folder)
    if variant == "vace":
        t = transformer("WanVACETransformer3DModel", num_layers=3, vace_layers=[0, 2], vace_in_channels=96)
        return finish(diffusers.WanVACEPipeline(transformer=t, **common), folder)
    if variant == "a14b":
        # Wan 2.2: a high-noise expert (`transformer`) above boundary_ratio * 1000, a low-noise one below;
        # the image enters only through the latent condition (36 = 16 noise + 4 mask + 16 image channels).
        high = transformer(in_channels=36, seed=0)
        low = transformer(in_channels=36, seed=1)
        pipe = diffusers.WanImageToVideoPipeline(transformer=high, transformer_2=low, boundary_ratio=0.9,
                                                 image_encoder=None, image_processor=None, **common)
        return finish(pipe, folder)
    # Wan 2.1 I2V / FLF2V: CLIP penultimate-layer embeddings enter through image_dim; FLF2V adds a
    # positional embedding over the (first, last) pair, so it always needs both images.
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel
    torch.manual_seed(0)
    encoder = CLIPVisionModel(CLIPVisionConfig(hidden_size=4, projection_dim=4, num_hidden_layers=2,
                                               num_attention_heads=2, image_size=32, intermediate_size=16,
                                               patch_size=8)).eval()
    processor = CLIPImageProcessor(crop_size=32, size=32)
    tokens = (32 // 8) ** 2 + 1  # patches + class token
    extra = {"pos_embed_seq_len": 2 * tokens} if variant == "flf2v" else {}
    t = transformer(in_channels=36, image_dim=4, **extra)
    pipe = diffusers.WanImageToVideoPipeline(transformer=t, image_encoder=encoder, image_processor=processor, **common)
    return finish(pipe, folder)


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "t2v"))
