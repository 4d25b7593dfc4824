"""World contract v1: the scenes, renderer, captions and eval prompts keep its promises."""

from __future__ import annotations

import re

import numpy as np
import pytest

from openreel.eval.prompts import dev2_set, dev3_set, dev_set, held_out_set, paraphrase_set, seen_set
from openreel.world import captions
from openreel.world.contract import (BACKGROUNDS, COLORS, HELD_OUT, MIN_AREA_RATIO, MIN_TRAVEL, MOTIONS,
                                     SHAPES, all_combos, training_combos)
from openreel.world.scene import Scene, render, sample_scene, shape_mask

SIZES = [(64, 64), (112, 64), (64, 112)]  # the default native (W, H) sizes
FRAMES = 16  # 2 s at 8 fps


def object_pixels(video: np.ndarray, scene: Scene) -> np.ndarray:
    """(T, H, W) bool: pixels that differ from the scene's background."""
    return (video != np.array(BACKGROUNDS[scene.background], dtype=np.uint8)).any(axis=-1)


# ---------------------------------------------------------------------------
# Determinism and rendering
# ---------------------------------------------------------------------------

def test_same_seed_same_scene_and_pixels():
    a = sample_scene(np.random.default_rng(7))
    b = sample_scene(np.random.default_rng(7))
    assert a == b
    assert np.array_equal(render(a, 64, 64, FRAMES), render(b, 64, 64, FRAMES))
    others = {sample_scene(np.random.default_rng(seed)) for seed in range(20)}
    assert len(others) == 20  # and different seeds give different scenes


@pytest.mark.parametrize("width, height, frames", [
    (64, 64, 16), (112, 64, 16), (64, 112, 16), (33, 17, 5), (8, 8, 1), (101, 57, 1), (128, 72, 32)])
def test_render_any_size_and_length(width, height, frames):
    scene = sample_scene(np.random.default_rng(width * height + frames))
    video = render(scene, width, height, frames)
    assert video.shape == (frames, height, width, 3) and video.dtype == np.uint8
    colours = {tuple(int(v) for v in px) for px in video.reshape(-1, 3)}
    # Flat colours only, and the object is visible in every frame.
    assert colours == {COLORS[scene.color], BACKGROUNDS[scene.background]}
    assert object_pixels(video, scene).any(axis=(1, 2)).all()


def test_render_refuses_degenerate_sizes():
    scene = sample_scene(np.random.default_rng(0))
    for width, height, frames in [(4, 64, 16), (64, 7, 16), (64, 64, 0)]:
        with pytest.raises(ValueError, match="width, height >= 8"):
            render(scene, width, height, frames)


def test_first_and_last_frames_are_the_scene_ends():
    # A 1:1 and a 16:9 clip of the same scene tell the same story: the
    # first frame is at `start`, the last at `end`, whatever the length.
    scene = sample_scene(np.random.default_rng(3), motion="right")
    for frames in (2, 9, 16):
        video = object_pixels(render(scene, 112, 64, frames), scene)
        xs = np.nonzero(video[0])[1], np.nonzero(video[-1])[1]
        assert abs((xs[0].min() + xs[0].max() + 1) / 2 / 112 - scene.start[0]) < 1 / 112 + 1e-6
        assert abs((xs[1].min() + xs[1].max() + 1) / 2 / 112 - scene.end[0]) < 1 / 112 + 1e-6


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape, fill", [("circle", np.pi / 4), ("square", 1.0), ("triangle", 0.5)])
def test_shapes_fill_their_box(shape, fill):
    cx, cy, side = 40.3, 31.7, 30.0
    mask = shape_mask(shape, cx, cy, side, 80, 64)
    ys, xs = np.nonzero(mask)
    # Inside the box: pixel centres (index + 0.5) within cx +- side/2.
    assert xs.min() + 0.5 >= cx - side / 2 and xs.max() + 0.5 <= cx + side / 2
    assert ys.min() + 0.5 >= cy - side / 2 and ys.max() + 0.5 <= cy + side / 2
    assert mask.sum() == pytest.approx(fill * side * side, rel=0.05)


def test_triangle_apex_is_up():
    mask = shape_mask("triangle", 32, 32, 40, 64, 64)
    widths = mask.sum(axis=1)[mask.any(axis=1)]
    assert widths[0] < widths[-1] / 5  # narrow top row, wide base
    assert np.all(np.diff(widths) >= 0)


def test_shape_mask_refuses_unknown_shapes():
    with pytest.raises(ValueError, match="shape must be one of"):
        shape_mask("hexagon", 10, 10, 5, 20, 20)


# ---------------------------------------------------------------------------
# Motions
# ---------------------------------------------------------------------------

def _scenes_per_motion(n: int) -> list[Scene]:
    rng = np.random.default_rng(1234)
    return [sample_scene(rng, motion=motion, allow_held_out=True) for motion in MOTIONS for _ in range(n)]


@pytest.mark.parametrize("width, height", SIZES)
def test_motions_meet_the_contract(width, height):
    short = min(width, height)
    for scene in _scenes_per_motion(25):  # 175 scenes per size
        video = object_pixels(render(scene, width, height, FRAMES), scene)  # (T, H, W)
        # Fully inside the frame at every frame: the box by geometry, and
        # no object pixel on the frame's border.
        for t in range(FRAMES):
            cx, cy, size = scene.at(t / (FRAMES - 1))
            half = size * short / 2
            assert half <= cx * width <= width - half and half <= cy * height <= height - half, scene
        assert not (video[:, 0].any() or video[:, -1].any() or video[:, :, 0].any() or video[:, :, -1].any())

        areas = video.sum(axis=(1, 2))
        centres = [_box_centre(frame) for frame in (video[0], video[-1])]
        dx = (centres[1][0] - centres[0][0]) / width
        dy = (centres[1][1] - centres[0][1]) / height
        travel = {"left": -dx, "right": dx, "up": -dy, "down": dy}
        if scene.motion in travel:
            assert travel[scene.motion] >= MIN_TRAVEL, scene
            assert areas.max() <= 1.2 * areas.min(), scene  # moving, not resizing
        else:
            assert abs(dx) < 0.02 and abs(dy) < 0.02, scene  # the box centre stays put
        if scene.motion == "growing":
            assert areas[-1] >= MIN_AREA_RATIO * areas[0], scene
        elif scene.motion == "shrinking":
            assert areas[0] >= MIN_AREA_RATIO * areas[-1], scene
        elif scene.motion == "static":
            assert (video == video[0]).all(), scene


def _box_centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2


def test_sample_scene_validates_its_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="shape must be one of"):
        sample_scene(rng, shape="hexagon", color="red", motion="left")
    with pytest.raises(ValueError, match="background must be one of"):
        sample_scene(rng, background="plaid")
    # Naming all three attributes is an explicit request, held out or not:
    # the evaluator asks for held-out combinations this way.
    scene = sample_scene(rng, shape="triangle", color="red", motion="static")
    assert (scene.shape, scene.color, scene.motion) in HELD_OUT


# ---------------------------------------------------------------------------
# Held-out combinations
# ---------------------------------------------------------------------------

def test_held_out_list_is_a_fair_sample():
    assert len(all_combos()) == len(SHAPES) * len(COLORS) * len(MOTIONS)
    assert HELD_OUT <= set(all_combos())
    assert len(HELD_OUT) >= 0.15 * len(all_combos())
    # Every attribute value still appears in training, in other combinations.
    train = training_combos()
    for i, values in enumerate((SHAPES, COLORS, MOTIONS)):
        assert {combo[i] for combo in train} == set(values)


def test_sample_scene_never_draws_held_out_by_default():
    rng = np.random.default_rng(99)
    drawn = {(s.shape, s.color, s.motion) for s in (sample_scene(rng) for _ in range(3000))}
    assert not drawn & HELD_OUT
    assert drawn == set(training_combos())  # and it covers all of training
    for shape in SHAPES:  # partial constraints draw from training only, too
        drawn = {(s.shape, s.color, s.motion) for s in (sample_scene(rng, shape=shape) for _ in range(300))}
        assert not drawn & HELD_OUT
    with_held_out = {(s.shape, s.color, s.motion)
                     for s in (sample_scene(rng, allow_held_out=True) for _ in range(3000))}
    assert with_held_out & HELD_OUT


# ---------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------

def _skeleton(template: str) -> str:
    return template.replace("{color}", "").replace("{shape}", "").replace("{motion}", "").replace("{bg}", "")


def test_paraphrase_wording_never_appears_in_training_wording():
    train_templates = captions.TRAIN_TEMPLATES_WITH_BG + captions.TRAIN_TEMPLATES_NO_BG
    for template in captions.PARAPHRASE_TEMPLATES:
        assert template not in train_templates
        assert _skeleton(template) not in {_skeleton(t) for t in train_templates}
    pairs = [(captions.PARAPHRASE_SHAPE_WORDS, captions.TRAIN_SHAPE_WORDS),
             (captions.PARAPHRASE_MOTION_WORDS, captions.TRAIN_MOTION_WORDS),
             (captions.PARAPHRASE_BACKGROUND_WORDS, captions.TRAIN_BACKGROUND_WORDS)]
    for para, train in pairs:
        train_words = {w for words in train.values() for w in words}
        assert not {w for words in para.values() for w in words} & train_words
    # Colour paraphrases may reuse the plain colour name, but each has one new word.
    train_colors = {w for words in captions.TRAIN_COLOR_WORDS.values() for w in words}
    for words in captions.PARAPHRASE_COLOR_WORDS.values():
        assert set(words) - train_colors


def _training_tokens() -> set[str]:
    tokens = set()
    for vocab in (captions.TRAIN_SHAPE_WORDS, captions.TRAIN_COLOR_WORDS,
                  captions.TRAIN_BACKGROUND_WORDS, captions.TRAIN_MOTION_WORDS):
        for words in vocab.values():
            tokens |= set(" ".join(words).split())
    for template in captions.TRAIN_TEMPLATES_WITH_BG + captions.TRAIN_TEMPLATES_NO_BG:
        tokens |= set(re.sub(r"[,;:]", " ", _skeleton(template)).split())
    return tokens


def test_no_training_word_starts_with_a_paraphrase_stem():
    clashes = {w for w in _training_tokens() if w.startswith(captions.PARAPHRASE_STEMS)}
    assert not clashes, f"training captions use paraphrase wording: {sorted(clashes)}"


def test_paraphrase_stems_cover_every_new_paraphrase_word():
    # Every paraphrase word that is not a plain training colour name or a
    # function word is caught by some stem, so the check above is complete.
    allowed = _training_tokens()
    for vocab in (captions.PARAPHRASE_SHAPE_WORDS, captions.PARAPHRASE_COLOR_WORDS,
                  captions.PARAPHRASE_BACKGROUND_WORDS, captions.PARAPHRASE_MOTION_WORDS):
        for words in vocab.values():
            for w in " ".join(words).split():
                assert w in allowed or w.startswith(captions.PARAPHRASE_STEMS), w


def test_dev_wording_is_neither_training_nor_paraphrase_wording():
    # The development set is for tuning; it must not leak into training, nor be the test itself.
    train, para = _training_tokens(), set()
    for vocab in (captions.PARAPHRASE_SHAPE_WORDS, captions.PARAPHRASE_COLOR_WORDS,
                  captions.PARAPHRASE_BACKGROUND_WORDS, captions.PARAPHRASE_MOTION_WORDS):
        para |= {w for words in vocab.values() for w in " ".join(words).split()}
    seen_in = {}  # word -> the dev wording that has it
    for name, (templates, *vocabs) in captions.DEV_WORDINGS.items():
        mine = set()
        tables = (captions.TRAIN_SHAPE_WORDS, captions.TRAIN_COLOR_WORDS, captions.TRAIN_MOTION_WORDS,
                  captions.TRAIN_BACKGROUND_WORDS)
        for vocab, table in zip(vocabs, tables):
            assert set(vocab) == set(table), name  # every value has its phrases
            for value, words in vocab.items():
                for phrase in words:
                    new = [w for w in phrase.split() if w not in train]
                    assert new, f"{name} phrase {phrase!r} ({value}) is all training words"
                    assert not any(w in para or w.startswith(captions.PARAPHRASE_STEMS) for w in new), phrase
                    mine |= set(new)
        if name != "dev":  # the later wordings share no attribute word with an earlier one
            assert not {w for w in mine if seen_in.get(w, name) != name}, name
        seen_in.update({w: name for w in mine if w not in seen_in})
    for cases in (dev_set(), dev2_set(), dev3_set()):
        assert len(cases) == 96 and all(c.prompt not in {p.prompt for p in paraphrase_set()} for c in cases)


def test_eval_prompts_use_the_base_wording_only():
    base = {w for vocab in (captions.BASE_SHAPE_WORDS, captions.BASE_COLOR_WORDS, captions.BASE_MOTION_WORDS)
            for words in vocab.values() for w in words}
    extra_only = {w for vocab in (captions.EXTRA_SHAPE_WORDS, captions.EXTRA_COLOR_WORDS)
                  for words in vocab.values() for w in words} - base
    for case in seen_set() + held_out_set():
        assert not any(re.search(rf"\b{re.escape(w)}\b", case.prompt) for w in extra_only), case.prompt


def test_training_captions_name_every_attribute():
    rng = np.random.default_rng(5)
    for _ in range(200):
        scene = sample_scene(rng, allow_held_out=True)
        text = captions.caption(scene, rng, with_background=True)
        assert any(w in text for w in captions.TRAIN_COLOR_WORDS[scene.color])
        assert any(w in text for w in captions.TRAIN_SHAPE_WORDS[scene.shape])
        assert any(w in text for w in captions.TRAIN_MOTION_WORDS[scene.motion])
        assert any(w in text for w in captions.TRAIN_BACKGROUND_WORDS[scene.background])
        assert "{" not in text


# ---------------------------------------------------------------------------
# Eval prompt sets (openreel.eval.prompts)
# ---------------------------------------------------------------------------

def test_eval_sets_are_fixed_and_well_formed():
    seen, held, para = seen_set(), held_out_set(), paraphrase_set()
    assert (len(seen), len(held), len(para)) == (96, 56, 96)
    assert seen == seen_set() and held == held_out_set() and para == paraphrase_set()
    train = set(training_combos())
    assert all((c.shape, c.color, c.motion) in train for c in seen + para)
    held_combos = [(c.shape, c.color, c.motion) for c in held]
    assert set(held_combos) == HELD_OUT and all(held_combos.count(k) == 2 for k in HELD_OUT)
    for case in seen + held + para:  # every prompt names its background
        words = (captions.TRAIN_BACKGROUND_WORDS[case.background]
                 + captions.PARAPHRASE_BACKGROUND_WORDS[case.background])
        assert any(w in case.prompt for w in words), case
    para_words = {w for words in captions.PARAPHRASE_SHAPE_WORDS.values() for w in words}
    assert all(any(w in c.prompt for w in para_words) for c in para)
    assert not any(any(w in c.prompt for w in para_words) for c in seen + held)
