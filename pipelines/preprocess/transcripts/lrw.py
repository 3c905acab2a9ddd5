"""LRW `.txt` transcripts: `Text: WORD` and `Duration: D seconds`.

The word is centred in its clip, so it becomes one timing (-D/2, +D/2) s relative to the
centre of the video (`Transcript.anchor` "centre").
"""

from __future__ import annotations

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import (LineProblem, Transcript, WordTiming,
                                                     blame, normalised_word, quote, seconds)

_LRW_TEXT_EXPECTED = "expected 'Text: WORD' naming the clip's one word"
_LRW_DURATION_EXPECTED = "expected 'Duration: SECONDS seconds'"


def txt_field(lines: list[tuple[int, str]], key: str, name: str) -> tuple[int, str, str] | None:
    """The one `Key: value` line for `key` (case-insensitive) as (number, line, value)."""
    found = []
    for number, line in lines:
        label, colon, value = line.partition(":")
        if colon and label.strip().lower() == key:
            found.append((number, line, value.strip()))
    if len(found) > 1:
        number, line, _ = found[1]
        raise RecordError(
            "unparseable_transcript",
            f"{name} line {number}: {quote(line)} — a second '{key.title()}:' line; "
            f"expected exactly one (the first is on line {found[0][0]})",
        )
    return found[0] if found else None


def _lrw_duration(value: str) -> float:
    """Seconds from the value of an LRW `Duration:` line (`0.53 seconds` or `0.53`)."""
    tokens = value.split()
    has_unit = len(tokens) == 2 and tokens[1].lower() in ("seconds", "second", "s")
    if len(tokens) != 1 and not has_unit:
        raise LineProblem("the duration is not a number of seconds")
    return seconds(tokens[0], "duration")


def _lrw_word(value: str) -> str:
    """The one word of an LRW `Text:` line."""
    if len(value.split()) > 1:
        raise LineProblem("an LRW clip has one word, this line has several")
    return normalised_word(value)


def parse_lrw(lines: list[tuple[int, str]], duration_field: tuple[int, str, str],
              name: str) -> Transcript:
    """An LRW `.txt`: one word centred in its clip, times relative to the clip's centre.

    `lines` are the file's non-blank (number, line) pairs; `duration_field` is the
    (line number, line, value) of its `Duration:` line.
    """
    text_field = txt_field(lines, "text", name)
    if text_field is None:
        raise RecordError(
            "unparseable_transcript",
            f"{name}: no 'Text:' line; an LRW transcript names its word as 'Text: WORD'",
        )
    number, line, value = duration_field
    with blame(name, f"line {number}", line, _LRW_DURATION_EXPECTED):
        half = _lrw_duration(value) / 2
    number, line, value = text_field
    with blame(name, f"line {number}", line, _LRW_TEXT_EXPECTED):
        word = _lrw_word(value)
    return Transcript("lrw", (WordTiming(word, -half, half),), anchor="centre")
