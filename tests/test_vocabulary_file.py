"""The vocabulary file and the words that reach it: no word can shift the labels."""

import json

import pytest

from pipelines.preprocess.transcripts import parse_transcript
from schemas.vocabulary import vocabulary_text, vocabulary_words


@pytest.mark.parametrize("raw, word", [
    ("NEW\u2028YORK", "new york"),      # a line separator: Python's splitlines breaks there
    ("paris\u0085", "paris"),            # NEXT LINE, another of its line ends
    ("zero\u200bwidth", "zerowidth"),    # a zero-width space: a format character
    ("\ufeffbom", "bom"),                # a byte-order mark inside a field
    ("tab\there", "tab here"),
])
def test_words_are_read_as_text_a_vocabulary_line_can_hold(raw, word):
    as_json = json.dumps([{"word": raw, "start": 0.0, "end": 0.5}]).encode()
    as_csv = f'word,start,end\n"{raw}",0,0.5\n'.encode()
    for data, name in ((as_json, "a.json"), (as_csv, "a.csv")):
        assert parse_transcript(data, name).words[0].word == word


def test_a_vocabulary_splits_only_at_line_feeds():
    # Written before words were cleaned, a word with U+2028 in it is one line of the file.
    text = "the\nnew\u2028york\nparis\x85\n"
    assert vocabulary_words(text, "v.txt") == ["the", "new\u2028york", "paris\x85"]
    assert len(text.splitlines()) == 5  # what the reader did before: every later label moved


def test_vocabulary_text_reads_back_as_itself_and_refuses_line_ends():
    words = ["a", "straße", "new york"]
    assert vocabulary_words(vocabulary_text(words), "v.txt") == words
    with pytest.raises(ValueError, match="line end"):
        vocabulary_text(["a", "b\nc"])
    with pytest.raises(ValueError, match="blank"):
        vocabulary_words("a\n\nb\n", "v.txt")
