"""The prompt reader: finds the shape, colour, motion and background in a prompt worded in ways
the diffusion transformer never read, and writes it back as a caption it knows.

Why: the transformer learned its words from the training captions. It follows their wording
(92% on seen combinations) and new sentence shapes, but a word it never saw ("sphere",
"descending") reaches it as MiniLM token states it has no meaning for. Sora rewrites short
prompts into the captions its model was trained on; we do the same with what we have.

Two steps, both over the frozen all-MiniLM-L6-v2 encoder the model conditions on:

  1. Where: a small tagger (a bidirectional GRU over MiniLM's contextual word states) marks each
     word as shape, colour, motion, background or other. It is trained on tagged sentences
     (world/captions.tagged_sentence) whose slots are often filled with random words, so it learns
     the sentence's structure rather than a word list.
  2. What: each marked phrase goes to the nearest training phrase of its kind by MiniLM sentence
     similarity (an exact training phrase wins outright), swayed by what WordNet says its rare
     words are (models/wordnet.py): MiniLM barely knows "umber" or "trigon", WordNet knows
     "umber" is a brown and "trigon" a triangle.

A prompt made only of training words is passed through untouched: the model reads those itself.
PromptRewriter.explain says what a rewrite left out: the words it could not place in the model's
world ("a dog running on the beach" -> "dog", "running", "beach"), and the attributes it guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..world import captions
from .wordnet import WordNet

WIDTH = 384  # MiniLM-L6 hidden size
# How far WordNet's votes (a distribution over the values, summing to 1) move MiniLM's cosine
# similarities: at 1 a clear WordNet reading outweighs any similarity gap. Dev reading (96
# prompts) was the same for 0.5 to 3, and 1 point lower at 0.2.
WORDNET_WEIGHT = 1.0
WORDNET_SENSES = 3  # a word's commonest senses per part of speech (at 10, dev reading fell 79% -> 71%)
WORDNET_GLOSS = 0.5  # a value word in a definition counts half as much as one among the synonyms
# Words in training phrases that say nothing about which value they belong to.
FUNCTION_WORDS = {"a", "an", "the", "of", "to", "in", "on", "at", "and", "or", "not", "is", "out", "put",
                  "place", "form", "shape", "object", "rest", "moving"}
# On a screen, as on a map, north is up and east is right: WordNet defines "eastward" as
# "toward the east", and without this a compass heading read as the nearest phrase by
# similarity ("moving eastward" -> up, 9 of the 11 motion misreadings on the dev prompts).
COMPASS = {"north": "up", "south": "down", "east": "right", "west": "left"}
# Without a marked backdrop, a run of words at least this likely to be one is read as the backdrop
# (PromptRewriter._read says why a low bar is safe). Dev prompts read right (dev / dev2 / dev3),
# reader of sentence version 3: no fallback 86% / 15% / 13%, floor 0.3: 86 / 17 / 14, 0.1: 89 / 18 / 14,
# 0.05 and 0.01: 90 / 18 / 14.
BACKGROUND_FLOOR = 0.05
ATTRIBUTES = ("shape", "color", "motion", "background")
# Words that say nothing a video of the model's world could show, for PromptRewriter.explain:
# articles, pronouns, prepositions, conjunctions, auxiliaries, and the words that ask for a video
# or frame a backdrop. Not directions ("up", "left"): those are motions.
STOP_WORDS = frozenset("""
    a an the this that these those some any each every another one such
    i me my you your it its it's itself he him his she her they them their we us our there here
    what which who whom whose where when while how
    of to in on at by for from with without into onto over under above below behind beside near
    against across through toward towards along around within upon about as than
    and or but nor so then if because
    is are was were be been being am do does did has have had will would can could should may might
    must shall let stay stays remain remains become becomes becoming seem seems appear appears keep keeps
    video clip animation animated animate footage gif loop scene shot camera render show showing shows
    generate create make produce please imagine picture see watch look featuring just very
    background backdrop surroundings environment setting canvas screen thing
""".split())
# The parts of speech that can say an attribute, for explain's WordNet test: a noun says no motion.
EXPLAIN_POS = {"motion": ("verb", "adj", "adv"), "shape": ("noun", "adj")}


@dataclass
class ReaderConfig:
    width: int = WIDTH
    hidden: int = 96  # per direction

    def to_dict(self) -> dict:
        return asdict(self)


class PromptReader(nn.Module):
    """Word states (B, L, width) -> tag logits (B, L, len(READER_TAGS))."""

    def __init__(self, cfg: ReaderConfig = ReaderConfig()):
        super().__init__()
        self.cfg = cfg
        self.rnn = nn.GRU(cfg.width, cfg.hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * cfg.hidden, len(captions.READER_TAGS))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(states)  # (B, L, 2 * hidden)
        return self.out(h)  # (B, L, tags)


@torch.no_grad()
def word_states(encoder, sentences: list[list[str]]) -> torch.Tensor:
    """MiniLM's contextual states per word (B, L, 384), each the mean of its word pieces; zero past
    a sentence's end. `encoder` is a models.text_encoder.TextEncoder."""
    tok = encoder.tokenizer(sentences, is_split_into_words=True, padding=True, truncation=True,
                            max_length=64, return_tensors="pt")
    h = encoder.bert(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).last_hidden_state
    out = torch.zeros(len(sentences), max(len(s) for s in sentences), h.shape[-1])
    for b in range(len(sentences)):
        ids = torch.tensor([-1 if w is None else w for w in tok.word_ids(b)])
        keep = ids >= 0
        out[b].index_add_(0, ids[keep], h[b, keep])
        counts = torch.bincount(ids[keep], minlength=out.shape[1]).clamp(min=1)
        out[b] /= counts[:, None]
    return out


class Reading(NamedTuple):
    shape: str
    color: str
    motion: str
    background: str | None  # None: the prompt names none
    phrases: dict  # tag -> the words read for it


def telling_words(table: dict[str, list[str]]) -> dict[str, set[str]]:
    """value -> the words that point to it alone: its name, and the last word of each of its
    training phrases ("cherry red" -> "red", "rising"), unless another value has it too."""
    words = {v: {v} | {captions.split_words(p)[-1] for p in ps} for v, ps in table.items()}
    seen: dict[str, int] = {}
    for ws in words.values():
        for w in ws:
            seen[w] = seen.get(w, 0) + 1
    return {v: {w for w in ws if (w == v or (seen[w] == 1 and w not in table)) and w not in FUNCTION_WORDS}
            for v, ws in words.items()}


@dataclass(frozen=True)
class Explanation:
    """PromptRewriter.explain's answer: what the model draws for a prompt, and what it left out."""
    revised: str  # the caption drawn: revise(prompt)
    unplaced: tuple[str, ...]  # the prompt's content words no attribute placed, in prompt order
    guessed: dict  # attribute -> True when no word of the prompt told its value

    @property
    def message(self) -> str:
        """One sentence for the user, or "" when everything was placed."""
        if self.unplaced:
            words = ", ".join(f'"{w}"' for w in self.unplaced)
            return f'could not place {words}; drawing "{self.revised}" instead'
        guesses = [tag for tag in ATTRIBUTES if self.guessed.get(tag)]
        if guesses:
            named = ", ".join(guesses[:-1]) + " or " * (len(guesses) > 1) + guesses[-1]
            return f'no word says the {named}; drawing "{self.revised}", a guess'
        return ""


def only_value(table: dict[str, list[str]]) -> dict[str, str]:
    """word -> the value whose training phrases alone use it; function words and words of two
    values' phrases are left out."""
    values: dict[str, set[str]] = {}
    for value, phrases in table.items():
        for p in phrases:
            for w in captions.split_words(p):
                values.setdefault(w, set()).add(value)
    return {w: next(iter(vs)) for w, vs in values.items() if len(vs) == 1 and w not in FUNCTION_WORDS}


class PartsOfSpeech:
    """A view of a WordNet that knows only some parts of speech, in the words asked about and in
    where their senses lead (the verb "beach" leads to the noun, "sloping down to the water")."""

    def __init__(self, wordnet: WordNet, pos: tuple[str, ...]):
        self.wordnet, self.pos = wordnet, pos

    def synset(self, pos: str, offset: int):
        syn = self.wordnet.synset(pos, offset)
        return syn._replace(pointers=tuple(p for p in syn.pointers if p[1] in self.pos))

    def senses(self, word: str):
        return [(rank, self.synset(pos, offset), pos, offset) for rank, _, pos, offset in self.wordnet.senses(word)
                if pos in self.pos]

    neighbourhood = WordNet.neighbourhood


class PromptRewriter:
    """Reads prompts with a trained PromptReader and rewrites the ones in unfamiliar wording."""

    def __init__(self, reader: PromptReader, encoder, wordnet: WordNet | None = None):
        self.reader = reader.eval()
        self.encoder = encoder  # models.text_encoder.TextEncoder
        self.wordnet = wordnet  # None: MiniLM similarity alone
        self.known_words = captions.training_words()
        # Every training phrase of each kind, and its sentence vector, for the "what" step.
        tables = {"shape": captions.TRAIN_SHAPE_WORDS, "color": captions.TRAIN_COLOR_WORDS,
                  "motion": captions.TRAIN_MOTION_WORDS, "background": captions.TRAIN_BACKGROUND_WORDS}
        self.phrases = {tag: [(value, p) for value, ps in table.items() for p in ps] for tag, table in tables.items()}
        self.by_phrase = {tag: {p: value for value, p in pairs} for tag, pairs in self.phrases.items()}
        # word -> the one value it tells (telling_words gives each word to one value at most)
        self.told_by = {tag: {w: v for v, ws in telling_words(table).items() for w in ws}
                        for tag, table in tables.items()}
        self.told_by["motion"].update({w: v for w, v in COMPASS.items() if v in tables["motion"]})
        # word -> the value whose training phrases alone use it ("round" -> circle, "dark" -> none)
        self.hinted_by = {tag: only_value(table) for tag, table in tables.items()}
        self._vectors: dict[str, torch.Tensor] = {}
        # Every mode and draw asks again for the same prompt, and the evaluator asks what was read.
        self.read = lru_cache(maxsize=4096)(self._read)

    def vectors(self, tag: str) -> torch.Tensor:
        if tag not in self._vectors:  # lazily: a pipeline that only sees training wording never pays for it
            self._vectors[tag] = self.encoder.sentence_vectors([p for _, p in self.phrases[tag]])
        return self._vectors[tag]

    def familiar(self, prompt: str) -> bool:
        return all(w in self.known_words for w in captions.split_words(prompt))

    @torch.no_grad()
    def _read(self, prompt: str) -> Reading:
        words = captions.split_words(prompt)[:64]
        if not words:
            raise ValueError("prompt is empty")
        probs = self.reader(word_states(self.encoder, [words])).softmax(-1)[0]  # (L, tags)
        found, values = {}, {}
        for t, tag in enumerate(captions.READER_TAGS[1:], start=1):
            span = best_span(probs, t)
            # A missed backdrop costs a wrong background, while one read where the prompt names none
            # costs nothing (any background then fits it): so without a marked backdrop, take the
            # run of words around the likeliest one, if that one is at least BACKGROUND_FLOOR likely.
            if span is None and tag == "background":
                span = likely_span(probs, t, BACKGROUND_FLOOR)
            if span is None:
                continue
            i, j = span
            found[tag] = " ".join(words[i:j]).replace(" - ", "-")
            values[tag] = self.nearest(tag, found[tag])
        # Shape, colour and motion are always there: without a marked phrase, take the likeliest word.
        for t, tag in enumerate(captions.READER_TAGS[1:4], start=1):
            if tag not in values:
                k = int(probs[:, t].argmax())
                found[tag] = words[k]
                values[tag] = self.nearest(tag, words[k])
        return Reading(values["shape"], values["color"], values["motion"], values.get("background"), found)

    def nearest(self, tag: str, phrase: str) -> str:
        """The value of the training phrase nearest to `phrase`. A colour may carry a leading word
        that is not one ("lone cornflower blue"): every ending of it is tried, an exact training
        phrase wins, else the most similar."""
        words = phrase.split()
        options = [" ".join(words[i:]) for i in range(len(words))] if tag in ("color", "background") else [phrase]
        exact = [o for o in options if o in self.by_phrase[tag]]
        if exact:
            return self.by_phrase[tag][max(exact, key=len)]
        sims = (self.encoder.sentence_vectors(options) @ self.vectors(tag).T).max(0).values  # (phrases,)
        score = {}
        for (value, _), sim in zip(self.phrases[tag], sims.tolist()):
            score[value] = max(score.get(value, -1.0), sim)
        votes = self.wordnet_votes(tag, phrase)
        for value, vote in votes.items():
            score[value] += WORDNET_WEIGHT * vote
        return max(score, key=score.get)

    def wordnet_votes(self, tag: str, phrase: str, wordnet=None) -> dict[str, float]:
        """What WordNet says the phrase's unfamiliar words are, as votes over the tag's values
        summing to 1 (empty if it says nothing). A word votes for a value when the value's telling
        words (or a whole training phrase of it) are among the synonyms of the word's commonest
        senses or of what those are a kind of, or (at half weight) in their definitions; nearer
        and commoner senses weigh more. Each word's votes are normalised first, so a word with
        many senses doesn't outvote one with few. `wordnet`: another view of it (explain's
        PartsOfSpeech); the reader's own by default."""
        wordnet = wordnet or self.wordnet
        if wordnet is None:
            return {}
        words = [w for w in phrase.split() if w not in self.known_words and (w.isalpha() or "-" in w)]
        if not words:
            return {}  # training words only: MiniLM reads those
        # A hyphenated word WordNet doesn't list ("aqua-colored") is read by its parts.
        words += [p for w in words if "-" in w and not wordnet.senses(w) for p in w.split("-")
                  if p and p not in self.known_words]
        # A training word that tells a value votes for it outright, so "expanding quickly" stays
        # growing whatever WordNet makes of "quickly" ("with little or no delay").
        told_by, by_phrase = self.told_by[tag], self.by_phrase[tag]
        total: dict[str, float] = {}
        for word in phrase.split():
            if word in self.known_words and word in told_by:
                total[told_by[word]] = total.get(told_by[word], 0.0) + 1.0
        for word in words:
            mine: dict[str, float] = {}
            for rank, dist, syn in wordnet.neighbourhood(word, depth=2):
                if rank >= WORDNET_SENSES:
                    continue
                weight = 0.5 ** dist / (1 + rank)
                names = {l for l in syn.lemmas if " " not in l} | {l.replace("-", " ") for l in syn.lemmas}
                named = {told_by.get(n) for n in names} | {by_phrase.get(n) for n in names}
                gloss = set(captions.split_words(syn.gloss.split(";")[0])) if dist <= 1 else set()
                defined = {told_by.get(w) for w in gloss} - named
                for value in named - {None}:
                    mine[value] = mine.get(value, 0.0) + weight
                for value in defined - {None}:
                    mine[value] = mine.get(value, 0.0) + WORDNET_GLOSS * weight
            z = sum(mine.values())
            for value, vote in mine.items():
                total[value] = total.get(value, 0.0) + vote / z
        z = sum(total.values())
        return {value: vote / z for value, vote in total.items()} if z else {}

    def revise(self, prompt: str) -> str:
        """The prompt the transformer should read: unchanged if it is all training words, else the
        plainest training caption of what it says."""
        if self.familiar(prompt):
            return prompt
        r = self.read(prompt)
        return captions.canonical_prompt(r.shape, r.color, r.motion, r.background)

    def explain(self, prompt: str) -> Explanation:
        """What revise(prompt) draws, and what of the prompt it leaves out: the content words no
        attribute placed, and the attributes no word told. An attribute is placed when a word of
        the phrase read for it tells its value (a training word of that value alone, a telling
        word, or WordNet's reading of a word new to the model); its phrase's words are then placed,
        but for a word telling another value ("red" in a phrase read as blue). A phrase read by
        similarity alone ("dog" -> circle) is a guess, and its words stay unplaced. A prompt in
        training wording is read by the model itself: nothing unplaced or guessed. Works from the
        cached reading: no model call beyond revise's."""
        revised = self.revise(prompt)
        if self.familiar(prompt):
            return Explanation(revised, (), {tag: False for tag in ATTRIBUTES})
        r = self.read(prompt)
        placed, guessed = set(), {}
        for tag in ATTRIBUTES:
            value = getattr(r, tag)
            words = r.phrases[tag].split() if value is not None else []
            guessed[tag] = value is not None and not self.tells(tag, value, words)
            if value is not None and not guessed[tag]:
                for w in words:
                    if self.told_by[tag].get(w, value) == value:
                        placed |= {w, *w.split("-")}  # "aqua-colored" was "aqua", "-", "colored"
        telling = set().union(*self.told_by.values(), *self.hinted_by.values())
        unplaced = []
        for w in captions.split_words(prompt):
            if (w in placed or w in unplaced or w in STOP_WORDS or not any(c.isalpha() for c in w)
                    or (w in self.known_words and w not in telling)):  # training words that say nothing
                continue
            unplaced.append(w)
        return Explanation(revised, tuple(unplaced), guessed)

    def tells(self, tag: str, value: str, words: list[str]) -> bool:
        """Whether any of `words` (a phrase read as `value`) says that value: a training phrase of it
        ("at rest"), a training word of it alone, or a new word WordNet reads as it (in a part of
        speech that can say it: "beach" is no motion, though its definition slopes "down")."""
        by_phrase = self.by_phrase[tag]
        if any(by_phrase.get(" ".join(words[i:j])) == value for i in range(len(words))
               for j in range(i + 1, len(words) + 1)):
            return True
        for word in words:
            for w in {word, *word.split("-")} - {""}:
                if value in (self.told_by[tag].get(w), self.hinted_by[tag].get(w)):
                    return True
            if word not in self.known_words and self.wordnet is not None:
                pos = EXPLAIN_POS.get(tag)
                votes = self.wordnet_votes(tag, word, PartsOfSpeech(self.wordnet, pos) if pos else None)
                if votes and max(votes, key=votes.get) == value:
                    return True
        return False


def best_span(probs: torch.Tensor, t: int) -> tuple[int, int] | None:
    """The run of consecutive words whose likeliest tag is t with the highest mean probability of
    t, as (start, end); None if no word's likeliest tag is t."""
    tagged = probs.argmax(-1) == t
    runs, i, n = [], 0, len(tagged)
    while i < n:
        if tagged[i]:
            j = i
            while j < n and tagged[j]:
                j += 1
            runs.append((float(probs[i:j, t].mean()), i, j))
            i = j
        else:
            i += 1
    return max(runs)[1:] if runs else None


def likely_span(probs: torch.Tensor, t: int, floor: float) -> tuple[int, int] | None:
    """The run of consecutive words at least `floor` likely to be tag t around the likeliest
    one, as (start, end); None if no word is."""
    p = probs[:, t]
    k = int(p.argmax())
    if float(p[k]) < floor:
        return None
    i, j = k, k + 1
    while i > 0 and float(p[i - 1]) >= floor:
        i -= 1
    while j < len(p) and float(p[j]) >= floor:
        j += 1
    return i, j


def reader_loss(reader: PromptReader, states: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per word; tags (B, L) is -100 past a sentence's end."""
    logits = reader(states)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1), ignore_index=-100)
