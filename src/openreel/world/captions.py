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
"""

from __future__ import annotations

import numpy as np

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
# A second unseen wording, for *developing* things that read prompts (a prompt rewriter, new
# training captions), so that the paraphrase set above stays a test nobody tuned on. Its words
# are in neither the training captions nor the paraphrase wording; a test checks.
DEV_SHAPE_WORDS = {
    "circle": ["globe", "marble", "round bead"],
    "square": ["brick", "square slab", "four-sided shape"],
    "triangle": ["delta shape", "three-cornered shape", "trigon"],
}
DEV_COLOR_WORDS = {
    "red": ["blood red", "fire red"], "orange": ["carrot orange", "marigold"],
    "yellow": ["mustard yellow", "banana yellow"], "green": ["forest green", "mint green"],
    "cyan": ["cerulean", "aqua-colored"], "blue": ["azure", "cornflower blue"],
    "purple": ["lavender", "mauve"], "white": ["chalk white", "cream white"],
}
DEV_BACKGROUND_WORDS = {
    "black": ["inky black", "onyx"], "gray": ["charcoal gray", "smoky gray"],
    "navy": ["marine navy", "oxford navy"], "brown": ["umber", "cocoa brown"],
}
DEV_MOTION_WORDS = {
    "left": ["moving westward", "scooting to the left"],
    "right": ["moving eastward", "scooting to the right"],
    "up": ["floating skyward", "lifting upwards"],
    "down": ["sliding downwards", "sagging lower"],
    "static": ["idle", "not budging"],
    "growing": ["magnifying", "increasing in scale"],
    "shrinking": ["diminishing", "compressing inward"],
}
DEV_TEMPLATES = [
    "here we have a {color} {shape} {motion} with a {bg} background",
    "camera shot: a lone {color} {shape} {motion}, {bg} surroundings",
    "picture a {color} {shape} that is {motion} on top of {bg}",
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


def dev_paraphrase(scene: Scene, rng: np.random.Generator) -> str:
    """A caption in the development wording (DEV_*): unseen in training, and not the test wording."""
    return _fill(scene, rng, DEV_TEMPLATES, DEV_SHAPE_WORDS, DEV_COLOR_WORDS, DEV_MOTION_WORDS,
                 DEV_BACKGROUND_WORDS)


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
