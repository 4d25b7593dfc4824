"""The prompt reader: where a prompt names each attribute, and what it means."""

import numpy as np
import pytest
import torch

from openreel.eval.prompts import dev2_set, dev3_set, dev_set, held_out_set, paraphrase_set, seen_set
from openreel.models.prompt_reader import (ATTRIBUTES, Explanation, PromptReader, ReaderConfig, best_span,
                                           likely_span, reader_loss, word_states)
from openreel.world import captions


@pytest.fixture(scope="module")
def pipe():
    from openreel.backends.builtin import VideoPipeline
    return VideoPipeline.from_pretrained()


def test_best_span_takes_the_most_confident_run_of_a_tag():
    # words: 0 other, 1-2 tag 1 (mean 0.8), 3 other, 4 tag 1 (0.95): the single surer word wins
    p = torch.tensor([[.9, .1], [.2, .8], [.2, .8], [.9, .1], [.05, .95]])
    assert best_span(p, 1) == (4, 5)
    assert best_span(p[:3], 1) == (1, 3)
    assert best_span(p[[0, 3]], 1) is None


def test_likely_span_grows_around_the_likeliest_word_above_the_floor():
    p = torch.tensor([[.9, .1], [.7, .3], [.4, .6], [.95, .05], [.8, .2]])
    assert likely_span(p, 1, 0.25) == (1, 3)  # 0.6 is likeliest; 0.3 beside it also clears the floor
    assert likely_span(p, 1, 0.5) == (2, 3)
    assert likely_span(p, 1, 0.7) is None


def test_an_unmarked_backdrop_is_still_read(pipe, monkeypatch):
    # A backdrop the tagger marks only weakly (a rare word first, in a sentence shape it never
    # saw) is read from its likeliest words: one read where none was meant costs nothing, one
    # missed costs the background. (_read: uncached.)
    prompt = "raven canvas, featuring a alabaster spot rolling eastbound"  # dev2 wording
    r = pipe.rewriter._read(prompt)
    assert (r.background, r.phrases["background"]) == ("black", "raven")
    monkeypatch.setattr("openreel.models.prompt_reader.BACKGROUND_FLOOR", 1.1)
    assert pipe.rewriter._read(prompt).background is None


def test_word_states_are_one_per_word_with_padding_zeroed():
    from openreel.models.text_encoder import TextEncoder
    enc = TextEncoder()
    states = word_states(enc, [["a", "turquoise-ish", "ball"], ["hi"]])
    assert states.shape == (2, 3, 384)
    assert torch.all(states[1, 1:] == 0) and states[1, 0].abs().sum() > 0
    # A word split into pieces is their mean, so it stays one row: the tagger tags words.
    assert states[0, 1].abs().sum() > 0


def test_reader_loss_ignores_padding_and_falls_when_trained():
    torch.manual_seed(0)
    reader = PromptReader(ReaderConfig(width=8, hidden=4))
    x = torch.randn(4, 6, 8)
    y = torch.randint(0, len(captions.READER_TAGS), (4, 6))
    y[:, 4:] = -100
    before = reader_loss(reader, x, y).item()
    opt = torch.optim.Adam(reader.parameters(), 1e-2)
    for _ in range(200):
        loss = reader_loss(reader, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * before
    x2 = x.clone()
    x2[:, 4:] = 100.0  # what lies past a sentence's end changes nothing... for the masked loss terms
    assert torch.isfinite(reader_loss(reader, x2, y))


def test_training_wording_is_passed_through_untouched(pipe):
    for case in seen_set()[:24] + held_out_set()[:24]:
        assert pipe.rewriter.familiar(case.prompt), case.prompt
        assert pipe.revise_prompt(case.prompt) == case.prompt


def test_the_shipped_reader_reads_training_captions(pipe):
    # Read (not passed through): every attribute of the seen and held-out prompts comes back.
    for case in seen_set()[:32] + held_out_set()[:16]:
        r = pipe.rewriter.read(case.prompt)
        assert (r.shape, r.color, r.motion, r.background) == (case.shape, case.color, case.motion, case.background), \
            (case.prompt, r)


@pytest.mark.parametrize("prompt, want", [
    # Training attribute words in sentence shapes and filler words the model never read.
    ("film rolling: an orange box sinking, navy everywhere around it", ("square", "orange", "down", "navy")),
    ("imagine this, a green triangle that stays motionless", ("triangle", "green", "static", None)),
    ("over brown, the white ball is expanding quickly", ("circle", "white", "growing", "brown")),
])
def test_the_shipped_reader_rewrites_unfamiliar_wording(pipe, prompt, want):
    assert not pipe.rewriter.familiar(prompt)
    shape, color, motion, bg = want
    assert pipe.revise_prompt(prompt) == captions.canonical_prompt(shape, color, motion, bg)


def test_a_rewritten_prompt_makes_the_video_of_its_revision(pipe):
    prompt = "film rolling: an orange box sinking, navy everywhere around it"
    video = pipe(prompt, seed=3, steps=2)
    assert video.params["revised_prompt"] == captions.canonical_prompt("square", "orange", "down", "navy")
    same = pipe(video.params["revised_prompt"], seed=3, steps=2)
    assert "revised_prompt" not in same.params
    assert np.array_equal(video.frames, same.frames)
    pipe.rewrite_prompts = False
    try:
        raw = pipe(prompt, seed=3, steps=2)
    finally:
        pipe.rewrite_prompts = True
    assert "revised_prompt" not in raw.params and not np.array_equal(raw.frames, video.frames)


def test_explain_names_the_words_the_model_cannot_draw(pipe):
    rw = pipe.rewriter
    prompt = "a dog running on the beach at sunset"
    e = rw.explain(prompt)
    assert e.revised == rw.revise(prompt)
    assert {"dog", "beach", "sunset"} <= set(e.unplaced)
    # Only content words: no article, preposition or training word that says nothing.
    assert not {"a", "on", "the", "at"} & set(e.unplaced)
    # "dog" tells no shape: the circle is a guess (the tagger also took it for the colour).
    assert e.guessed["shape"] and e.guessed["color"]
    for word in ("dog", "beach", "sunset"):
        assert f'"{word}"' in e.message
    assert f'drawing "{e.revised}"' in e.message


def test_explain_has_nothing_to_say_about_training_wording(pipe):
    for prompt in ["a red circle moving right on a navy background"] + [c.prompt for c in seen_set()[:8]]:
        e = pipe.rewriter.explain(prompt)
        assert (e.revised, e.unplaced, e.message) == (prompt, (), ""), prompt
        assert e.guessed == {tag: False for tag in ATTRIBUTES}


def test_explain_places_a_paraphrase_it_reads(pipe):
    # WordNet reads "crimson" as red and "ball" is a training word: every attribute is told.
    prompt = "a crimson ball drifting to the left against a black backdrop"
    e = pipe.rewriter.explain(prompt)
    assert e.revised == captions.canonical_prompt("circle", "red", "left", "black")
    assert not {"crimson", "ball", "left", "black"} & set(e.unplaced)
    assert e.guessed == {tag: False for tag in ATTRIBUTES}
    assert e.message == ""


def test_explain_reports_what_a_second_object_loses(pipe):
    # One shape per video: the words of the second object are reported, telling words included.
    e = pipe.rewriter.explain("two red squares and a blue triangle spinning")
    assert {"two", "triangle", "spinning"} <= set(e.unplaced)


def test_explain_revises_as_revise_does_and_reads_no_further(pipe, monkeypatch):
    rw = pipe.rewriter
    prompts = ["a dog running on the beach at sunset", "a cat", "an astronaut riding a horse on mars",
               "show me a big shiny sphere descending slowly over a dark sky",
               "a video of an umber trigon heading eastward"]
    prompts += [c.prompt for sets in (paraphrase_set, dev_set, dev2_set, dev3_set, held_out_set)
                for c in sets()[:2]]
    revised = [rw.revise(p) for p in prompts]
    # explain works from the cached reading: no MiniLM call of its own.
    monkeypatch.setattr(rw.encoder, "bert", None)
    for prompt, want in zip(prompts, revised):
        e = rw.explain(prompt)
        assert e.revised == want, prompt
        assert set(e.guessed) == set(ATTRIBUTES)
        assert bool(e.message) == bool(e.unplaced or any(e.guessed.values()))


def test_explanation_message():
    none = {tag: False for tag in ATTRIBUTES}
    assert Explanation("a red circle", (), none).message == ""
    assert Explanation("a red circle", ("dog", "beach"), none).message == \
        'could not place "dog", "beach"; drawing "a red circle" instead'
    guessed = {**none, "color": True, "motion": True}
    assert Explanation("a red circle growing", (), guessed).message == \
        'no word says the color or motion; drawing "a red circle growing", a guess'


def test_tagged_sentences_are_deterministic_and_tag_every_word():
    vocab = ["alpha", "bravo", "charlie", "delta"]
    a = [captions.tagged_sentence(np.random.default_rng(5), vocab) for _ in range(3)]
    b = [captions.tagged_sentence(np.random.default_rng(5), vocab) for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(1)
    for _ in range(200):
        words, tags = captions.tagged_sentence(rng, vocab)
        assert len(words) == len(tags)
        present = {captions.READER_TAGS[t] for t in tags}
        assert {"color", "shape", "motion"} <= present


def test_reader_sentences_use_no_paraphrase_or_dev_wording():
    # The fixed words of the reader's sentences, and the random fillers, stay clear of both
    # evaluation wordings, so the paraphrase and dev figures stay measures of unseen wording.
    fixed = set()
    for table in (captions.READER_OPENERS, captions.READER_DETERMINERS, captions.READER_MODIFIERS,
                  captions.READER_LINKS, captions.READER_BACKGROUND_AFTER, captions.READER_BACKGROUND_BEFORE,
                  captions.READER_RANDOM_MOTIONS, captions.READER_OBJECT_FORMS, captions.READER_MOTION_FORMS,
                  captions.READER_ADVERBS, captions.READER_TAILS):
        for text in table:
            fixed |= set(captions.split_words(captions.without_slots(text)))
    dev = captions.dev_words()
    assert {"obsidian", "tomato", "roundel", "canvas"} <= dev  # every dev wording, words and sentence shapes
    # Words the training captions use anyway, one preposition, and punctuation marks.
    allowed = captions.training_words() | {"with"} | {w for w in fixed if not w[0].isalnum()}
    assert not {w for w in fixed if w.startswith(captions.PARAPHRASE_STEMS)}
    assert not (fixed & dev) - allowed, sorted((fixed & dev) - allowed)
    vocab = captions.reader_vocabulary(["crimson", "sphere", "marigold", "idle", "kettle", "a1", "ox", "tomato",
                                        "roundel"])
    assert vocab == ["kettle"]


def test_reader_training_is_deterministic_from_its_seed(tmp_path):
    from openreel.models.text_encoder import TextEncoder
    from openreel.train import TrainConfig, train_reader
    enc = TextEncoder()
    small = dict(reader_steps=30, reader_batch=8, reader_sentences=48, log_every=5)
    a = train_reader(TrainConfig(out=str(tmp_path / "a"), **small), enc, show=False)
    b = train_reader(TrainConfig(out=str(tmp_path / "b"), **small), enc, show=False)
    c = train_reader(TrainConfig(out=str(tmp_path / "c"), seed=1, **small), enc, show=False)
    flat = [torch.cat([p.flatten() for p in m.state_dict().values()]) for m in (a, b, c)]
    assert torch.equal(flat[0], flat[1]) and not torch.equal(flat[0], flat[2])
    losses = [__import__("json").loads(line)["loss"] for line in (tmp_path / "a" / "reader.log.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]
