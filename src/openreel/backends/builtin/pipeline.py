"""VideoPipeline: the built-in model's prompt -> video, over components passed in.

    from openreel import VideoPipeline
    pipe = VideoPipeline.from_pretrained()          # the built-in model, offline
    video = pipe("a red ball moving left on a black background", seconds=2, size="64x64", seed=0)
    video.save("out.mp4")

The pipeline owns no weights of its own: text encoder, autoencoder,
transformer and sampler are given to the constructor (diffusers' rule), so a
test can pass tiny seeded components and a GPU user a bigger model.

This file holds text -> video and image -> video in one pass (__call__) and the
one sampler every mode uses: a window of latent frames with some frames pinned
(sample_window), chained forward and backward. The other modes (pipe.extend,
pipe.loop, pipe.remix, pipe.blend, pipe.storyboard, pipe.long) come from
modes.py; the weights folder is checkpoint.py's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

from ...diffusion.flow import SAMPLERS, guided, noisy, timesteps, with_known
from ...media.frames import fit_frames
from ...models.autoencoder import VideoAutoencoder, latent_frames
from ...models.dit import DiT
from ...models.prompt_reader import PromptReader, PromptRewriter
from ...models.text_encoder import CachedTextEncoder, TextEncoder
from ...models.wordnet import WordNet
from ...requests import Capabilities, ImageToVideo, Request, SamplingOptions, TextToVideo
from ...video import Video, parse_size
from . import checkpoint
from .checkpoint import WEIGHTS_DIR, GenerationDefaults
from .inputs import GUIDE, MAX_CHUNK, caps_from_defaults
from .modes import Modes, _Progress
from .seams import FIRST_FRAME_DB, FIT_TIMES, seam_eased, toward


def to_frames(y: torch.Tensor) -> np.ndarray:
    """Decoded pixels (T, 3, H, W) in about [-1, 1] -> (T, H, W, 3) uint8."""
    return np.ascontiguousarray(((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())


@dataclass(frozen=True)
class SamplingSettings:
    """The resolved settings of one job, its request checked (see VideoPipeline.settings)."""
    size: str
    fps: int
    steps: int
    guidance: float
    sampler: str
    shift: float

    @property
    def width(self) -> int:
        return parse_size(self.size)[0]

    @property
    def height(self) -> int:
        return parse_size(self.size)[1]


class Field(NamedTuple):
    """A prompt's velocity field: `guided` samples; `cond` (no guidance) steers pinned frames;
    given(known, known_mask) is the same field told which latent frames are known (frame_cond models)."""
    guided: Callable
    cond: Callable
    given: Callable[[torch.Tensor, torch.Tensor], "Field"]


class VideoPipeline(Modes):
    """The built-in model: text encoder, autoencoder and transformer in, Video out (every mode)."""

    def __init__(self, text_encoder: Callable, autoencoder: VideoAutoencoder, transformer: DiT,
                 defaults: GenerationDefaults = GenerationDefaults(), name: str = "openreel-v1",
                 reader: PromptReader | None = None):
        self.text_encoder = text_encoder
        self.autoencoder = autoencoder.eval()
        self.transformer = transformer.eval()
        self.defaults = defaults
        self.name = name
        self.reader = reader
        # The reader rewrites prompts in wording the transformer never read (models/prompt_reader.py);
        # off, the transformer reads every prompt as given. It needs MiniLM's own tokenizer and model.
        encoder = getattr(text_encoder, "encoder", text_encoder)
        self.rewriter = (PromptRewriter(reader, encoder, WordNet()) if reader is not None and hasattr(encoder, "bert")
                         else None)
        self.rewrite_prompts = self.rewriter is not None
        self._null_text = None

    # ------------------------------------------------------------------
    # Loading

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, text_encoder: Callable | None = None) -> "VideoPipeline":
        """Load weights saved by `save_pretrained` (default: the built-in model shipped in the package)."""
        path = Path(path) if path else WEIGHTS_DIR
        config = checkpoint.load_config(path)
        ae = checkpoint.load_autoencoder(path, config)
        dit = checkpoint.load_transformer(path, config)
        te = text_encoder or CachedTextEncoder(TextEncoder())
        return cls(te, ae, dit, GenerationDefaults.from_dict(config.get("defaults", {})), config.get("name", "openreel-v1"),
                   reader=checkpoint.load_reader(path, config))

    # The loaders train.py uses to continue a run; the folder format is checkpoint.py's.
    load_reader = staticmethod(checkpoint.load_reader)
    load_transformer = staticmethod(checkpoint.load_transformer)
    load_autoencoder = staticmethod(checkpoint.load_autoencoder)

    def save_pretrained(self, path: str | Path, extra: dict | None = None) -> None:
        """Write a weights folder that `from_pretrained` loads; `extra` adds top-level config keys."""
        checkpoint.save(path, self.autoencoder, self.transformer, self.reader, self.name, self.defaults, extra)

    # ------------------------------------------------------------------
    # Inputs: every method builds its typed request and checks it (requests.py, the one rule set)

    def capabilities(self, name: str | None = None, options: dict | None = None) -> Capabilities:
        """What this model can do, from its defaults in memory; `name` (default: its own) is used in messages."""
        return caps_from_defaults(self.name if name is None else name, self.defaults, options)

    def _checked(self, request: Request) -> Request:
        """Check a request against this model's capabilities (RequestError, a ValueError naming the field),
        then read its media: images (H, W, 3) and videos (T, H, W, 3) uint8, videos at the request's fps."""
        from ...runner import load_media  # runner imports the backends package, which imports this module
        caps = self.capabilities()
        request.check(caps)
        return load_media(request, caps)

    @staticmethod
    def _options(size=None, seconds=None, fps=None, steps=None, guidance=None, seed=0, sampler=None) -> SamplingOptions:
        """A Python call's settings as given, for its request."""
        return SamplingOptions(size=size, seconds=seconds, fps=fps, steps=steps, guidance=guidance, seed=seed,
                               sampler=sampler)

    # ------------------------------------------------------------------
    # Generation

    def revise_prompt(self, prompt: str) -> str:
        """What the transformer reads for `prompt`: the prompt itself, or, in wording it never
        read, the training caption the prompt reader makes of it."""
        return self.rewriter.revise(prompt) if self.rewrite_prompts and self.rewriter else prompt

    def encode_prompt(self, prompt: str):
        if self._null_text is None:
            self._null_text = self.text_encoder([""])
        states, mask = self.text_encoder([self.revise_prompt(prompt)])
        return (states, mask), self._null_text

    @torch.no_grad()
    def prompt_fit(self, prompt: str, frames: np.ndarray) -> float:
        """How well `prompt` explains the frames (T, H, W, 3) uint8, lower is better: the
        transformer's velocity error on their latents with the prompt, less its error without
        one, at each of FIT_TIMES (fixed noise). A diffusion model read as a zero-shot
        classifier (Li et al. 2023; Clark & Jaini 2023): the model's own judgement, no probe."""
        z = self.encode_head(frames)  # (1, n, C, h, w)
        (text, mask), (null, null_mask) = self.encode_prompt(prompt)
        gen = torch.Generator().manual_seed(0)
        fit = 0.0
        for t in FIT_TIMES:
            noise = torch.randn(z.shape, generator=gen)
            x, tt = noisy(z, noise, torch.tensor([t])), torch.full((1,), t)
            errors = [float((self.transformer(x, tt, s, m) - (noise - z))[:, 1:].pow(2).mean())
                      for s, m in ((text, mask), (null, null_mask))]
            fit += errors[0] - errors[1]
        return fit

    def velocity(self, prompt: str, guidance: float, known: torch.Tensor | None = None,
                 known_mask: torch.Tensor | None = None) -> "Field":
        """The velocity field for one prompt: with classifier-free guidance, and without. A
        frame_cond transformer also sees known latents (1, n, C, h, w) where known_mask (1, n) is
        True, with and without the prompt alike, so guidance pushes toward the text only."""
        (text, mask), (null, null_mask) = self.encode_prompt(prompt)
        dit = self.transformer
        frames = {} if known is None else {"known": known, "known_mask": known_mask}

        def cond(z, t):
            return dit(z, torch.full((1,), t), text, mask, **frames)

        def uncond(z, t):
            return dit(z, torch.full((1,), t), null, null_mask, **frames)

        return Field(guided(cond, uncond, guidance), cond,
                     lambda k, m: self.velocity(prompt, guidance, k, m))

    def settings(self, size=None, fps=None, steps=None, guidance=None, sampler=None) -> "SamplingSettings":
        """Fill in the model's defaults (the job's request has checked what was given)."""
        d = self.defaults
        size = d.size if size is None else size
        fps = d.default_fps if fps is None else fps
        steps = d.steps if steps is None else steps
        guidance = d.guidance if guidance is None else guidance
        sampler = d.sampler if sampler is None else sampler
        return SamplingSettings(size, fps, steps, guidance, sampler, d.shift)

    @torch.no_grad()
    def __call__(self, prompt: str, seconds: int | None = None, size: str | None = None, fps: int | None = None,
                 steps: int | None = None, guidance: float | None = None, seed: int = 0,
                 sampler: str | None = None, callback: Callable[[int, int], None] | None = None,
                 image=None) -> Video:
        """Text -> video in one pass; with `image` (a path, PIL image or (H, W, 3) uint8 array),
        image -> video: the image, scaled to cover `size` and centre-cropped, is frame 0 and
        the prompt says what happens next."""
        # 1. Check inputs, read the image
        options = self._options(size, seconds, fps, steps, guidance, seed, sampler)
        request = self._checked(TextToVideo(prompt, options) if image is None else ImageToVideo(prompt, image, options))
        seconds = self.defaults.default_seconds if seconds is None else seconds
        o = self.settings(size, fps, steps, guidance, sampler)
        first = None if image is None else fit_frames(request.image[None], o.width, o.height)
        frames = int(round(seconds * o.fps))
        # 2. The velocity field of the prompt (and the empty prompt, for guidance)
        velocity = self.velocity(prompt, o.guidance)
        # 3. Known latents: the image is latent frame 0 (the causal autoencoder encodes frame 0 alone)
        pinned = {} if first is None else {0: self.encode_frame(first[0])}
        # 4. Denoise from noise drawn from the seed alone
        gen = torch.Generator().manual_seed(int(seed))
        z = self.sample_window(velocity, latent_frames(frames, self.autoencoder.cfg.time_factor), o, gen,
                               _Progress(callback, o.steps), pinned)
        # 5. Decode to pixels. Frame 0 is the autoencoder's copy of the image, pulled toward the
        # image only where the copy is worse than FIRST_FRAME_DB: pasting the sharper original in
        # whole made the frame 0 -> 1 step jump more often (docs/decisions/builtin-modes.md).
        video = self.decode(z)[:frames]
        if first is not None:
            video[0] = toward(video[0], first[0], FIRST_FRAME_DB)
        params = {"model": self.name, "seconds": seconds, "size": o.size, "fps": o.fps, "steps": o.steps,
                  "guidance": o.guidance, "seed": int(seed), "sampler": o.sampler}
        if first is not None:
            params["mode"] = "image"
        revised = self.revise_prompt(prompt)
        if revised != prompt:  # say what the transformer read, so a surprising video can be explained
            params["revised_prompt"] = revised
        return Video(video, o.fps, prompt, params)

    # ------------------------------------------------------------------
    # The one sampler every mode uses: a window of latent frames, some pinned
    #
    # A window of n latent frames decodes to 1 + 4(n - 1) frames. Latent 0 is
    # frame 0 alone; latent p >= 1 is the group of frames 4p-3 .. 4p. Groups are
    # encoded independently (autoencoder.py), and one frame alone encodes exactly
    # as a group of 4 copies of it. So one frame can be pinned at any position:
    # at 0 it is that frame, elsewhere a group holding still on it. Pinned latents
    # stay on their noising line and the model draws the rest around them, with
    # reconstruction guidance toward them (diffusion.flow.with_known): a
    # training-free way to condition a model trained on text -> video only.
    #
    # A transformer trained with masked frame conditioning (DiT frame_cond) is
    # also told which frames are known: at each pinned position, the latent of the
    # one frame alone (at p >= 1, the first frame of that group). Replacement and
    # guidance stay on as well: telling alone (no held group) made far fewer
    # backward seams pass (docs/decisions/builtin-modes.md).
    #
    # Why single frames, not runs of them: the model never saw a motion change
    # inside a clip, so pinning frames that show one motion fights a prompt asking
    # for another. A single frame pins position, shape and colour, and leaves the
    # motion to the prompt.

    def encode_head(self, frames: np.ndarray) -> torch.Tensor:
        """(T, H, W, 3) uint8, frame 0 first -> latents (1, 1 + ceil((T-1)/4), C, h, w)."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return self.autoencoder.encode(x[None])  # (1, n, C, h, w)

    def encode_frame(self, frame: np.ndarray) -> torch.Tensor:
        """One (H, W, 3) uint8 frame -> its latent (1, 1, C, h, w), for any window position."""
        return self.encode_head(frame[None])

    def decode(self, z: torch.Tensor) -> np.ndarray:
        return to_frames(self.autoencoder.decode(z)[0])  # (1 + 4(n-1), H, W, 3) uint8

    def sample_window(self, velocity: "Field", n: int, o: "SamplingSettings", gen: torch.Generator, progress: _Progress,
                      pinned: dict[int, torch.Tensor] | None = None, init: torch.Tensor | None = None,
                      strength: float = 1.0, steps: int | None = None, guide: float = GUIDE) -> torch.Tensor:
        """Sample n latent frames. pinned: {position: latent (1, 1, C, h, w)} held there;
        init: latents (1, n, C, h, w) to start from, noised to t = strength (SDEdit);
        guide: reconstruction guidance toward the pinned frames (diffusion.flow.with_known)."""
        ae = self.autoencoder.cfg
        shape = (1, n, ae.latent_channels, o.height // ae.space_factor, o.width // ae.space_factor)
        noise = torch.randn(shape, generator=gen)
        x = noise if init is None else noisy(init, noise, torch.tensor([strength]))
        model = velocity.guided
        if pinned:
            known, mask = torch.zeros(shape), torch.zeros(1, n, 1, 1, 1, dtype=torch.bool)
            for p, z in pinned.items():
                known[:, p], mask[:, p] = z[:, 0], True
            if self.transformer.cfg.frame_cond:
                velocity = velocity.given(known, mask.view(1, n))
            x = torch.where(mask, noisy(known, noise, torch.tensor([strength])), x)
            model = with_known(velocity.guided, known, noise, mask, guide=guide, guide_model=velocity.cond)
        ts = timesteps(o.steps if steps is None else steps, o.shift, start=strength)
        return SAMPLERS[o.sampler](model, x, ts, callback=progress)

    # ------------------------------------------------------------------
    # Chains of windows: extension forward and backward

    @staticmethod
    def chunks(frames: int) -> list[int]:
        """Split a run of new frames into chunks of at most MAX_CHUNK, whole groups, as even as possible."""
        count = math.ceil(frames / MAX_CHUNK)
        size = 4 * math.ceil(frames / count / 4)
        return [size] * (count - 1) + [frames - size * (count - 1)]

    def forward(self, last: np.ndarray | None, segments: list[tuple[str, int]], o: "SamplingSettings",
                gen: torch.Generator, progress: _Progress):
        """Yield new frames after the frame `last` (None: start from nothing), chunk by chunk:
        `frames` frames following each (prompt, frames) segment. A window per chunk, its
        frame 0 pinned to the latest frame, its drift from that frame eased out (seam_eased).
        Only that frame is kept, so memory stays flat."""
        for prompt, frames in segments:
            velocity = self.velocity(prompt, o.guidance)
            for chunk in self.chunks(frames):
                if last is None:  # the very first chunk is plain text -> video
                    new = self.decode(self.sample_window(velocity, latent_frames(chunk), o, gen, progress))[:chunk]
                else:
                    z = self.sample_window(velocity, 1 + math.ceil(chunk / 4), o, gen, progress,
                                           {0: self.encode_frame(last)})
                    new = seam_eased(self.decode(z)[1:1 + chunk], last)
                last = new[-1]
                yield new

    def backward(self, first: np.ndarray, prompt: str, frames: int, o: "SamplingSettings", gen: torch.Generator,
                 progress: _Progress) -> np.ndarray:
        """`frames` new frames leading into the frame `first`, built back to front. Each window
        holds still on the earliest frame so far in its last group (a frame_cond model is
        also told it), and its frames before that group are the new ones."""
        velocity = self.velocity(prompt, o.guidance)
        out = []
        for chunk in self.chunks(frames):
            n = math.ceil((chunk + 7) / 4)  # new frames: window frames 0 .. 4(n-1) - 4
            z = self.sample_window(velocity, n, o, gen, progress, {n - 1: self.encode_frame(first)})
            new = seam_eased(self.decode(z)[:4 * (n - 1) - 3][-chunk:][::-1], first)[::-1]
            out.insert(0, new)
            first = new[0]
        return np.concatenate(out)

    def _video_input(self, frames: np.ndarray, o: "SamplingSettings", size) -> tuple[np.ndarray, "SamplingSettings"]:
        """A loaded video at the job's size; without a size asked for, the job's size is the
        video's own if native, else the default."""
        if size is None:
            own = f"{frames.shape[2]}x{frames.shape[1]}"
            o = replace(o, size=own if own in self.defaults.sizes else self.defaults.size)
        return fit_frames(frames, o.width, o.height), o

    def _params(self, mode: str, o: "SamplingSettings", seed: int, **extra) -> dict:
        return {"model": self.name, "mode": mode, "size": o.size, "fps": o.fps, "steps": o.steps,
                "guidance": o.guidance, "seed": int(seed), "sampler": o.sampler, **extra}
