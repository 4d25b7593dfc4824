"""OpenReel against diffusers on a GPU, with mid-size random-weight models of every family. Prints figures only.

    .venv/bin/python scripts/gpu_check.py                            # on a machine with a CUDA GPU
    .venv/bin/python scripts/gpu_check.py --families wan,ltx --steps 20 --repeats 3
    .venv/bin/python scripts/gpu_check.py --device cpu --small       # smoke-test this script on a CPU

For each family it builds MID-SIZE random-weight components in code (nothing is downloaded): a
transformer of a few layers at hidden size 1024-1536 (the real models: 30-54 layers at 1536-3072), a
VAE with the real model's channel counts, and small text encoders over the tests' word tokenizer;
saves them to a temporary folder in the run dtype (a few hundred MB to ~2 GB each); then runs the same
text -> video request
  (a) through OpenReel: FAMILIES[f].load(name, folder, options) and runner.run(...), with options
      {"dtype": "bfloat16", "offload": "model", "vae_tiling": "true", "cache": "first_block"}, and
  (b) through diffusers alone with the same settings: <Pipeline>.from_pretrained(folder, dtype=bf16),
      enable_model_cpu_offload(), vae.enable_tiling(), transformer.enable_cache(FirstBlockCacheConfig(0.05)),
      called with the same arguments (seed generator, size, frames, steps, guidance, output_type="np").
Each is run once to warm up, then --repeats times alternately. Printed per family: the weights' size,
peak GPU memory of a run (torch.cuda.max_memory_allocated, reset before each run), the median wall
time of each, the ratio OpenReel / bare (goal: <= 1.05), and the mean and max |uint8 difference| of
the frames (0 expected: the same computation; bf16 kernels that are not deterministic may differ a little).

Sizes: each family's first native size (Wan 832x480, LTX 768x512, CogVideoX 720x480, HunyuanVideo 1.5
848x480, SkyReels-V2 960x544), 1 s, 10 steps; --size/--seconds/--steps override. --small builds tiny
models at test sizes; with --device cpu it runs in float32 without offload (VAE tiling and the cache
hook stay on), 4 steps: a check that the script works, not a measurement. Exit status: 0 when every family ran,
1 when one failed, 2 when no CUDA device is present (and --device cpu was not given).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "backends"))  # tokenizer.py: the tests' word tokenizer (nothing fetched)
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

PROMPT = "a red ball moving right on a blue background"
ALL = ("wan", "ltx", "cogvideox", "hunyuan", "skyreels")
SMALL_SIZES = {"wan": "32x32", "ltx": "32x32", "cogvideox": "16x16", "hunyuan": "32x32", "skyreels": "32x32"}
FBC_THRESHOLD = 0.05  # OpenReel's cache_config("first_block")


# ----------------------------------------------------------------------------
# Components, built in code. `mid` picks mid-size dimensions; otherwise tiny ones (as tests/backends/tiny_*).

def t5(mid: bool, cls_name: str = "T5EncoderModel", d_model: int | None = None):
    import torch
    import transformers
    from tokenizer import WORDS
    cfg_cls = transformers.UMT5Config if cls_name.startswith("UMT5") else transformers.T5Config
    d = d_model or (1024 if mid else 32)
    torch.manual_seed(0)
    config = cfg_cls(vocab_size=len(WORDS) + 3, d_model=d, d_kv=64 if mid else 8, d_ff=(2816 if mid else 32),
                     num_layers=2 if mid else 1, num_heads=d // 64 if mid else 2, relative_attention_num_buckets=32
                     if mid else 8, relative_attention_max_distance=128 if mid else 16, pad_token_id=0, eos_token_id=1,
                     decoder_start_token_id=0)
    return getattr(transformers, cls_name)(config).eval()


def flow_unipc(shift: float):
    from diffusers import UniPCMultistepScheduler
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift)


def wan_vae(mid: bool):
    import torch
    from diffusers import AutoencoderKLWan
    torch.manual_seed(0)
    if mid:  # Wan 2.1's VAE as released (the class defaults): base_dim 96, dim_mult 1,2,4,4, 2 res blocks
        return AutoencoderKLWan()
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def wan_transformer(mid: bool, cls_name: str = "WanTransformer3DModel", text_dim: int = 1024, **extra):
    import diffusers
    import torch
    torch.manual_seed(0)
    if mid:  # Wan2.1-1.3B's block (12 heads x 128 = 1536, ffn 8960), 6 of its 30 layers
        kw = dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=6, rope_max_seq_len=1024)
    else:
        kw = dict(num_attention_heads=2, attention_head_dim=12, ffn_dim=32, num_layers=2, rope_max_seq_len=32)
    return getattr(diffusers, cls_name)(patch_size=(1, 2, 2), in_channels=16, out_channels=16, text_dim=text_dim,
                                        freq_dim=256, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        **kw, **extra)


def build_wan(mid: bool):
    from diffusers import WanPipeline
    from tokenizer import word_tokenizer
    enc = t5(mid, "UMT5EncoderModel")
    pipe = WanPipeline(tokenizer=word_tokenizer(), text_encoder=enc, vae=wan_vae(mid), scheduler=flow_unipc(3.0),
                       transformer=wan_transformer(mid, text_dim=enc.config.d_model))
    return pipe, {"guidance_scale": 5.0}


def build_skyreels(mid: bool):
    from diffusers import SkyReelsV2DiffusionForcingPipeline
    from tokenizer import word_tokenizer
    enc = t5(mid, "UMT5EncoderModel")
    transformer = wan_transformer(mid, "SkyReelsV2Transformer3DModel", text_dim=enc.config.d_model,
                                  inject_sample_info=True, num_frame_per_block=1)
    pipe = SkyReelsV2DiffusionForcingPipeline(tokenizer=word_tokenizer(), text_encoder=enc, transformer=transformer,
                                              vae=wan_vae(mid), scheduler=flow_unipc(8.0))
    return pipe, {"guidance_scale": 6.0, "fps": 24}  # base_num_frames is added by size (the backend's window)


def build_ltx(mid: bool):
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline,
                           LTXVideoTransformer3DModel)
    from tokenizer import word_tokenizer
    enc = t5(mid)
    torch.manual_seed(0)
    if mid:  # LTX-Video 0.9.0's VAE (the class defaults: 128 latent channels, 32x spatial, 8x temporal)
        vae = AutoencoderKLLTXVideo(timestep_conditioning=False)
    else:
        vae = AutoencoderKLLTXVideo(
            in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False), decoder_inject_noise=(False,) * 5,
            upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
            patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False)
    torch.manual_seed(0)
    # real: 32 x 64 = 2048, 28 layers. At least 2 layers everywhere: first_block caching needs a head and a tail block
    heads, head_dim, layers = (16, 64, 6) if mid else (2, 8, 2)
    transformer = LTXVideoTransformer3DModel(
        in_channels=vae.config.latent_channels, out_channels=vae.config.latent_channels, patch_size=1, patch_size_t=1,
        num_attention_heads=heads, attention_head_dim=head_dim, cross_attention_dim=heads * head_dim,
        num_layers=layers, caption_channels=enc.config.d_model)
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05,
                                                base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1)
    pipe = LTXPipeline(transformer=transformer, vae=vae, text_encoder=enc, tokenizer=word_tokenizer(),
                       scheduler=scheduler)
    return pipe, {"guidance_scale": 3.0, "frame_rate": 24}


def build_cogvideox(mid: bool):
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel
    from tokenizer import word_tokenizer
    enc = t5(mid)
    text_len = 226 if mid else 16
    torch.manual_seed(0)
    if mid:  # CogVideoX's VAE as released (the class defaults: 128-512 channels, 3 layers a block, 16 latents)
        vae = AutoencoderKLCogVideoX()
    else:
        vae = AutoencoderKLCogVideoX(
            in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
            layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)
    torch.manual_seed(0)
    # mid: 16 x 64 = 1024, 6 layers (CogVideoX-2b: 30 x 64, 30 layers); sample_* are latents (720x480 / 8)
    heads, head_dim, layers, time_dim, sw, sh = (16, 64, 6, 512, 90, 60) if mid else (2, 16, 2, 2, 2, 2)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=heads, attention_head_dim=head_dim, in_channels=vae.config.latent_channels,
        out_channels=vae.config.latent_channels, time_embed_dim=time_dim, text_embed_dim=enc.config.d_model,
        num_layers=layers, sample_width=sw, sample_height=sh, sample_frames=49 if mid else 9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=text_len, use_rotary_positional_embeddings=True)
    scheduler = CogVideoXDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                      prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                      set_alpha_to_one=True, snr_shift_scale=1.0, timestep_spacing="trailing")
    pipe = CogVideoXPipeline(tokenizer=word_tokenizer(text_len), text_encoder=enc, vae=vae, transformer=transformer,
                             scheduler=scheduler)
    return pipe, {"guidance_scale": 6.0, "max_sequence_length": text_len}


def build_hunyuan(mid: bool):
    import torch
    from diffusers import (AutoencoderKLHunyuanVideo15, FlowMatchEulerDiscreteScheduler, HunyuanVideo15Pipeline,
                           HunyuanVideo15Transformer3DModel)
    from diffusers.guiders import ClassifierFreeGuidance
    from tokenizer import word_tokenizer
    from transformers import Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel
    torch.manual_seed(0)
    if mid:  # HunyuanVideo 1.5's VAE as released (the class defaults: 32 latents, 16x spatial, 128-1024 channels)
        vae = AutoencoderKLHunyuanVideo15()
    else:
        vae = AutoencoderKLHunyuanVideo15(latent_channels=4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
                                          spatial_compression_ratio=16, temporal_compression_ratio=4,
                                          downsample_match_channel=False, upsample_match_channel=False)
    torch.manual_seed(0)
    # the LLM text encoder: Qwen2.5-VL's text model (real: 3584 wide, 28 layers); mrope halves sum to head_dim / 2
    hidden, heads, mrope = (1024, 16, [8, 12, 12]) if mid else (16, 2, [1, 1, 2])
    text_encoder = Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(
        vocab_size=64, hidden_size=hidden, intermediate_size=2816 if mid else 16, num_hidden_layers=2 if mid else 3,
        num_attention_heads=heads, num_key_value_heads=heads, rope_theta=1e6, bos_token_id=1, eos_token_id=1,
        pad_token_id=0, rope_scaling={"mrope_section": mrope, "rope_type": "default", "type": "default"})).eval()
    glyph = t5(mid, d_model=1472 if mid else 32)  # byT5-small's width
    torch.manual_seed(0)
    latent = vae.config.latent_channels
    if mid:  # real: 16 x 128 = 2048, 54 layers, 2 refiner layers; target_size 640 is the 480p tier
        kw = dict(num_attention_heads=8, attention_head_dim=128, num_layers=4, num_refiner_layers=1, mlp_ratio=4.0,
                  image_embed_dim=1152, rope_axes_dim=(16, 56, 56), target_size=640)
    else:
        kw = dict(num_attention_heads=2, attention_head_dim=8, num_layers=2, num_refiner_layers=1, mlp_ratio=2.0,
                  image_embed_dim=12, rope_axes_dim=(2, 2, 4), target_size=32)
    transformer = HunyuanVideo15Transformer3DModel(in_channels=2 * latent + 1, out_channels=latent, patch_size=1,
                                                   patch_size_t=1, text_embed_dim=hidden,
                                                   text_embed_2_dim=glyph.config.d_model, **kw)
    tokenizer = word_tokenizer()
    # the pipeline crops a 108-token system turn: a template that gives the word tokenizer that shape
    tokenizer.chat_template = ("{% for m in messages %}{% if m['role'] == 'system' %}{{ 'the ' * 108 }}"
                               "{% else %}{{ m['content'] }}{% endif %}{% endfor %}")
    pipe = HunyuanVideo15Pipeline(transformer=transformer.eval(), vae=vae.eval(),
                                  scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), text_encoder=text_encoder,
                                  tokenizer=tokenizer, text_encoder_2=glyph, tokenizer_2=word_tokenizer(),
                                  guider=ClassifierFreeGuidance(guidance_scale=6.0))
    return pipe, {}  # guidance is the guider's (6.0), as OpenReel's default for this folder


BUILDERS = {"wan": build_wan, "ltx": build_ltx, "cogvideox": build_cogvideox, "hunyuan": build_hunyuan,
            "skyreels": build_skyreels}
CARDS = {"wan": "apache-2.0", "ltx": "apache-2.0", "cogvideox": "other", "hunyuan": "other", "skyreels": "other"}


def build(family: str, folder: Path, mid: bool, dtype) -> tuple[dict, float, float]:
    """Save the family's components to folder; (the bare call's family arguments, seconds, GB on disk)."""
    t0 = time.perf_counter()
    import diffusers
    import torch
    pipe, extra = BUILDERS[family](mid)
    if dtype != torch.float32:  # stored as it runs; loading keeps diffusers' float32 modules in float32
        level = diffusers.utils.logging.get_verbosity()
        diffusers.utils.logging.set_verbosity_error()  # "should be kept in float32" notes: from_pretrained does
        pipe.to(dtype)
        diffusers.utils.logging.set_verbosity(level)
    pipe.save_pretrained(folder, safe_serialization=True)
    (folder / "README.md").write_text(f"---\nlicense: {CARDS[family]}\n---\n\nRandom weights for gpu_check.py.\n")
    del pipe
    gc.collect()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e9
    return extra, time.perf_counter() - t0, size


# ----------------------------------------------------------------------------
# The two runs.

def bare_pipeline(folder: Path, cls_name: str, device: str, dtype, offload: bool, cache: bool):
    """The diffusers pipeline with the same settings; (pipe, why the cache hook could not be applied or "")."""
    import diffusers
    from diffusers.hooks import FirstBlockCacheConfig
    pipe = getattr(diffusers, cls_name).from_pretrained(folder, dtype=dtype, local_files_only=True)
    if offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    pipe.vae.enable_tiling()
    why = ""
    if cache:
        try:
            pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=FBC_THRESHOLD))
        except Exception as exc:  # noqa: BLE001 - e.g. a block class diffusers' cache registry lacks
            why = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
            if pipe.transformer.is_cache_enabled:
                pipe.transformer.disable_cache()
    pipe.set_progress_bar_config(disable=True)
    return pipe, why


def measure(fn, device: str) -> tuple[float, float, np.ndarray]:
    """(seconds, peak GB allocated on the GPU or nan, uint8 frames) of one run."""
    import torch
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    frames = fn()
    if cuda:
        torch.cuda.synchronize(device)
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else float("nan")
    arr = np.asarray(frames)
    arr = arr[0] if arr.ndim == 5 else arr
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    return dt, peak, arr


def check(family: str, root: Path, args) -> dict:
    import torch
    from openreel import runner
    from openreel.backends import FAMILIES
    from openreel.requests import SamplingOptions, TextToVideo, parse_size

    cuda = args.device.startswith("cuda")
    dtype_name = "bfloat16" if cuda else "float32"
    dtype = getattr(torch, dtype_name)
    offload = cuda and not args.no_offload
    folder = root / f"{family}-{'mid' if not args.small else 'small'}"
    extra, build_s, gb = build(family, folder, mid=not args.small, dtype=dtype)
    options = {"dtype": dtype_name, "device": args.device, "offload": "model" if offload else "none",
               "vae_tiling": "true", "cache": args.cache}
    cls_name = FAMILIES[family].load(f"check-{family}", folder, options).modes_of(folder)["text"]
    bare, no_cache = bare_pipeline(folder, cls_name, args.device, dtype, offload, bool(args.cache))
    cache_note = args.cache or "none"
    if no_cache:
        # diffusers cannot hook this transformer: show OpenReel's refusal, then compare both without a cache
        try:
            FAMILIES[family].load(f"check-{family}", folder, options).pipeline("text")  # loads, applies options
            cache_note = "none (OpenReel applied it, diffusers did not)"
        except Exception as exc:  # noqa: BLE001
            cache_note = f"none: OpenReel fails too ({type(exc).__name__})"
        print(f"  {family}: cache {args.cache} cannot be applied ({no_cache}); both run without it", flush=True)
        options["cache"] = ""
        del bare
        gc.collect()
        bare, _ = bare_pipeline(folder, cls_name, args.device, dtype, offload, False)  # a clean, unhooked one
    backend = FAMILIES[family].load(f"check-{family}", folder, options)
    caps = backend.capabilities()
    size = args.size or (SMALL_SIZES[family] if args.small else caps.default_size)
    fps = caps.fps[0]
    frames = caps.frames_for(args.seconds, fps)
    width, height = parse_size(size)
    if family == "skyreels":
        extra["base_num_frames"] = backend.window(width, height)
    request = TextToVideo(PROMPT, SamplingOptions(size=size, seconds=args.seconds, fps=fps, steps=args.steps,
                                                  seed=args.seed))

    def ours():
        return runner.run(backend, request).frames

    def theirs():
        return bare(prompt=PROMPT, height=height, width=width, num_frames=frames, num_inference_steps=args.steps,
                    generator=torch.Generator(device="cpu").manual_seed(args.seed), output_type="np", **extra).frames

    runs = {"ours": [], "bare": []}
    out = {}
    for r in range(1 + args.repeats):  # the first pair warms up (loads, kernels) and is not counted
        pair = [("ours", ours), ("bare", theirs)]
        for name, fn in (pair if r % 2 == 0 else pair[::-1]):
            dt, peak, arr = measure(fn, args.device)
            if r or not args.repeats:  # --repeats 0: the warm-up pair's figures (a quick check of the configs)
                runs[name].append((dt, peak))
            out[name] = arr
    d = np.abs(out["ours"].astype(np.int16) - out["bare"].astype(np.int16))
    t_ours, t_bare = (statistics.median(t for t, _ in runs[k]) for k in ("ours", "bare"))
    result = dict(family=family, cache=cache_note, size=size, frames=frames, gb=gb, build_s=build_s,
                  params=sum(p.numel() for p in bare.transformer.parameters()) / 1e6,
                  peak_ours=max(p for _, p in runs["ours"]), peak_bare=max(p for _, p in runs["bare"]),
                  ours=t_ours, bare=t_bare, ratio=t_ours / t_bare, mean=float(d.mean()), max=int(d.max()),
                  shape=out["ours"].shape)
    del backend, bare
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default=",".join(ALL), help="comma-separated, of " + ", ".join(ALL))
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (with --small: a smoke test)")
    parser.add_argument("--small", action="store_true", help="tiny models at test sizes (checks the script)")
    parser.add_argument("--size", default="", help="WxH for every family (default: each family's first native size)")
    parser.add_argument("--seconds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=0, help="default: 10 (4 with --small)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed pairs after the warm-up pair (0: report the warm-up pair)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default="first_block", choices=("first_block", ""),
                        help="the cache hook on both sides ('' = none); families diffusers cannot hook run without")
    parser.add_argument("--no-offload", action="store_true", help="keep the models on the GPU (no CPU offload)")
    parser.add_argument("--tmp", default="", help="folder for the built models (default: the system's temp folder)")
    parser.add_argument("--verbose", action="store_true", help="tracebacks of failures")
    args = parser.parse_args()
    args.steps = args.steps or (4 if args.small else 10)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in ALL]
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {', '.join(ALL)}")

    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is present (torch.cuda.is_available() is False), so there is nothing to "
              "measure here. Run it on a machine with an NVIDIA GPU, or smoke-test the script itself with "
              "`scripts/gpu_check.py --device cpu --small`.", file=sys.stderr)
        return 2
    if not args.small and not args.device.startswith("cuda"):
        print("gpu_check: mid-size models on a CPU take long; running anyway (use --small for a smoke test)",
              file=sys.stderr)
    import diffusers
    import transformers
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    gpu = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    cuda = args.device.startswith("cuda")
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, {gpu}; "
          f"{'mid-size' if not args.small else 'small'} random weights in {'bfloat16' if cuda else 'float32'}, "
          f"offload {'model' if cuda and not args.no_offload else 'none'}, VAE tiling, cache {args.cache or 'none'}; "
          f"{args.seconds} s, {args.steps} steps, {args.repeats} timed pairs after a warm-up pair")
    print(f"\n{'family':<10} {'size':>8} {'frames':>6} {'DiT M':>6} {'GB':>5} {'build s':>7} {'peak GB ours':>12} "
          f"{'bare':>6} {'OpenReel s':>10} {'bare s':>7} {'ratio':>6} {'|diff| mean':>11} {'max':>4}  cache")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="openreel-gpu-check-", dir=args.tmp or None) as tmp:
        for family in families:
            try:
                r = check(family, Path(tmp), args)
            except Exception as exc:  # noqa: BLE001 - report and go on to the next family
                failed += 1
                print(f"{family:<10} ERROR {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}",
                      flush=True)
                if args.verbose:
                    traceback.print_exc()
                gc.collect()
                if cuda:
                    torch.cuda.empty_cache()
                continue
            print(f"{family:<10} {r['size']:>8} {r['frames']:>6} {r['params']:>6.0f} {r['gb']:>5.2f} "
                  f"{r['build_s']:>7.1f} {r['peak_ours']:>12.2f} {r['peak_bare']:>6.2f} {r['ours']:>10.3f} "
                  f"{r['bare']:>7.3f} {r['ratio']:>6.3f} {r['mean']:>11.3f} {r['max']:>4}  {r['cache']}", flush=True)
    if failed:
        print(f"\n{failed} of {len(families)} families failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
