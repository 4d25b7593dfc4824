"""Captions for world scenes: many templates and synonyms.

Three vocabularies:

  BASE_*        the first training wording. The evaluator's seen and held-out
                prompt sets are written in it, so the benchmark stays fixed
                while the training vocabulary grows.
  TRAIN_*       what the model sees in training: BASE_* plus many more
                synonyms and sentence shapes, so the model learns to read the
                text encoder's meaning rather than a few exact tokens.
  PARAPHRASE_*  kept out of training on purpose: the evaluator's paraphrase
                set is written in it, to measure whether the model follows
                prompts it has never read. No word of it (see
                PARAPHRASE_STEMS) appears in TRAIN_*; a test checks.

The development wordings (DEV_*, DEV2_*, DEV3_*: unseen like PARAPHRASE_*, but
for tuning on) are in dev_wordings.py and re-exported here.
"""

from __future__ import annotations

import re

import numpy as np

# Re-exported: importers take the development wordings from this module.
from .dev_wordings import (  # noqa: F401
    DEV2_BACKGROUND_WORDS, DEV2_COLOR_WORDS, DEV2_MOTION_WORDS, DEV2_SHAPE_WORDS, DEV2_TEMPLATES,
    DEV3_BACKGROUND_WORDS, DEV3_COLOR_WORDS, DEV3_MOTION_WORDS, DEV3_SHAPE_WORDS, DEV3_TEMPLATES,
    DEV_BACKGROUND_WORDS, DEV_COLOR_WORDS, DEV_MOTION_WORDS, DEV_SHAPE_WORDS, DEV_TEMPLATES, DEV_WORDINGS,
)
from .scene import Scene

BASE_SHAPE_WORDS = {
    "circle": ["circle", "ball", "disc", "round shape"],
    "square": ["square", "box", "block", "square shape"],
    "triangle": ["triangle", "triangular shape", "triangle shape"],
}
BASE_COLOR_WORDS = {
    "red": ["red"], "orange": ["orange"], "yellow": ["yellow"], "green": ["green"],
    "cyan": ["cyan", "light blue"], "blue": ["blue"], "purple": ["purple"], "white": ["white"],
}
BASE_BACKGROUND_WORDS = {
    "black": ["black"], "gray": ["gray", "grey"], "navy": ["navy", "dark blue"], "brown": ["brown"],
}
# Gerund phrases, so they fit both "a red ball {motion}" and "a red ball is {motion}".
BASE_MOTION_WORDS = {
    "left": ["moving left", "moving to the left", "sliding left", "travelling left"],
    "right": ["moving right", "moving to the right", "sliding right", "travelling right"],
    "up": ["moving up", "moving upward", "rising", "floating up"],
    "down": ["moving down", "moving downward", "falling", "sinking"],
    "static": ["staying still", "not moving", "sitting still", "resting in place"],
    "growing": ["growing", "getting bigger", "expanding", "growing larger"],
    "shrinking": ["shrinking", "getting smaller", "contracting", "shrinking down"],
}
BASE_TEMPLATES_WITH_BG = [
    "a {color} {shape} {motion} on a {bg} background",
    "a {color} {shape} is {motion} on a {bg} background",
    "{color} {shape} {motion}, {bg} background",
    "a {color} {shape} {motion} against a {bg} backdrop",
    "video of a {color} {shape} {motion} over a {bg} background",
    "on a {bg} background, a {color} {shape} is {motion}",
]
BASE_TEMPLATES_NO_BG = [
    "a {color} {shape} {motion}",
    "a {color} {shape} is {motion}",
    "video of a {color} {shape} {motion}",
]

# Extra training wording (version 2 of the training captions). Chosen to avoid
# every paraphrase word and stem, so the paraphrase set stays unseen.
EXTRA_SHAPE_WORDS = {
    "circle": ["circular shape", "round object", "bubble", "coin shape", "round blob"],
    "square": ["square block", "crate", "boxy shape", "squared shape", "square object"],
    "triangle": ["wedge", "arrowhead", "triangular form", "cone shape", "triangular object"],
}
EXTRA_COLOR_WORDS = {
    "red": ["scarlet", "ruby", "cherry red", "bright red", "vermilion"],
    "orange": ["amber", "pumpkin orange", "bright orange", "apricot"],
    "yellow": ["lemon", "lemon yellow", "bright yellow", "canary yellow"],
    "green": ["lime green", "grass green", "bright green", "jade", "leaf green"],
    "cyan": ["aqua", "teal", "sky blue", "aquamarine"],
    "blue": ["cobalt blue", "sapphire", "bright blue", "deep blue", "ultramarine"],
    "purple": ["plum", "amethyst", "grape purple", "lilac"],
    "white": ["ivory", "pearl white", "milk white", "bright white", "pure white"],
}
EXTRA_BACKGROUND_WORDS = {
    "black": ["jet black", "pure black", "coal black", "ebony"],
    "gray": ["ash gray", "stone gray", "medium gray", "silver gray"],
    "navy": ["midnight blue", "deep navy", "indigo"],
    "brown": ["dark brown", "coffee brown", "walnut", "mocha"],
}
EXTRA_MOTION_WORDS = {
    "left": ["gliding left", "going left", "shifting to the left", "sweeping left", "passing to the left"],
    "right": ["gliding right", "going right", "shifting to the right", "sweeping right", "passing to the right"],
    "up": ["going up", "lifting upward", "soaring", "gliding up", "travelling upward"],
    "down": ["going down", "gliding down", "travelling downward", "plunging", "falling downward"],
    "static": ["motionless", "holding still", "standing still", "at rest", "unmoving", "staying put"],
    "growing": ["getting larger", "scaling up", "inflating", "ballooning", "widening out"],
    "shrinking": ["deflating", "scaling down", "growing smaller", "getting little", "reducing"],
}
EXTRA_TEMPLATES_WITH_BG = [
    "{bg} background with a {color} {shape} {motion}",
    "a {bg} background and a {color} {shape} that is {motion}",
    "there is a {color} {shape} {motion} on {bg}",
    "an animation of a {color} {shape} {motion}; background: {bg}",
    "the {color} {shape} is {motion} over the {bg} background",
    "a {color} {shape}, {motion}, set against {bg}",
    "{bg} backdrop, {color} {shape} {motion}",
    "a {color} colored {shape} {motion} on a {bg} colored background",
    "we see a {color} {shape} {motion}, and the background is {bg}",
    "a {shape} in {color} {motion} over {bg}",
]
EXTRA_TEMPLATES_NO_BG = [
    "the {color} {shape} is {motion}",
    "an animation of a {color} {shape} {motion}",
    "{color} {shape}, {motion}",
    "a {shape} in {color} {motion}",
]


def _merge(base: dict[str, list[str]], extra: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: base[k] + extra[k] for k in base}


TRAIN_SHAPE_WORDS = _merge(BASE_SHAPE_WORDS, EXTRA_SHAPE_WORDS)
TRAIN_COLOR_WORDS = _merge(BASE_COLOR_WORDS, EXTRA_COLOR_WORDS)
TRAIN_BACKGROUND_WORDS = _merge(BASE_BACKGROUND_WORDS, EXTRA_BACKGROUND_WORDS)
TRAIN_MOTION_WORDS = _merge(BASE_MOTION_WORDS, EXTRA_MOTION_WORDS)
TRAIN_TEMPLATES_WITH_BG = BASE_TEMPLATES_WITH_BG + EXTRA_TEMPLATES_WITH_BG
TRAIN_TEMPLATES_NO_BG = BASE_TEMPLATES_NO_BG + EXTRA_TEMPLATES_NO_BG
CAPTIONS_VERSION = "2"  # 1: BASE_* only; 2: BASE_* + EXTRA_*

PARAPHRASE_SHAPE_WORDS = {
    "circle": ["sphere", "orb", "round dot"],
    "square": ["cube", "square tile", "square panel"],
    "triangle": ["pyramid", "three-sided shape", "triangular tile"],
}
PARAPHRASE_COLOR_WORDS = {
    "red": ["crimson", "red"], "orange": ["tangerine", "orange"], "yellow": ["golden yellow", "yellow"],
    "green": ["emerald green", "green"], "cyan": ["turquoise", "cyan"], "blue": ["royal blue", "blue"],
    "purple": ["violet", "purple"], "white": ["snow white", "white"],
}
PARAPHRASE_BACKGROUND_WORDS = {
    "black": ["pitch black"], "gray": ["slate gray"], "navy": ["navy blue"], "brown": ["chocolate brown"],
}
PARAPHRASE_MOTION_WORDS = {
    "left": ["drifting leftward", "heading toward the left edge"],
    "right": ["drifting rightward", "heading toward the right edge"],
    "up": ["climbing", "ascending toward the top"],
    "down": ["descending", "dropping toward the bottom"],
    "static": ["stationary", "frozen in place"],
    "growing": ["enlarging", "swelling in size"],
    "shrinking": ["dwindling", "becoming tinier"],
}
PARAPHRASE_TEMPLATES = [
    "footage of one {color} {shape} {motion}, the scene behind it is {bg}",
    "in front of a plain {bg} wall, a single {color} {shape} keeps {motion}",
    "a clip where the {color} {shape} is {motion} and the backdrop is {bg}",
]
# Stems of the paraphrase wording that training captions must never contain
# (the plain colour names the paraphrase set also uses are allowed).
PARAPHRASE_STEMS = (
    "sphere", "orb", "dot", "cube", "tile", "panel", "pyramid", "three-sided", "crimson", "tangerine",
    "golden", "emerald", "turquoise", "royal", "violet", "snow", "pitch", "slate", "chocolate", "drift",
    "leftward", "rightward", "heading", "edge", "climb", "ascend", "descend", "drop", "bottom", "top",
    "stationary", "frozen", "enlarg", "swell", "dwindl", "tiny", "tinier", "becoming", "footage", "single",
    "plain", "wall", "scene", "behind", "keeps", "clip", "one", "toward", "size",
)


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[rng.integers(len(options))]


def caption(scene: Scene, rng: np.random.Generator, with_background: bool = True,
            base_only: bool = False) -> str:
    """A training caption for the scene. Without background, any background fits it.

    base_only draws from the first (BASE_*) wording, as the evaluator's fixed
    prompt sets do.
    """
    if base_only:
        shapes, colors, motions, bgs = BASE_SHAPE_WORDS, BASE_COLOR_WORDS, BASE_MOTION_WORDS, BASE_BACKGROUND_WORDS
        templates = BASE_TEMPLATES_WITH_BG if with_background else BASE_TEMPLATES_NO_BG
    else:
        shapes, colors, motions, bgs = TRAIN_SHAPE_WORDS, TRAIN_COLOR_WORDS, TRAIN_MOTION_WORDS, TRAIN_BACKGROUND_WORDS
        templates = TRAIN_TEMPLATES_WITH_BG if with_background else TRAIN_TEMPLATES_NO_BG
    return _pick(rng, templates).format(
        color=_pick(rng, colors[scene.color]),
        shape=_pick(rng, shapes[scene.shape]),
        motion=_pick(rng, motions[scene.motion]),
        bg=_pick(rng, bgs[scene.background]),
    )


def paraphrase(scene: Scene, rng: np.random.Generator) -> str:
    """A caption in wording that never appears in training (for evaluation only)."""
    return _fill(scene, rng, PARAPHRASE_TEMPLATES, PARAPHRASE_SHAPE_WORDS, PARAPHRASE_COLOR_WORDS,
                 PARAPHRASE_MOTION_WORDS, PARAPHRASE_BACKGROUND_WORDS)


def dev_paraphrase(scene: Scene, rng: np.random.Generator, wording: str = "dev") -> str:
    """A caption in a development wording (DEV_*, DEV2_* or DEV3_*, by name): unseen in training,
    and not the test wording."""
    templates, shapes, colors, motions, bgs = DEV_WORDINGS[wording]
    return _fill(scene, rng, templates, shapes, colors, motions, bgs)


def _fill(scene: Scene, rng: np.random.Generator, templates, shapes, colors, motions, bgs) -> str:
    """One of `templates` filled with a word for each of the scene's attributes (draw order fixed:
    the eval sets' prompts depend on it)."""
    return _pick(rng, templates).format(
        color=_pick(rng, colors[scene.color]),
        shape=_pick(rng, shapes[scene.shape]),
        motion=_pick(rng, motions[scene.motion]),
        bg=_pick(rng, bgs[scene.background]),
    )


def canonical_prompt(shape: str, color: str, motion: str, background: str | None = None) -> str:
    """The plainest training-style prompt for a combination (used by demos and the API)."""
    text = f"a {color} {shape} {BASE_MOTION_WORDS[motion][0]}"
    return f"{text} on a {background} background" if background else text


# ----------------------------------------------------------------------------
# Tagged sentences for the prompt reader (models/prompt_reader.py)
#
# The reader learns *where* a prompt puts the shape, colour, motion and background,
# from sentence structure rather than from which words fill the slots: in a share of
# sentences a slot is filled with random words from the text encoder's vocabulary, so
# "a <word> <word> <word> on a <word> background" is still tagged right. What a marked
# phrase *means* comes afterwards, from the nearest training phrase. None of these words
# is paraphrase or dev wording (a test checks), and random words skip both too.

READER_TAGS = ("other", "color", "shape", "motion", "background")
# 1: the first reader's sentences; 2: a modifier goes before a known colour only, two-word
# unknown colours end in a plain colour name, and backdrops may end in a random noun; 3: more
# sentence shapes (READER_OBJECT_FORMS, READER_MOTION_FORMS, READER_TAILS, more backdrop forms,
# openers of random words), because on wordings written apart from these sentences (DEV2_*,
# DEV3_*) the reader found the right phrase for only 55-84% of slots.
READER_SENTENCES_VERSION = "3"
READER_OPENERS = ["", "", "", "a video of", "an animation showing", "show", "show me", "we see", "look at",
                  "this shows", "imagine", "render", "make a video of", "generate", "create a video with",
                  "animated:", "watch", "there is", "a short video of", "in this video,", "now:", "loop of",
                  "gif of", "sequence showing"]
READER_DETERMINERS = ["a", "a", "the", "an", "this", "some", "my"]
READER_MODIFIERS = ["small", "big", "little", "large", "flat", "simple", "shiny", "glossy", "matte", "smooth",
                    "solid", "neat", "perfect", "lovely", "nice", "cute", "only", "giant", "huge", "miniature",
                    "bold", "crisp", "clean", "sharp", "soft", "cartoon", "glowing", "wooden", "metal", "plastic",
                    "paper"]
# What joins the object to its motion: "a red ball {motion}", "... which is {motion}".
READER_LINKS = ["", "", "is", "that is", "which is", "is seen", ",", "is just", "continues", "goes on",
                "seems to be", "appears"]
READER_BACKGROUND_AFTER = ["on a {bg} background", "against a {bg} backdrop", "over {bg}", "with a {bg} background",
                           ", {bg} background", ", the background is {bg}", "; background: {bg}", "set against {bg}",
                           "on {bg}", "in a {bg} room", "inside a {bg} space", "on a {bg} floor", "under a {bg} sky",
                           "above a {bg} surface", "and a {bg} background", ", all {bg} around",
                           "across a {bg} field", "with {bg} everywhere else", ", {bg} {}", "; {bg} {} {}",
                           # version 3: the backdrop's noun a random word, or named after it
                           ", and the {} is {bg}", "; the {} is {bg}", ". the {} is {bg}", "with a {bg} {}",
                           "in a {bg} {}", "where the {} is {bg}", "with {bg} as the {}", ", {bg} all over",
                           "and the {} {} {bg}", ", its {} {bg}", "- {bg} {}", "upon a {bg} {}"]
READER_BACKGROUND_BEFORE = ["on a {bg} background,", "{bg} background:", "against {bg},", "{bg} backdrop,",
                            "a {bg} background and", "over {bg}:",
                            "{bg} {},", "{bg} {} -", "in a {bg} {},", "with a {bg} {},", "the {} is {bg} and",
                            "{bg} {}.", "{} {bg},"]
# Version 3. How the object's colour and shape are put ({color}, {shape}; {} a random word).
READER_OBJECT_FORMS = ["{det} {shape} that is {color}", "{det} {shape} colored {color}", "{det} {shape}, {color},",
                       "{det} {shape} of {color} color", "{color} {shape}", "{det} {shape} in {color}",
                       "{det} {} {shape}, {color},", "{det} {shape} {} {color}", "{det} {shape} with a {color} {}",
                       "{det} {color} and {} {shape}"]
# Version 3. Where the motion goes relative to the object ({object}, {motion}).
READER_MOTION_FORMS = ["{object}. it is {motion}", "{object}; it is {motion}", "{object} - {motion}",
                       "{motion}, {object}", "{object}, {motion}", "{object} {motion} {adverb}",
                       "{object} {adverb} {motion}", "{object}, which is {motion}", "{object} {} {motion}",
                       "{object} and it is {motion}"]
READER_ADVERBS = ["slowly", "quickly", "steadily", "gently", "smoothly", "calmly", "fast", "evenly", "softly"]
# Version 3. What may end a prompt ({} a random word).
READER_TAILS = [".", "!", ", {} style", "for {} seconds", "in {}", ". {} {}", "now", "({})"]
# Shapes of a random motion phrase (each {} a random word): motions are often more than one word.
READER_RANDOM_MOTIONS = ["{}", "{} {}", "{} {}", "{} {} {}", "{} in {}", "{} to the {}", "not {}", "{} into {}",
                         "{} at {}", "{} out", "{} away", "{} around"]


def split_words(text: str) -> list[str]:
    """Lower-case words and punctuation marks, the unit the prompt reader tags."""
    return re.findall(r"[a-z0-9'-]+|[^\sa-z0-9'-]", text.lower())


def dev_words() -> set[str]:
    """Every word of the dev wordings: their attribute phrases and their sentence shapes."""
    words = set()
    for templates, *vocabs in DEV_WORDINGS.values():
        words |= {w for vocab in vocabs for phrases in vocab.values() for p in phrases for w in split_words(p)}
        words |= {w for t in templates for w in split_words(without_slots(t))}
    return words


def reader_vocabulary(words) -> list[str]:
    """Random slot fillers: plain alphabetic words, minus anything from the paraphrase or dev wording."""
    dev = dev_words()
    return sorted(w for w in set(words)
                  if w.isalpha() and w.isascii() and len(w) >= 3 and w not in dev and not w.startswith(PARAPHRASE_STEMS))


def tagged_sentence(rng: np.random.Generator, vocab: list[str]) -> tuple[list[str], list[int]]:
    """One random prompt-like sentence as words, with each word's READER_TAGS index."""
    real = [1.0, 0.7, 0.4, 0.0][rng.integers(4)]  # share of slots filled with training phrases

    def slot(tag: str, known: bool = False) -> str:
        if known or rng.random() < real:
            table = {"color": TRAIN_COLOR_WORDS, "shape": TRAIN_SHAPE_WORDS, "motion": TRAIN_MOTION_WORDS,
                     "background": TRAIN_BACKGROUND_WORDS}[tag]
            return _pick(rng, _pick(rng, list(table.values())))
        if tag == "motion":
            form = _pick(rng, READER_RANDOM_MOTIONS)
        elif tag == "shape":
            form = _pick(rng, ["{}", "{}", "{} {}", "{} shape"])
        else:  # a colour name of two words mostly ends in a plain one ("fire red"), else it is one word
            form = _pick(rng, ["{}", "{}", "{} " + _pick(rng, [c[0] for c in BASE_COLOR_WORDS.values()])])
        return form.format(*(_pick(rng, vocab) for _ in range(3)))

    parts: list[tuple[str, str]] = []  # (tag, text)
    opener = _pick(rng, READER_OPENERS)
    if rng.random() < 0.15:  # a few words of anything first, with or without a mark after them
        opener = " ".join(_pick(rng, vocab) for _ in range(1 + rng.integers(3))) + _pick(rng, [":", ",", "", "."])
    parts.append(("other", opener))
    background = rng.random() < 0.8
    before = background and rng.random() < 0.25

    SLOTS = {"{color}": "color", "{shape}": "shape", "{motion}": "motion", "{bg}": "background"}

    def fill(template: str) -> list[tuple[str, str]]:
        """A form's text split at its slots: {color}, {shape}, {motion}, {bg} become tagged slot
        phrases, {det} and {adverb} words of their lists, and {} a random word."""
        out = []
        for piece in re.split(r"(\{\w*\})", template):
            if piece in SLOTS:
                out.append((SLOTS[piece], slot(SLOTS[piece])))
            elif piece == "{det}":
                out.append(("other", _pick(rng, READER_DETERMINERS)))
            elif piece == "{adverb}":
                out.append(("other", _pick(rng, READER_ADVERBS)))
            elif piece == "{}":
                out.append(("other", _pick(rng, vocab)))
            elif piece:
                out.append(("other", piece))
        return out

    if before:
        parts += fill(_pick(rng, READER_BACKGROUND_BEFORE))
    det = _pick(rng, READER_DETERMINERS)
    form = rng.random()
    if form < 0.45:
        thing = [("other", det), ("color", slot("color")), ("shape", slot("shape"))]
    elif form < 0.55:
        thing = [("other", det), ("shape", slot("shape")), ("other", "in"), ("color", slot("color"))]
    elif form < 0.62:
        thing = [("other", det), ("color", slot("color")), ("other", "colored"), ("shape", slot("shape"))]
    elif form < 0.72:
        # A word before a known colour is a modifier, not part of it ("a big red ball"); with an
        # unknown colour the two could not be told apart, so here the colour is always known.
        modifier = _pick(rng, READER_MODIFIERS) if rng.random() < 0.5 else _pick(rng, vocab)
        thing = [("other", f"{det} {modifier}"), ("color", slot("color", known=True)), ("shape", slot("shape"))]
    else:
        thing = fill(_pick(rng, READER_OBJECT_FORMS))
    if rng.random() < 0.7:
        parts += thing + [("other", _pick(rng, READER_LINKS)), ("motion", slot("motion"))]
    else:
        for piece in re.split(r"(\{\w*\})", _pick(rng, READER_MOTION_FORMS)):
            parts += thing if piece == "{object}" else fill(piece)
    if background and not before:
        parts += fill(_pick(rng, READER_BACKGROUND_AFTER))
    if rng.random() < 0.25:
        parts += fill(_pick(rng, READER_TAILS))
    words, tags = [], []
    for tag, text in parts:
        for w in split_words(text):
            words.append(w)
            tags.append(READER_TAGS.index(tag))
    return words, tags


def training_words() -> set[str]:
    """Every word of the training captions: a prompt made only of these is one the model has read."""
    words = set()
    for vocab in (TRAIN_SHAPE_WORDS, TRAIN_COLOR_WORDS, TRAIN_BACKGROUND_WORDS, TRAIN_MOTION_WORDS):
        for phrases in vocab.values():
            words |= {w for p in phrases for w in split_words(p)}
    for template in TRAIN_TEMPLATES_WITH_BG + TRAIN_TEMPLATES_NO_BG:
        words |= set(split_words(without_slots(template)))
    return words


def without_slots(template: str) -> str:
    """A template with its {slots} blanked: the words it adds itself."""
    return re.sub(r"\{\w*\}", " ", template)
