"""The fixed prompt sets that `openreel eval` generates and probes.

Three sets, each a deterministic list of EvalCase built from its own fixed
seed, so every run and every checkpoint is scored on the same prompts:

  seen_set()       96 training combinations in training wording: can the
                   model draw what it was taught?
  held_out_set()   each of the 28 HELD_OUT combinations twice (56), in
                   training wording: does it compose attributes it never
                   saw together?
  paraphrase_set() 96 training combinations in paraphrase wording (never in
                   training): does it follow prompts it has never read?

Every prompt names its background, so all four attributes can be scored.
Changing a seed or the recipe changes the benchmark: don't, unless the
world version changes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from openreel.world.captions import caption, dev_paraphrase, paraphrase
from openreel.world.contract import BACKGROUNDS, COLORS, HELD_OUT, SHAPES, all_combos, training_combos
from openreel.world.scene import sample_scene

SEEN_SEED = 20_001
HELD_OUT_SEED = 20_002
PARAPHRASE_SEED = 20_003
DEV_SEED = 20_004
DEV2_SEED = 20_005
DEV3_SEED = 20_006


@dataclass(frozen=True)
class EvalCase:
    prompt: str
    shape: str
    color: str
    background: str
    motion: str
    seed: int  # the generation seed for this case, so a rerun draws the same noise


def _base_caption(scene, rng: np.random.Generator) -> str:
    # The first training wording (base_only), so the benchmark stays fixed as training captions grow.
    return caption(scene, rng, with_background=True, base_only=True)


def _case(rng: np.random.Generator, shape: str, color: str, motion: str, background: str,
          wording: Callable) -> EvalCase:
    scene = sample_scene(rng, shape=shape, color=color, motion=motion, background=background,
                         allow_held_out=True)
    return EvalCase(wording(scene, rng), shape, color, background, motion, int(rng.integers(2**31 - 1)))


def _training_grid(seed: int, wording: Callable) -> list[EvalCase]:
    """96 cases: every (shape, colour, background) once, each with a training motion.

    Walking the grid keeps shapes, colours and backgrounds exactly balanced.
    Each (shape, colour) gets four different motions, drawn among those the
    training data has for it (at least five), so motions spread evenly and
    no case is held out.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for shape in SHAPES:
        for color in COLORS:
            motions = [m for s, c, m in training_combos() if (s, c) == (shape, color)]
            picked = rng.choice(len(motions), size=len(BACKGROUNDS), replace=False)
            for background, k in zip(BACKGROUNDS, picked):
                cases.append(_case(rng, shape, color, motions[k], background, wording))
    return _shuffled(rng, cases)


def _shuffled(rng: np.random.Generator, cases: list[EvalCase]) -> list[EvalCase]:
    """The cases in a fixed random order, so any prefix (`openreel eval --limit N`) is a fair sample."""
    return [cases[i] for i in rng.permutation(len(cases))]


def seen_set() -> list[EvalCase]:
    """96 training combinations, training wording."""
    return _training_grid(SEEN_SEED, _base_caption)


def paraphrase_set() -> list[EvalCase]:
    """96 training combinations, paraphrase wording that never appears in training."""
    return _training_grid(PARAPHRASE_SEED, paraphrase)


def dev_set() -> list[EvalCase]:
    """96 training combinations in the development wording: for tuning what reads prompts, so the
    paraphrase set stays untuned. Not one of the reported sets."""
    return _training_grid(DEV_SEED, dev_paraphrase)


def dev2_set() -> list[EvalCase]:
    """96 training combinations in the second development wording (DEV2_*)."""
    return _training_grid(DEV2_SEED, lambda scene, rng: dev_paraphrase(scene, rng, "dev2"))


def dev3_set() -> list[EvalCase]:
    """96 training combinations in the third development wording (DEV3_*)."""
    return _training_grid(DEV3_SEED, lambda scene, rng: dev_paraphrase(scene, rng, "dev3"))


def held_out_set() -> list[EvalCase]:
    """The 28 held-out combinations twice each (56), on two different backgrounds, training wording."""
    rng = np.random.default_rng(HELD_OUT_SEED)
    backgrounds = list(BACKGROUNDS)
    # Contract order, not set order: a frozenset of strings iterates in a
    # different order in every Python process.
    combos = [combo for combo in all_combos() if combo in HELD_OUT]
    cases = []
    for i, (shape, color, motion) in enumerate(combos):
        for repeat in range(2):
            background = backgrounds[(2 * i + repeat) % len(backgrounds)]  # 14 cases per background
            cases.append(_case(rng, shape, color, motion, background, _base_caption))
    return _shuffled(rng, cases)


# The sets by name, for the CLI's --set choices and for reports.
EVAL_SETS = {"seen": seen_set, "held_out": held_out_set, "paraphrase": paraphrase_set}
DEV_SETS = {"dev": dev_set, "dev2": dev2_set, "dev3": dev3_set}
