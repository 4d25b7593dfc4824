"""Tiny random-weight HunyuanVideo 1.5 folders, built here (nothing fetched), for the hunyuan backend's tests.

The real model: an 8.3B DiT over a 16x spatial / 4x temporal VAE (32 latent channels), a Qwen2.5-VL
LLM text encoder plus a byT5 glyph encoder, classifier-free guidance as a `guider` component, and,
for image -> video, a SigLIP vision encoder. Here each part keeps its real structure (and the real
16x / 4x VAE factors, so the folder's size and frame rules are the family's) at a few kilobytes.
"""

from __future__ import annotations

from pathlib import Path

try:  # imported as tests.backends.tiny_hunyuan or, by pytest's rootdir path, as tiny_hunyuan
    from .tokenizer import word_tokenizer
except ImportError:
    from tokenizer import word_tokenizer

VARIANTS = {
    "t2v": "HunyuanVideo15Pipeline folder (text -> video)",
    "i2v": "HunyuanVideo15ImageToVideoPipeline folder (image -> video, SigLIP image encoder)",
}
SIZE = "32x32"  # a multiple of 16 for t2v; the only resolution bucket of target_size 32 for i2v
SECONDS = 1
FPS = 24  # 1 s -> 25 frames, the 4k+1 rule
TARGET_SIZE = 32  # the transformer's bucket base (640 for the real 480p model, 960 for 720p)
CROP_START = 108  # the pipeline drops the first 108 template tokens (the system prompt)

# The pipeline formats a chat (system + user) and crops the first 108 tokens, which for Qwen's
# template are exactly the system turn. This template gives the word tokenizer the same shape:
# 108 filler tokens for the system turn, then the user's words.
CHAT_TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'system' %}{{ 'the ' * 108 }}"
                 "{% else %}{{ m['content'] }}{% endif %}{% endfor %}")


def _tokenizer():
    tok = word_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _common():
    import torch
    from diffusers import AutoencoderKLHunyuanVideo15, FlowMatchEulerDiscreteScheduler, HunyuanVideo15Transformer3DModel
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel, T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = HunyuanVideo15Transformer3DModel(
        in_channels=9, out_channels=4,  # latents + image-condition latents (4 each) + 1 mask channel
        num_attention_heads=2, attention_head_dim=8, num_layers=1, num_refiner_layers=1, mlp_ratio=2.0,
        patch_size=1, patch_size_t=1, text_embed_dim=16, text_embed_2_dim=32, image_embed_dim=12,
        rope_axes_dim=(2, 2, 4), target_size=TARGET_SIZE)
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo15(
        latent_channels=4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
        spatial_compression_ratio=16, temporal_compression_ratio=4,
        downsample_match_channel=False, upsample_match_channel=False)
    torch.manual_seed(0)
    text_encoder = Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(
        vocab_size=64, hidden_size=16, intermediate_size=16, num_hidden_layers=3, num_attention_heads=2,
        num_key_value_heads=2, rope_theta=1e6, bos_token_id=1, eos_token_id=1, pad_token_id=0,
        rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}))
    torch.manual_seed(0)
    text_encoder_2 = T5EncoderModel(T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=32, num_layers=1,
                                             num_heads=2, relative_attention_num_buckets=8))
    return dict(transformer=transformer.eval(), vae=vae.eval(), scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
                text_encoder=text_encoder.eval(), tokenizer=_tokenizer(),
                text_encoder_2=text_encoder_2.eval(), tokenizer_2=word_tokenizer(),
                guider=ClassifierFreeGuidance(guidance_scale=6.0))


def _shrink(path: Path) -> None:
    """Store a weight file in bfloat16, and the byT5 projection's 2048x2048 matrix in float8.

    diffusers hard-codes that projection's width (2048), so in float32 it alone is 16 MB; stored
    small it is 4 MB. Loading upcasts to the pipeline's dtype, so the stored values are the weights."""
    import torch
    from safetensors.torch import load_file, save_file
    big = "context_embedder_2.linear_2.weight"
    tensors = {k: v.to(torch.float8_e4m3fn if k == big else torch.bfloat16) for k, v in load_file(path).items()}
    save_file(tensors, path, metadata={"format": "pt"})


def build(folder: Path, variant: str) -> Path:
    import torch
    from diffusers import HunyuanVideo15ImageToVideoPipeline, HunyuanVideo15Pipeline

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    folder = Path(folder)
    parts = _common()
    if variant == "t2v":
        pipe = HunyuanVideo15Pipeline(**parts)
    else:
        from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel
        torch.manual_seed(0)
        image_encoder = SiglipVisionModel(SiglipVisionConfig(
            hidden_size=12, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
            image_size=32, patch_size=16))
        feature_extractor = SiglipImageProcessor(size={"height": 32, "width": 32})
        pipe = HunyuanVideo15ImageToVideoPipeline(**parts, image_encoder=image_encoder.eval(),
                                                  feature_extractor=feature_extractor)
    pipe.save_pretrained(folder)
    _shrink(folder / "transformer" / "diffusion_pytorch_model.safetensors")
    _shrink(folder / "vae" / "diffusion_pytorch_model.safetensors")
    (folder / "README.md").write_text("---\nlicense: other\nlicense_name: tencent-hunyuan-community\n---\n\n"
                                      f"Tiny random-weight HunyuanVideo 1.5 {variant} folder for tests.\n")
    return folder
