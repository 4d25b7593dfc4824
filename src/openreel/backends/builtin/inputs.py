"""The built-in model's input rules: one rule set for CLI, HTTP and Python, with messages that
start with the field they are about and say what to fix."""

from __future__ import annotations

import math

import numpy as np

from ...diffusion.flow import SAMPLERS
from .checkpoint import GenerationDefaults

MAX_SECONDS = 120  # longest chained video (long, extend, storyboard); memory stays flat, time is linear
MIN_VIDEO_FRAMES = 2  # a video to extend or blend; one frame is an image (use image -> video)
MAX_CHUNK = 32  # new frames per window at most: a window is then at most the 4 s clip the model knows
MAX_DRAWS = 8  # extend and blend: more costs time for little (4 already keeps the best of the spread)
# Reconstruction guidance on pinned frames (diffusion.flow.with_known). Without it the
# model draws its own layout beside a pinned frame and the video jumps at the seam.
GUIDE = 2.0
DEFAULT_STRENGTH = 0.9  # remix: measured best for this model (eval/modes.py): lower keeps the old colour or loses the object


def check_inputs(d: GenerationDefaults, prompt, seconds, size, fps, steps, guidance, sampler) -> None:
    """One rule set for CLI, HTTP and Python, with messages that name the field and what to fix."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string describing the video")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds not in d.seconds:
        raise ValueError(f"seconds must be one of {', '.join(map(str, d.seconds))}; got {seconds!r}")
    check_settings(d, size, fps, steps, guidance, sampler)


def check_settings(d: GenerationDefaults, size, fps, steps, guidance, sampler) -> None:
    """The rules every mode shares (all of check_inputs but prompt and the one-pass seconds)."""
    if size not in d.sizes:
        raise ValueError(f"size must be one of {', '.join(d.sizes)} (width x height); got {size!r}")
    if isinstance(fps, bool) or fps not in d.fps:
        raise ValueError(f"fps must be one of {', '.join(map(str, d.fps))}; got {fps!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1 or steps > 200:
        raise ValueError(f"steps must be a whole number from 1 to 200; got {steps!r}")
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or math.isnan(guidance) \
            or not 0 <= guidance <= 20:
        raise ValueError(f"guidance must be a number from 0 to 20; got {guidance!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}")


# ----------------------------------------------------------------------------
# Inputs of the generation modes: images, videos, strengths, storyboard cards.

def check_prompt(prompt, field: str = "prompt") -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"{field} must be a non-empty string describing the video")


def check_chain_seconds(seconds, field: str = "seconds", most: int = MAX_SECONDS) -> int:
    """Whole seconds from 1 to `most`, for chained modes; returns them as an int."""
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and math.isfinite(seconds) \
        and seconds == int(seconds) and 1 <= seconds <= most
    if not ok:
        raise ValueError(f"{field} must be a whole number of seconds from 1 to {most}; got {seconds!r}")
    return int(seconds)


def check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
        raise ValueError(f"strength must be in (0, 1], got {strength!r}")
    return float(strength)


def check_draws(draws) -> int:
    """How many times extend and blend draw their new frames, keeping the best: 1 to MAX_DRAWS."""
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws must be a whole number from 1 to {MAX_DRAWS}; got {draws!r}")
    return draws


def check_cards(cards) -> list[tuple[str, int]]:
    """A storyboard: a non-empty list of {"prompt": str, "seconds": number} -> [(prompt, seconds)]."""
    if not isinstance(cards, (list, tuple)) or not cards:
        raise ValueError('cards must be a non-empty list of {"prompt": ..., "seconds": ...} cards; '
                         f"got {cards!r:.80}")
    out = []
    for i, card in enumerate(cards):
        if not isinstance(card, dict) or "prompt" not in card:
            raise ValueError(f'cards[{i}] must be a {{"prompt": ..., "seconds": ...}} card; got {card!r:.80}')
        unknown = set(card) - {"prompt", "seconds"}
        if unknown:
            raise ValueError(f"cards[{i}] has unknown keys {sorted(unknown)}; a card has prompt and seconds")
        check_prompt(card["prompt"], f"cards[{i}].prompt")
        out.append((card["prompt"], check_chain_seconds(card.get("seconds", 4), f"cards[{i}].seconds")))
    total = sum(sec for _, sec in out)
    if total > MAX_SECONDS:
        raise ValueError(f"cards must add up to at most {MAX_SECONDS} seconds; got {total}")
    return out


def video_size(d: GenerationDefaults, frames: np.ndarray, size: str | None) -> str:
    """The size a mode works at: the one asked for, else the video's own if native, else the default."""
    if size is not None:
        return size
    own = f"{frames.shape[2]}x{frames.shape[1]}"
    return own if own in d.sizes else d.size
