"""World contract v1: the vocabulary of OpenReel's procedural world.

Everything that makes or reads clips (renderer, captions, probe, evaluator,
docs) takes its names and numbers from here, so changing this file is a new
world version. Keep WORLD_VERSION in step with any change.
"""

from __future__ import annotations

WORLD_VERSION = "1"

# Shapes are drawn inside their bounding box: circle inscribed, square filling
# it, triangle isosceles with its apex at the top centre and its base along the
# bottom edge.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

# Object colours, sRGB 0-255.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (235, 220, 40),
    "green": (40, 190, 70),
    "cyan": (40, 200, 215),
    "blue": (50, 80, 235),
    "purple": (155, 60, 205),
    "white": (245, 245, 245),
}

# Flat backgrounds, sRGB 0-255.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "navy": (20, 24, 90),
    "brown": (90, 55, 30),
}

# Motions. Moving ones carry the object's centre at least MIN_TRAVEL of the
# frame's width (left/right) or height (up/down) with the object fully inside
# the frame; growing/shrinking changes the area at least MIN_AREA_RATIO-fold.
MOTIONS: tuple[str, ...] = ("left", "right", "up", "down", "static", "growing", "shrinking")
MIN_TRAVEL = 0.35
MIN_AREA_RATIO = 2.0

# (shape, colour, motion) combinations that never appear in training: 28 of
# the 168 (16.7%). Every shape, colour and motion still appears in training in
# other combinations, so a model that composes attributes can draw these.
# Picked as (shape + 3*colour + motion) % 6 == 0 over the index order above,
# then frozen here as a literal list so that nobody changes it by accident.
HELD_OUT: frozenset[tuple[str, str, str]] = frozenset({
    ('circle', 'red', 'left'),
    ('circle', 'red', 'shrinking'),
    ('circle', 'orange', 'down'),
    ('circle', 'yellow', 'left'),
    ('circle', 'yellow', 'shrinking'),
    ('circle', 'green', 'down'),
    ('circle', 'cyan', 'left'),
    ('circle', 'cyan', 'shrinking'),
    ('circle', 'blue', 'down'),
    ('circle', 'purple', 'left'),
    ('circle', 'purple', 'shrinking'),
    ('circle', 'white', 'down'),
    ('square', 'red', 'growing'),
    ('square', 'orange', 'up'),
    ('square', 'yellow', 'growing'),
    ('square', 'green', 'up'),
    ('square', 'cyan', 'growing'),
    ('square', 'blue', 'up'),
    ('square', 'purple', 'growing'),
    ('square', 'white', 'up'),
    ('triangle', 'red', 'static'),
    ('triangle', 'orange', 'right'),
    ('triangle', 'yellow', 'static'),
    ('triangle', 'green', 'right'),
    ('triangle', 'cyan', 'static'),
    ('triangle', 'blue', 'right'),
    ('triangle', 'purple', 'static'),
    ('triangle', 'white', 'right'),
})


def all_combos() -> list[tuple[str, str, str]]:
    """Every (shape, colour, motion) combination, in contract order."""
    return [(s, c, m) for s in SHAPES for c in COLORS for m in MOTIONS]


def training_combos() -> list[tuple[str, str, str]]:
    """The combinations the training data may contain."""
    return [combo for combo in all_combos() if combo not in HELD_OUT]
