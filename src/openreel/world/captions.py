"""Captions for world scenes: many templates and synonyms.

TRAIN_* wording is what the model sees in training. PARAPHRASE_* wording is
kept out of training on purpose: the evaluator's paraphrase set is written in
it, to measure whether the model follows prompts it has never read.
"""

from __future__ import annotations

import numpy as np

from .scene import Scene

TRAIN_SHAPE_WORDS = {
    "circle": ["circle", "ball", "disc", "round shape"],
    "square": ["square", "box", "block", "square shape"],
    "triangle": ["triangle", "triangular shape", "triangle shape"],
}
TRAIN_COLOR_WORDS = {
    "red": ["red"], "orange": ["orange"], "yellow": ["yellow"], "green": ["green"],
    "cyan": ["cyan", "light blue"], "blue": ["blue"], "purple": ["purple"], "white": ["white"],
}
TRAIN_BACKGROUND_WORDS = {
    "black": ["black"], "gray": ["gray", "grey"], "navy": ["navy", "dark blue"], "brown": ["brown"],
}
# Gerund phrases, so they fit both "a red ball {motion}" and "a red ball is {motion}".
TRAIN_MOTION_WORDS = {
    "left": ["moving left", "moving to the left", "sliding left", "travelling left"],
    "right": ["moving right", "moving to the right", "sliding right", "travelling right"],
    "up": ["moving up", "moving upward", "rising", "floating up"],
    "down": ["moving down", "moving downward", "falling", "sinking"],
    "static": ["staying still", "not moving", "sitting still", "resting in place"],
    "growing": ["growing", "getting bigger", "expanding", "growing larger"],
    "shrinking": ["shrinking", "getting smaller", "contracting", "shrinking down"],
}
TRAIN_TEMPLATES_WITH_BG = [
    "a {color} {shape} {motion} on a {bg} background",
    "a {color} {shape} is {motion} on a {bg} background",
    "{color} {shape} {motion}, {bg} background",
    "a {color} {shape} {motion} against a {bg} backdrop",
    "video of a {color} {shape} {motion} over a {bg} background",
    "on a {bg} background, a {color} {shape} is {motion}",
]
TRAIN_TEMPLATES_NO_BG = [
    "a {color} {shape} {motion}",
    "a {color} {shape} is {motion}",
    "video of a {color} {shape} {motion}",
]

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


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[rng.integers(len(options))]


def caption(scene: Scene, rng: np.random.Generator, with_background: bool = True) -> str:
    """A training caption for the scene. Without background, any background fits it."""
    templates = TRAIN_TEMPLATES_WITH_BG if with_background else TRAIN_TEMPLATES_NO_BG
    return _pick(rng, templates).format(
        color=_pick(rng, TRAIN_COLOR_WORDS[scene.color]),
        shape=_pick(rng, TRAIN_SHAPE_WORDS[scene.shape]),
        motion=_pick(rng, TRAIN_MOTION_WORDS[scene.motion]),
        bg=_pick(rng, TRAIN_BACKGROUND_WORDS[scene.background]),
    )


def paraphrase(scene: Scene, rng: np.random.Generator) -> str:
    """A caption in wording that never appears in training (for evaluation only)."""
    return _pick(rng, PARAPHRASE_TEMPLATES).format(
        color=_pick(rng, PARAPHRASE_COLOR_WORDS[scene.color]),
        shape=_pick(rng, PARAPHRASE_SHAPE_WORDS[scene.shape]),
        motion=_pick(rng, PARAPHRASE_MOTION_WORDS[scene.motion]),
        bg=_pick(rng, PARAPHRASE_BACKGROUND_WORDS[scene.background]),
    )


def canonical_prompt(shape: str, color: str, motion: str, background: str | None = None) -> str:
    """The plainest training-style prompt for a combination (used by demos and the API)."""
    text = f"a {color} {shape} {TRAIN_MOTION_WORDS[motion][0]}"
    return f"{text} on a {background} background" if background else text
