"""Typed generation requests: one frozen dataclass per mode, and the one place inputs are checked.

    from openreel.requests import TextToVideo, SamplingOptions
    req = TextToVideo("a red ball moving right", SamplingOptions(seconds=2, seed=1))
    req.check(backend.capabilities())        # ValueError naming the field and what is allowed

The CLI, the HTTP service and the worker build these; a backend receives only checked requests.
A job's spec is a request as versioned JSON (`to_spec` / `from_spec`): the contract between the
service that queues a job and the worker that runs it. Nothing here imports a backend; the
`Capabilities` a backend declares are the only thing both sides share.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar, Union

SPEC_VERSION = 1
MODES = ("text", "image", "extend", "loop", "remix", "edit", "blend", "storyboard", "long")
MAX_PROMPT_CHARS = 32000  # Sora's limit; longer prompts are refused, not cut
MAX_STEPS = 200
MAX_GUIDANCE = 20.0
MAX_SEED = 2**63  # seeds are stored as signed 64-bit integers
MIN_VIDEO_FRAMES = 2  # a video to extend, remix or blend; one frame is an image (use image -> video)


class RequestError(ValueError):
    """A request a model cannot run; `field` names the input to fix, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_size(size: str) -> tuple[int, int]:
    """'WxH' -> (W, H)."""
    w, _, h = str(size).lower().partition("x")
    return int(w), int(h)


# ----------------------------------------------------------------------------
# What a model can do: declared by its backend, readable without loading weights.

@dataclass(frozen=True)
class Capabilities:
    name: str  # the model's name in this instance (catalog name), used in messages
    family: str  # a key of backends.FAMILIES
    modes: tuple[str, ...]  # the subset of MODES it runs; any other mode is refused
    sizes: tuple[str, ...]  # native WxH sizes, the first the default; Sora's sizes map onto these by aspect
    seconds: tuple[int, ...]  # durations one pass can make
    fps: tuple[int, ...]  # frame rates it generates at, the first the default
    default_seconds: int = 2
    size_multiple: int = 0  # > 0: any WxH with both sides multiples of it, min_side..max_side, is allowed too
    min_side: int = 0
    max_side: int = 0
    frame_rule: tuple[int, int] = (1, 0)  # frame counts n with n % a == b (Wan: (4, 1), LTX: (8, 1))
    max_seconds: int = 0  # chained modes (extend, long, storyboard) reach this many seconds
    samplers: tuple[str, ...] = ("default",)  # the first is the default
    steps: int = 30  # default denoising steps
    guidance: float = 5.0  # default classifier-free guidance
    negative_prompt: bool = False  # whether a negative prompt is honoured
    max_draws: int = 1  # extend and blend may draw this many times and keep the best (built-in only)
    extend_backward: bool = False  # extend can add frames before a video, not only after
    audio: bool = False
    license: str = ""

    @property
    def default_size(self) -> str:
        return self.sizes[0]

    def allows_size(self, size: str) -> bool:
        if size in self.sizes:
            return True
        if not self.size_multiple:
            return False
        try:
            w, h = parse_size(size)
        except ValueError:
            return False
        lo, hi = self.min_side or self.size_multiple, self.max_side or 10**6
        return all(v % self.size_multiple == 0 and lo <= v <= hi for v in (w, h))

    def size_rule(self) -> str:
        rule = ", ".join(self.sizes)
        if self.size_multiple:
            rule += (f", or any WIDTHxHEIGHT whose sides are multiples of {self.size_multiple} "
                     f"from {self.min_side or self.size_multiple} to {self.max_side or 'any'}")
        return rule

    def frames_for(self, seconds: float, fps: int) -> int:
        """The fewest frames at least seconds * fps that the frame rule allows."""
        a, b = self.frame_rule
        n = max(1, math.ceil(seconds * fps - 1e-9))
        return n + (b - n) % a

    def frame_rule_text(self) -> str:
        a, b = self.frame_rule
        return "any number" if a == 1 else f"{a}k+{b} (e.g. {a + b}, {2 * a + b}, {4 * a + b})"

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------
# Inputs shared by every mode.

Media = Union[str, Any]  # a path or a stored-asset reference (JSON-safe), or in memory: array, PIL image, Video


@dataclass(frozen=True)
class SamplingOptions:
    size: str | None = None  # WIDTHxHEIGHT; None: the model's default, or a source video's own size if native
    seconds: int | None = None  # one-pass length; for extend the seconds added, for long the whole length
    fps: int | None = None  # None: the model's own frame rate
    steps: int | None = None  # denoising steps; None: the model's default
    guidance: float | None = None  # classifier-free guidance scale; None: the model's default
    seed: int = 0  # same seed, same request, same model: the same frames
    sampler: str | None = None  # an ODE solver the model offers; None: its default
    negative_prompt: str = ""  # what to steer away from, where the model honours it
    frames: int | None = None  # an exact frame count instead of seconds (must follow the model's frame rule)


def _check_prompt(prompt: Any, name: str = "prompt") -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestError(name, f"{name} must be a non-empty string describing the video")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise RequestError(name, f"{name} must be at most {MAX_PROMPT_CHARS} characters; got {len(prompt)}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_one_pass_seconds(caps: Capabilities, seconds: Any) -> None:
    if seconds is not None and (not _is_number(seconds) or seconds not in caps.seconds):
        raise RequestError("seconds", f"seconds must be one of {', '.join(map(str, caps.seconds))} for "
                                      f"{caps.name}; got {seconds!r}")


def _check_chain_seconds(caps: Capabilities, seconds: Any, name: str = "seconds") -> None:
    most = caps.max_seconds
    ok = _is_number(seconds) and seconds == int(seconds) and 1 <= seconds <= most
    if not ok:
        raise RequestError(name, f"{name} must be a whole number of seconds from 1 to {most}; got {seconds!r}")


def _check_options(caps: Capabilities, o: SamplingOptions) -> None:
    if not isinstance(o, SamplingOptions):
        raise RequestError("options", f"options must be SamplingOptions; got {type(o).__name__}")
    if o.size is not None and (not isinstance(o.size, str) or not caps.allows_size(o.size)):
        raise RequestError("size", f"size must be one of {caps.size_rule()} (width x height) for {caps.name}; "
                                   f"got {o.size!r}")
    if o.fps is not None and (isinstance(o.fps, bool) or o.fps not in caps.fps):
        raise RequestError("fps", f"fps must be one of {', '.join(map(str, caps.fps))}; got {o.fps!r}")
    if o.steps is not None and (isinstance(o.steps, bool) or not isinstance(o.steps, int)
                                or not 1 <= o.steps <= MAX_STEPS):
        raise RequestError("steps", f"steps must be a whole number from 1 to {MAX_STEPS}; got {o.steps!r}")
    if o.guidance is not None and (not _is_number(o.guidance) or not 0 <= o.guidance <= MAX_GUIDANCE):
        raise RequestError("guidance", f"guidance must be a number from 0 to {MAX_GUIDANCE:g}; got {o.guidance!r}")
    if isinstance(o.seed, bool) or not isinstance(o.seed, int) or not 0 <= o.seed < MAX_SEED:
        raise RequestError("seed", f"seed must be a whole number in [0, 2^63); got {o.seed!r}")
    if o.sampler is not None and o.sampler not in caps.samplers:
        raise RequestError("sampler", f"sampler must be one of {', '.join(caps.samplers)}; got {o.sampler!r}")
    if not isinstance(o.negative_prompt, str):
        raise RequestError("negative_prompt", "negative_prompt must be a string")
    if o.negative_prompt and not caps.negative_prompt:
        raise RequestError("negative_prompt", f"negative_prompt: model {caps.name} does not take a negative prompt; "
                                                 "leave it out")
    if o.frames is not None:
        a, b = caps.frame_rule
        if isinstance(o.frames, bool) or not isinstance(o.frames, int) or o.frames < 1 or o.frames % a != b % a:
            raise RequestError("frames", f"frames must be {caps.frame_rule_text()} for {caps.name}; got {o.frames!r}")
        if o.seconds is not None:
            raise RequestError("frames", "frames and seconds both say the length: give one, not both")


def _check_media(value: Any, name: str) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RequestError(name, f"{name} is required")


def _check_draws(caps: Capabilities, draws: Any) -> None:
    if draws is None:
        return
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= max(caps.max_draws, 1):
        raise RequestError("draws", f"draws must be a whole number from 1 to {max(caps.max_draws, 1)} for "
                                    f"{caps.name}; got {draws!r}")


def _check_mode(caps: Capabilities, mode: str) -> None:
    if mode not in caps.modes:
        raise RequestError("mode", f"mode {mode} is not one model {caps.name} has; its modes are "
                                   f"{', '.join(caps.modes)}")


# ----------------------------------------------------------------------------
# The requests, one per mode. check(caps) raises RequestError; nothing else validates.

@dataclass(frozen=True)
class TextToVideo:
    mode: ClassVar[str] = "text"
    prompt: str
    options: SamplingOptions = field(default_factory=SamplingOptions)

    def check(self, caps: Capabilities) -> None:
        _check_mode(caps, self.mode)
        _check_prompt(self.prompt)
        _check_options(caps, self.options)
        _check_one_pass_seconds(caps, self.options.seconds)


@dataclass(frozen=True)
class ImageToVideo:
    """The image is frame 0, scaled to cover the size and centre-cropped; the prompt says what happens next."""
    mode: ClassVar[str] = "image"
    prompt: str
    image: Media
    options: SamplingOptions = field(default_factory=SamplingOptions)

    def check(self, caps: Capabilities) -> None:
        _check_mode(caps, self.mode)
        _check_prompt(self.prompt)
        _check_media(self.image, "image")
        _check_options(caps, self.options)
        _check_one_pass_seconds(caps, self.options.seconds)


@dataclass(frozen=True)
class Extend:
    """options.seconds more after the video (before, with backward); the result is source + new frames."""
    mode: ClassVar[str] = "extend"
    video: Media
    prompt: str
    backward: bool = False
    draws: int | None = None  # draw the new part this many times and keep the best (models with max_draws > 1)
    options: SamplingOptions = field(default_factory=SamplingOptions)

    def check(self, caps: Capabilities) -> None:
        _check_mode(caps, self.mode)
        _check_prompt(self.prompt)
        _check_media(self.video, "video")
        _check_options(caps, self.options)
        if self.options.seconds is not None:
            _check_chain_seconds(caps, self.options.seconds)
        if not isinstance(self.backward, bool):
            raise RequestError("backward", "backward must be true or false")
        if self.backward and not caps.extend_backward:
            raise RequestError("backward", f"backward: model {caps.name} extends forward only")
        _check_draws(caps, self.draws)


@dataclass(frozen=True)
class Loop(TextToVideo):
    """A clip whose last frame flows into its first; the same inputs and rules as text -> video."""
    mode: ClassVar[str] = "loop"


@dataclass(frozen=True)
class Remix:
    """The same video under a new prompt (SDEdit): strength in (0, 1], higher changes more. As long as the video."""
    mode: ClassVar[str] = "remix"
    video: Media
    prompt: str
    strength: float | None = None  # None: the model's default
    options: SamplingOptions = field(default_factory=SamplingOptions)

    def check(self, caps: Capabilities) -> None:
        _check_mode(caps, self.mode)
        _check_prompt(self.prompt)
        _check_media(self.video, "video")
        _check_options(caps, self.options)
        if self.options.seconds is not None or self.options.frames is not None:
            raise RequestError("seconds", f"seconds does not apply to {self.mode}: the length comes from the video")
        if self.strength is not None and (not _is_number(self.strength) or not 0 < self.strength <= 1):
            raise RequestError("strength", f"strength must be in (0, 1]; got {self.strength!r}")


@dataclass(frozen=True)
class Edit(Remix):
    """Sora's edit: a new prompt over any source video (an upload or a stored video)."""
    mode: ClassVar[str] = "edit"


@dataclass(frozen=True)
class Blend:
    """The transition from video A's last frame to video B's first."""
    mode: ClassVar[str] = "blend"
    video_a: Media
    video_b: Media
    prompt: str
    draws: int | None = None
    options: SamplingOptions = field(default_factory=SamplingOptions)

    def check(self, caps: Capabilities) -> None:
        _check_mode(caps, self.mode)
        _check_prompt(self.prompt)
        _check_media(self.video_a, "video_a")
        _check_media(self.video_b, "video_b")
        _check_options(caps, self.options)
        _check_one_pass_seconds(caps, self.options.seconds)
        _check_draws(caps, self.draws)


@dataclass(frozen=True)
class Card:
    prompt: str
    seconds: int = 4


@dataclass(frozen=True)
class Storyboard:
    """Cards one after another in one continuous video."""
    mode: ClassVar[str] = "storyboard"
    cards: tuple[Card, ...]
    options: SamplingOptions = field(default_factory=SamplingOptions)

    @property
    def prompt(self) -> str:
        return self.cards[0].prompt if self.cards else ""

    def check(self, caps: Capabilities) -> None:
        _check_mode(caps, self.mode)
        if not isinstance(self.cards, (tuple, list)) or not self.cards:
            raise RequestError("cards", 'cards must be a non-empty list of {"prompt": ..., "seconds": ...} cards')
        for i, card in enumerate(self.cards):
            if not isinstance(card, Card):
                raise RequestError(f"cards[{i}]", f'cards[{i}] must be a {{"prompt": ..., "seconds": ...}} card')
            _check_prompt(card.prompt, f"cards[{i}].prompt")
            _check_chain_seconds(caps, card.seconds, f"cards[{i}].seconds")
        total = sum(c.seconds for c in self.cards)
        if total > caps.max_seconds:
            raise RequestError("cards", f"cards must add up to at most {caps.max_seconds} seconds; got {total}")
        _check_options(caps, self.options)
        if self.options.seconds is not None or self.options.frames is not None:
            raise RequestError("seconds", "seconds does not apply to storyboard: the length comes from the cards")

    @staticmethod
    def cards_from(data: Any) -> tuple[Card, ...]:
        """Plain data [{"prompt": str, "seconds": n}, ...] -> Cards, naming the card that is wrong."""
        if isinstance(data, dict) and "cards" in data:
            data = data["cards"]
        if not isinstance(data, (list, tuple)) or not data:
            raise RequestError("cards", 'cards must be a non-empty list of {"prompt": ..., "seconds": ...} cards; '
                                        f"got {data!r:.80}")
        out = []
        for i, card in enumerate(data):
            if not isinstance(card, dict) or "prompt" not in card:
                raise RequestError(f"cards[{i}]", f'cards[{i}] must be a {{"prompt": ..., "seconds": ...}} card; '
                                                  f"got {card!r:.80}")
            unknown = set(card) - {"prompt", "seconds"}
            if unknown:
                raise RequestError(f"cards[{i}]", f"cards[{i}] has unknown keys {sorted(unknown)}; a card has "
                                                  "prompt and seconds")
            out.append(Card(card["prompt"], card.get("seconds", 4)))
        return tuple(out)


@dataclass(frozen=True)
class Long:
    """Any whole number of seconds up to the model's max_seconds, by the model's own long-video mechanism."""
    mode: ClassVar[str] = "long"
    prompt: str
    options: SamplingOptions = field(default_factory=SamplingOptions)
    image: Media | None = None  # a first frame to start from, where the model does image -> video

    def check(self, caps: Capabilities) -> None:
        _check_mode(caps, self.mode)
        _check_prompt(self.prompt)
        _check_options(caps, self.options)
        if self.image is not None:
            if "image" not in caps.modes:
                raise RequestError("image", f"image: model {caps.name} cannot start a long video from an image")
            _check_media(self.image, "image")
        if self.options.seconds is not None:
            _check_chain_seconds(caps, self.options.seconds)


Request = Union[TextToVideo, ImageToVideo, Extend, Loop, Remix, Edit, Blend, Storyboard, Long]
REQUESTS: dict[str, type] = {cls.mode: cls for cls in (TextToVideo, ImageToVideo, Extend, Loop, Remix, Edit, Blend,
                                                       Storyboard, Long)}
MEDIA_FIELDS = ("image", "video", "video_a", "video_b")


def media_of(request: Request) -> dict[str, Any]:
    """The request's media inputs by field name."""
    return {f: getattr(request, f) for f in MEDIA_FIELDS if getattr(request, f, None) is not None}


def with_media(request: Request, **media: Any) -> Request:
    """The same request with media inputs replaced (e.g. paths by loaded frames)."""
    return replace(request, **media)


# ----------------------------------------------------------------------------
# The job spec: a request as versioned JSON.

def to_spec(request: Request) -> dict:
    """JSON-safe dict; media must be references (strings) by now, not arrays."""
    out: dict[str, Any] = {"version": SPEC_VERSION, "mode": request.mode}
    for f in fields(request):
        value = getattr(request, f.name)
        if f.name in MEDIA_FIELDS and value is not None and not isinstance(value, str):
            raise TypeError(f"{f.name} must be a stored reference (a string) in a job spec; got {type(value).__name__}")
        if f.name == "options":
            value = {k: v for k, v in asdict(value).items() if v not in (None, "")}
        elif f.name == "cards":
            value = [asdict(c) for c in value]
        out[f.name] = value
    return out


def from_spec(spec: dict) -> Request:
    """Inverse of to_spec. Refuses specs from a newer OpenReel rather than guessing."""
    version = spec.get("version")
    if version != SPEC_VERSION:
        raise RequestError("version", f"job spec version {version!r} is not {SPEC_VERSION}; upgrade this worker")
    mode = spec.get("mode")
    if mode not in REQUESTS:
        raise RequestError("mode", f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    cls = REQUESTS[mode]
    kw = {k: v for k, v in spec.items() if k not in ("version", "mode")}
    known = {f.name for f in fields(cls)}
    unknown = set(kw) - known
    if unknown:
        raise RequestError(sorted(unknown)[0], f"unknown fields for {mode}: {', '.join(sorted(unknown))}")
    if "options" in kw:
        kw["options"] = SamplingOptions(**kw["options"])
    if "cards" in kw:
        kw["cards"] = tuple(Card(**c) for c in kw["cards"])
    return cls(**kw)
