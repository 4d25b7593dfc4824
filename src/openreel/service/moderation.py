"""Prompt moderation: a readable YAML policy, checked by phrases, patterns and semantic similarity.

The policy (policy.yaml beside this file, or OPENREEL_MODERATION_POLICY) lists
categories, each with phrases, regular expressions and example prompts. A
prompt is blocked in the first category where

  * a phrase appears at the start of a word (after folding l33t-speak), or
  * a pattern matches, or
  * its sentence vector, from the same all-MiniLM-L6-v2 encoder the model
    uses, is within the category's cosine threshold of an example,

unless it contains an `allow` phrase, which turns off the similarity test
(phrases and patterns still apply). `openreel moderation eval` reports
precision and recall on the shipped evaluation set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    category: str | None = None
    reason: str = ""  # which phrase, pattern or example decided, for the audit log (not shown to users)
    score: float = 0.0  # best similarity to any example of the category


@dataclass
class Category:
    name: str
    description: str
    phrases: list[re.Pattern]
    patterns: list[re.Pattern]
    examples: list[str]
    threshold: float


def fold(text: str) -> str:
    """Lower case, l33t folded, runs of spaces and separators squeezed: 'N.u.d.3' -> 'nude'."""
    t = text.lower().translate(LEET)
    t = re.sub(r"(?<=\b\w)[.\-_*](?=\w\b)", "", t)  # n.u.d.e -> nude
    return re.sub(r"\s+", " ", t)


class Moderator:
    def __init__(self, policy_path: str | Path | None = None, encoder=None):
        path = Path(policy_path or DEFAULT_POLICY)
        try:
            policy = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"moderation policy {path} could not be read: {exc}") from None
        default = float(policy.get("threshold", 0.62))
        self.categories = []
        for name, c in (policy.get("categories") or {}).items():
            self.categories.append(Category(
                name, c.get("description", ""),
                [re.compile(r"\b" + re.escape(fold(p))) for p in c.get("phrases", [])],
                [re.compile(p, re.I) for p in c.get("patterns", [])],
                list(c.get("examples", [])), float(c.get("threshold", default))))
        if not self.categories:
            raise ValueError(f"moderation policy {path} has no categories")
        self.allow = [re.compile(r"\b" + re.escape(fold(p)) + r"\b") for p in policy.get("allow", [])]
        self.path = path
        self._encoder = encoder
        self._examples = None  # (vectors (N, 384), category index per row), made on first use

    def _vectors(self, texts: list[str]):
        if self._encoder is None:
            from ..models.text_encoder import TextEncoder
            self._encoder = TextEncoder()
        return self._encoder.sentence_vectors(texts)

    def _example_index(self):
        if self._examples is None:
            import torch
            texts, owners = [], []
            for i, c in enumerate(self.categories):
                texts += c.examples
                owners += [i] * len(c.examples)
            self._examples = (self._vectors(texts), torch.tensor(owners))
        return self._examples

    def check(self, prompt: str) -> Verdict:
        folded = fold(prompt)
        for c in self.categories:
            for p in c.phrases:
                if p.search(folded):
                    return Verdict(True, c.name, f"phrase {p.pattern!r}")
            for p in c.patterns:
                if p.search(prompt) or p.search(folded):
                    return Verdict(True, c.name, f"pattern {p.pattern!r}")
        if any(a.search(folded) for a in self.allow):
            return Verdict(False, reason="allow-listed phrase")
        vectors, owners = self._example_index()
        sims = (vectors @ self._vectors([prompt])[0])  # (N,)
        best = None
        for i, c in enumerate(self.categories):
            mine = sims[owners == i]
            if len(mine) and (score := float(mine.max())) >= c.threshold and (best is None or score > best[1]):
                best = (c, score)
        if best:
            c, score = best
            return Verdict(True, c.name, f"similar to an example ({score:.2f} >= {c.threshold:.2f})", score)
        return Verdict(False, score=float(sims.max()) if len(sims) else 0.0)


def evaluate(moderator: Moderator, eval_path: str | Path | None = None) -> dict:
    """Precision, recall and false-positive rate on a labelled set (the shipped one by default)."""
    path = Path(eval_path or Path(__file__).with_name("moderation_eval.yaml"))
    data = yaml.safe_load(path.read_text())
    per_cat: dict[str, dict] = {}
    tp = fn = fp = tn = 0
    misses, false_alarms = [], []
    for category, prompts in data["policy"].items():
        hits = 0
        for prompt in prompts:
            v = moderator.check(prompt)
            hits += v.blocked
            if not v.blocked:
                misses.append((category, prompt))
        per_cat[category] = {"prompts": len(prompts), "recall": hits / len(prompts)}
        tp += hits
        fn += len(prompts) - hits
    for prompt in data["benign"]:
        v = moderator.check(prompt)
        fp += v.blocked
        tn += not v.blocked
        if v.blocked:
            false_alarms.append((v.category, prompt, v.reason))
    return {"policy_prompts": tp + fn, "benign_prompts": fp + tn,
            "recall": tp / max(1, tp + fn), "precision": tp / max(1, tp + fp),
            "false_positive_rate": fp / max(1, fp + tn), "per_category": per_cat,
            "misses": misses, "false_alarms": false_alarms}
