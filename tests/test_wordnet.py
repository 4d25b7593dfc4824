"""WordNet as the prompt reader's dictionary: the database reader, and the votes it casts.

Words here come from the dev wording (captions.DEV_*) or plain English outside the paraphrase
wording (captions.PARAPHRASE_STEMS), never the paraphrase set's."""

import pytest

from openreel.models.prompt_reader import PromptRewriter, telling_words
from openreel.models.wordnet import WordNet, line_from
from openreel.world import captions


@pytest.fixture(scope="module")
def wn():
    return WordNet()


def test_lookup_agrees_with_a_full_read_of_the_index(wn):
    # The binary search over the index's bytes against a plain parse of every line
    for pos in ("noun", "adj"):
        lines = [l.split() for l in open(wn.root / f"index.{pos}", encoding="utf-8") if not l.startswith(" ")]
        for parts in lines[:5] + lines[::997] + lines[-5:]:
            count, pointers = int(parts[2]), int(parts[3])
            assert wn.offsets(parts[0], pos) == [int(o) for o in parts[6 + pointers:6 + pointers + count]]
        assert wn.offsets("zzzz-not-a-word", pos) == [] and wn.offsets("qqqq", pos) == []


def test_a_damaged_database_says_so(tmp_path, wn):
    offset = wn.offsets("circle", "noun")[0]
    assert "circle" in wn.synset("noun", offset).lemmas
    # A copy whose data file lost its synsets: the lookup names the file, not a garbled synset.
    (tmp_path / "index.noun").write_bytes((wn.root / "index.noun").read_bytes())
    (tmp_path / "data.noun").write_bytes((wn.root / "data.noun").read_bytes()[:2000])
    with pytest.raises(LookupError, match="data.noun .* no synset at offset"):
        WordNet(tmp_path).synset("noun", offset)


def test_line_from_finds_whole_lines():
    data = b"ab\ncd\r\nef"
    assert line_from(data, 0) == b"ab" and line_from(data, 1) == b"cd\r" and line_from(data, 3) == b"cd\r"
    assert line_from(data, 4) == b"ef" and line_from(data, 8) is None


def test_synonyms_kinds_and_inflections(wn):
    assert "triangle" in wn.senses("trigon")[0][1].lemmas  # a synonym
    assert wn.base_forms("magnifying", "verb") == ["magnify"]  # a regular inflection
    assert wn.base_forms("geese", "noun") == ["goose"]  # an irregular one, from noun.exc
    kinds = {l for rank, dist, s in wn.neighbourhood("umber") if dist == 1 for l in s.lemmas}
    assert "brown" in kinds  # its second sense as a noun is a kind of brown
    # From a hypernym on, "similar to" is not followed: it would reach every colour from "chromatic"
    far = {l for _, dist, s in wn.neighbourhood("mauve") if dist == 2 for l in s.lemmas}
    assert not far & {"red", "green", "yellow"}


def test_telling_words_point_to_one_value_each():
    telling = telling_words(captions.TRAIN_COLOR_WORDS)
    assert "red" in telling["red"] and "scarlet" in telling["red"]
    assert "blue" in telling["blue"] and "blue" not in telling["cyan"]  # "sky blue" is cyan, but blue is blue's
    assert not telling["red"] & telling["orange"]
    motion = telling_words(captions.TRAIN_MOTION_WORDS)
    assert "moving" not in motion["static"]  # "not moving" ends in a word every direction uses


class _NoEncoder:
    pass


def test_wordnet_votes_for_rare_dev_words(wn):
    from openreel.models.prompt_reader import PromptReader
    rewriter = PromptRewriter(PromptReader(), _NoEncoder(), wn)
    def top(tag, phrase):
        votes = rewriter.wordnet_votes(tag, phrase)
        return max(votes, key=votes.get) if votes else None
    assert top("background", "umber") == "brown"
    assert top("background", "onyx") == "black"
    assert top("shape", "trigon") == "triangle"
    assert top("color", "mauve") == "purple"
    assert top("motion", "floating skyward") == "up"
    assert top("motion", "magnifying") == "growing"
    assert top("motion", "compressing inward") == "shrinking"
    assert rewriter.wordnet_votes("color", "red") == {}  # training words are MiniLM's to read
    assert top("shape", "brick") == "square"  # "rectangular block of clay ...": a definition
    assert rewriter.wordnet_votes("color", "marigold") == pytest.approx({"orange": 0.5, "yellow": 0.5})
    assert rewriter.wordnet_votes("shape", "four-sided shape") == {}  # "having four sides": nothing to go on
    assert PromptRewriter(PromptReader(), _NoEncoder()).wordnet_votes("background", "umber") == {}


def test_compass_headings_vote_for_screen_directions(wn):
    from openreel.models.prompt_reader import PromptReader
    rewriter = PromptRewriter(PromptReader(), _NoEncoder(), wn)
    def top(phrase):
        votes = rewriter.wordnet_votes("motion", phrase)
        return max(votes, key=votes.get) if votes else None
    # North is up and east is right, as on a map; WordNet defines each heading by its point.
    assert top("moving eastward") == "right"
    assert top("moving westward") == "left"
    assert top("going northward") == "up"
    assert top("going southward") == "down"
