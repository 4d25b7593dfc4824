"""The built-in model's generation modes beyond one pass, as methods of VideoPipeline.

    pipe.extend(video, "a red ball moving up on a black background", seconds=2)
    pipe.loop(prompt) · pipe.remix(video, prompt) · pipe.blend(video_a, video_b, prompt)
    pipe.storyboard([{"prompt": ..., "seconds": ...}, ...]) · pipe.long(prompt, seconds=60)

Each builds its typed request (requests.py: Extend, Loop, ...) and checks it first, then runs
windows of the one sampler (VideoPipeline.sample_window, chained by forward and backward), and picks
and mends its draws with the pixel heuristics of seams.py, which hold in the built-in world only.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from ...models.autoencoder import latent_frames
from ...requests import Blend, Extend, Long, Loop, Remix, Storyboard
from ...video import Video
from .inputs import DEFAULT_STRENGTH, MAX_CHUNK
from .seams import (BLEND_CANDIDATES, BLEND_GUIDANCE, BLEND_GUIDE, BLEND_STRENGTH, EXTEND_CANDIDATES, SEAM_PASS,
                    best_of, boomerang_start, fit_among_passing, glide, hop_ratio, refine_steps, saved_seam_ratio,
                    tween)


class _Progress:
    """Counts denoising steps over a whole job (every window of it), for callback(i, n)."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int):
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, i, n, x) -> None:  # a sampler's per-step callback
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


class Modes:
    """Mixed into VideoPipeline (pipeline.py), whose sampler, chains and request checks these methods call."""

    @torch.no_grad()
    def extend(self, video, prompt: str, seconds: int | None = None, backward: bool = False,
               size: str | None = None, fps: int | None = None, steps: int | None = None,
               guidance: float | None = None, seed: int = 0, sampler: str | None = None,
               callback: Callable[[int, int], None] | None = None, draws: int | None = EXTEND_CANDIDATES) -> Video:
        """Add `seconds` of video after (or, with backward=True, before) `video`, following `prompt`.
        Returns the whole video: the source's frames untouched, plus the new ones. The new
        part is drawn `draws` times (default EXTEND_CANDIDATES; 1 is fastest), each window's
        drift in colour and place at its seam eased out (seam_eased); where fewer than two
        seams pass (saved_seam_ratio: as drawn and in the file; with one draw, where its seam
        fails), as many again are drawn. Of the draws whose seam passes, the one the prompt
        explains best (prompt_fit) is kept, or with fewer than two passing, the least visible
        seam. long and storyboard chain single draws (their time budget)."""
        # 1. Check inputs, read the video
        request = self._checked(Extend(video, prompt, backward, draws,
                                       self._options(size, seconds, fps, steps, guidance, seed, sampler)))
        draws = EXTEND_CANDIDATES if draws is None else draws
        seconds = int(self.defaults.default_seconds if seconds is None else seconds)
        o = self.settings(size, fps, steps, guidance, sampler)
        source, o = self._video_input(request.video, o, size)
        frames = seconds * o.fps
        gen = torch.Generator().manual_seed(int(seed))
        progress = _Progress(callback, o.steps * len(self.chunks(frames)) * draws)
        # 2. Windows of new frames, each pinned to the frame next to it; `draws` draws, or twice
        # that where fewer than two seams pass
        def draw() -> np.ndarray:
            if backward:
                return np.concatenate([self.backward(source[0], prompt, frames, o, gen, progress), source])
            return np.concatenate([source, *self.forward(source[-1], [(prompt, frames)], o, gen, progress)])

        at = frames - 1 if backward else len(source) - 1  # the step across the seam
        shared, memo = (slice(frames, None) if backward else slice(0, len(source))), {}  # the source's tracks, read once
        made = [draw() for _ in range(draws)]
        seams = [saved_seam_ratio(d, at, o.fps, shared, memo) for d in made]
        if sum(s <= SEAM_PASS for s in seams) < min(2, draws):
            progress.total *= 2
            made += [draw() for _ in range(draws)]
            seams += [saved_seam_ratio(d, at, o.fps, shared, memo) for d in made[draws:]]
        # 3. Keep one: a clean seam first, then the prompt's fit, read on the new frames next to
        # the seam with the frame they join
        near = slice(at + 1 - min(frames, MAX_CHUNK), at + 2) if backward else slice(at, at + 1 + min(frames, MAX_CHUNK))
        out = made[fit_among_passing(seams, lambda i: self.prompt_fit(prompt, made[i][near]))]
        return Video(out, o.fps, prompt, self._params("extend", o, seed, seconds=seconds, backward=bool(backward),
                                                    source_frames=len(source), draws=draws, drawn=len(made)))

    @torch.no_grad()
    def loop(self, prompt: str, seconds: int | None = None, size: str | None = None, fps: int | None = None,
             steps: int | None = None, guidance: float | None = None, seed: int = 0,
             sampler: str | None = None, callback: Callable[[int, int], None] | None = None) -> Video:
        """A clip whose last frame flows into its first: a run of `half` steps of one 4 s
        text -> video clip, played forward and then back (a boomerang), so every step, the
        wrap included, is one the model drew. The run is cut where its turns are smoothest
        (boomerang_start). (A generated way back, a window from the end that held still on
        frame 0, failed the wrap-step test in most measured loops: between two pinned
        frames the model moves the object in hops at latent-frame boundaries, not in a glide.)"""
        # 1. Check inputs
        self._checked(Loop(prompt, self._options(size, seconds, fps, steps, guidance, seed, sampler)))
        seconds = self.defaults.default_seconds if seconds is None else seconds
        o = self.settings(size, fps, steps, guidance, sampler)
        half = 4 * math.ceil(seconds * o.fps / 8)  # whole groups
        # 2. The longest clip the model was trained on (4 s), so there are many places to cut
        # the run from; its cost is one window, as a 4 s text -> video.
        n = max(latent_frames(max(self.defaults.seconds) * o.fps, self.autoencoder.cfg.time_factor),
                2 + half // 4)
        z = self.sample_window(self.velocity(prompt, o.guidance), n, o,
                               torch.Generator().manual_seed(int(seed)), _Progress(callback, o.steps))
        clip = self.decode(z)
        # 3. Frames a .. a + half, then back down to a + 1
        a = boomerang_start(clip, half)
        there = clip[a:a + half + 1]
        out = np.concatenate([there, there[-2:0:-1]])
        return Video(out, o.fps, prompt, self._params("loop", o, seed, seconds=seconds))

    @torch.no_grad()
    def remix(self, video, prompt: str, strength: float | None = DEFAULT_STRENGTH, size: str | None = None,
              fps: int | None = None, steps: int | None = None, guidance: float | None = None, seed: int = 0,
              sampler: str | None = None, callback: Callable[[int, int], None] | None = None) -> Video:
        """SDEdit (Meng et al. 2022): noise the video's latents to t = strength and denoise them
        under `prompt`. Low strength keeps more of the source, 1 keeps only its length. Runs
        round(steps * strength) steps per window; a long video goes in chained windows."""
        # 1. Check inputs, read the video
        request = self._checked(Remix(video, prompt, strength,
                                      self._options(size, None, fps, steps, guidance, seed, sampler)))
        strength = float(DEFAULT_STRENGTH if strength is None else strength)
        o = self.settings(size, fps, steps, guidance, sampler)
        source, o = self._video_input(request.video, o, size)
        n_steps = refine_steps(o.steps, strength)
        velocity = self.velocity(prompt, o.guidance)
        gen = torch.Generator().manual_seed(int(seed))
        head = min(len(source), 1 + MAX_CHUNK)
        rest = self.chunks(len(source) - head) if len(source) > head else []
        progress = _Progress(callback, n_steps * (1 + len(rest)))
        # 2. The first window: the source's first (up to) 1 + MAX_CHUNK frames
        init = self.encode_head(source[:head])
        out = [self.decode(self.sample_window(velocity, init.shape[1], o, gen, progress, init=init,
                                              strength=strength, steps=n_steps))[:head]]
        # 3. Later windows start from the source's frames, frame 0 pinned to the last remixed one
        done = head
        for chunk in rest:
            init = self.encode_head(source[done - 1:done + chunk])
            z = self.sample_window(velocity, init.shape[1], o, gen, progress, {0: self.encode_frame(out[-1][-1])},
                                   init=init, strength=strength, steps=n_steps)
            out.append(self.decode(z)[1:1 + chunk])
            done += chunk
        return Video(np.concatenate(out), o.fps, prompt, self._params("remix", o, seed, strength=strength))

    @torch.no_grad()
    def blend(self, video_a, video_b, prompt: str, seconds: int | None = None, size: str | None = None,
              fps: int | None = None, steps: int | None = None, guidance: float | None = None, seed: int = 0,
              sampler: str | None = None, callback: Callable[[int, int], None] | None = None,
              draws: int | None = BLEND_CANDIDATES) -> Video:
        """The transition from video A's last frame to video B's first: one window from A's last
        frame that holds still on B's first in its last group (a frame_cond model is also told
        both). Its first and last frames are those two frames themselves; it has 4k + 2 frames,
        the fewest that are at least seconds * fps. The window starts from a tween of the two
        frames noised to t = BLEND_STRENGTH (SDEdit: `steps` is a full run's, of which it takes
        that share). It is drawn `draws` times (default BLEND_CANDIDATES; 1 is fastest), with
        gentler guidance toward the two ends (BLEND_GUIDE), its judder at latent-group boundaries
        smoothed out by sub-pixel shifts (glide), and the draw with the smallest hop (hop_ratio)
        is kept. Without `guidance`, BLEND_GUIDANCE (1: the ends lead, not the prompt)."""
        # 1. Check inputs, read the videos
        request = self._checked(Blend(video_a, video_b, prompt, draws,
                                      self._options(size, seconds, fps, steps, guidance, seed, sampler)))
        draws = BLEND_CANDIDATES if draws is None else draws
        seconds = self.defaults.default_seconds if seconds is None else seconds
        o = self.settings(size, fps, steps, BLEND_GUIDANCE if guidance is None else guidance, sampler)
        a, o = self._video_input(request.video_a, o, size)
        b, o = self._video_input(request.video_b, o, o.size)
        # 2. One window: A's last frame at 0, B's first held in the last group (frames 4n-7 .. 4n-4)
        n = math.ceil((seconds * o.fps + 6) / 4)  # the transition is window frames 0 .. 4n - 7
        pinned = {0: self.encode_frame(a[-1]), n - 1: self.encode_frame(b[0])}
        velocity, gen = self.velocity(prompt, o.guidance), torch.Generator().manual_seed(int(seed))
        # 3. The rough in-between to start from: A's last frame to B's first, then B's held
        init, strength, n_steps = None, 1.0, o.steps
        if BLEND_STRENGTH > 0:
            rough = np.concatenate([tween(a[-1], b[0], 4 * n - 6), np.repeat(b[:1], 3, axis=0)])
            init, strength, n_steps = self.encode_head(rough), BLEND_STRENGTH, refine_steps(o.steps, BLEND_STRENGTH)
        progress = _Progress(callback, n_steps * draws)
        def draw() -> np.ndarray:
            z = self.sample_window(velocity, n, o, gen, progress, pinned, init=init, strength=strength,
                                   steps=n_steps, guide=BLEND_GUIDE)
            return glide(np.concatenate([a[-1:], self.decode(z)[1:4 * n - 7], b[:1]]))

        out = best_of(draws, draw, hop_ratio)
        return Video(out, o.fps, prompt, self._params("blend", o, seed, seconds=seconds, draws=draws))

    @torch.no_grad()
    def storyboard(self, cards, size: str | None = None, fps: int | None = None, steps: int | None = None,
                   guidance: float | None = None, seed: int = 0, sampler: str | None = None,
                   callback: Callable[[int, int], None] | None = None) -> Video:
        """Cards [{"prompt": str, "seconds": whole number}, ...] -> one continuous video: each
        card's seconds follow its prompt, every window starting from the frame before it."""
        # 1. Check inputs
        request = self._checked(Storyboard(Storyboard.cards_from(cards),
                                           self._options(size, None, fps, steps, guidance, seed, sampler)))
        o = self.settings(size, fps, steps, guidance, sampler)
        return self._chain([(card.prompt, int(card.seconds) * o.fps) for card in request.cards], o, seed, callback)

    def _chain(self, segments: list[tuple[str, int]], o, seed: int, callback) -> Video:
        """A checked storyboard's (prompt, frames) segments -> one continuous video."""
        progress = _Progress(callback, o.steps * sum(len(self.chunks(f)) for _, f in segments))
        gen = torch.Generator().manual_seed(int(seed))
        out = np.concatenate(list(self.forward(None, segments, o, gen, progress)))
        params = self._params("storyboard", o, seed, cards=[{"prompt": p, "seconds": f // o.fps} for p, f in segments])
        return Video(out, o.fps, segments[0][0], params)

    @torch.no_grad()
    def long(self, prompt: str, seconds: int | None, size: str | None = None, fps: int | None = None,
             steps: int | None = None, guidance: float | None = None, seed: int = 0,
             sampler: str | None = None, callback: Callable[[int, int], None] | None = None) -> Video:
        """Any whole number of seconds up to MAX_SECONDS: text -> video, then chained extension
        with the same prompt (memory flat in length, time linear). None: the model's default_seconds."""
        self._checked(Long(prompt, self._options(size, seconds, fps, steps, guidance, seed, sampler)))
        seconds = int(self.defaults.default_seconds if seconds is None else seconds)
        o = self.settings(size, fps, steps, guidance, sampler)
        video = self._chain([(prompt, seconds * o.fps)], o, seed, callback)
        video.params.update(mode="long", seconds=seconds)
        del video.params["cards"]
        return video
