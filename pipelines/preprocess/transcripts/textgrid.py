"""Praat `.TextGrid` transcripts (text files; the long and the short layout).

The word tier is the interval tier named "words" or "word" (any case), else the first
interval tier. Each interval with a label becomes a word timed by the interval, in
seconds from the start of the file; empty labels and the silence labels `sil`, `sp` and
`<sil>` are skipped.

Both text layouts hold the same values in the same order; the long one adds labels
(`xmin = `, `intervals [1]:`), which the reader skips, so one reader serves both: it
takes the quoted strings, numbers and `<exists>`/`<absent>` flags in order.
"""

from __future__ import annotations

import math
import re
import unicodedata

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import Transcript, WordTiming, quote

TEXTGRID_SILENCE_LABELS = frozenset({"", "sil", "sp", "<sil>"})
WORD_TIER_NAMES = ("words", "word")

_TOKEN = re.compile(
    r'(?P<string>"(?:[^"]|"")*")'
    r'|(?P<unterminated>"(?:[^"]|"")*\Z)'
    r"|(?P<flag><exists>|<absent>)"
    r"|(?P<index>\[[^\]\n]*\])"
    r"|(?P<comment>![^\n]*)"
    r"|(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])"
    r"|(?P<other>[^\s\"\[!]+)")
_EXPECTED = "expected a Praat TextGrid saved as text (long or short layout)"


class _Values:
    """The values of a TextGrid text in order, read one at a time with their line."""

    def __init__(self, text: str, name: str):
        self._name = name
        self._values: list[tuple[int, str, str]] = []
        after_equals = False
        line, counted = 1, 0  # lines are counted as the reading goes: linear in the text
        for match in _TOKEN.finditer(text):
            kind, found = match.lastgroup, match.group()
            line += text.count("\n", counted, match.start())
            counted = match.start()
            if kind == "unterminated":
                raise self._error(line, found[:40], "a string is not closed")
            if kind == "other" and after_equals:
                raise self._error(line, found, "the value after '=' is not a number or string")
            if kind in ("string", "flag", "number"):
                self._values.append((line, kind, found))
            after_equals = kind == "other" and found.endswith("=")
        self._next = 0

    def _error(self, line: int, found: str, problem: str) -> RecordError:
        return RecordError("unparseable_transcript",
                           f"{self._name} line {line}: {quote(found)} — {problem}; {_EXPECTED}")

    def _take(self, kind: str, what: str) -> tuple[int, str]:
        if self._next >= len(self._values):
            last = self._values[-1][0] if self._values else 1
            raise self._error(last, "", f"the file ends where {what} should be")
        line, found_kind, value = self._values[self._next]
        if found_kind != kind:
            raise self._error(line, value, f"found a {found_kind} where {what} should be")
        self._next += 1
        return line, value

    def string(self, what: str) -> str:
        _, value = self._take("string", what)
        return value[1:-1].replace('""', '"')

    def number(self, what: str) -> float:
        line, value = self._take("number", what)
        number = float(value)
        if not math.isfinite(number):
            raise self._error(line, value, f"{what} is not a finite number")
        return number

    def count(self, what: str) -> int:
        """A count of items to come: a whole number no larger than the values left."""
        line, value = self._take("number", what)
        number = float(value)
        if not math.isfinite(number) or number < 0 or number != int(number):
            raise self._error(line, value, f"{what} is not a count")
        if number > len(self._values) - self._next:
            raise self._error(line, value, f"{what} is more than the file holds")
        return int(number)

    def flag(self, what: str) -> str:
        return self._take("flag", what)[1]


def _header(values: _Values, text: str, name: str) -> None:
    if "ooBinaryFile" in text[:40]:
        raise RecordError("unparseable_transcript", (
            f"{name} line 1: a binary TextGrid; {_EXPECTED} (in Praat: Save as text file)"))
    if values.string("the file type \"ooTextFile\"") != "ooTextFile":
        raise RecordError("unparseable_transcript",
                          f"{name} line 1: the file type is not \"ooTextFile\"; {_EXPECTED}")
    if values.string("the object class \"TextGrid\"") != "TextGrid":
        raise RecordError("unparseable_transcript",
                          f"{name} line 2: the object class is not \"TextGrid\"; {_EXPECTED}")


def _read_tiers(values: _Values) -> list[tuple[str, str, list[tuple[float, float, str]]]]:
    """Every tier as (class, name, items): intervals (xmin, xmax, label), points (t, t, mark)."""
    values.number("the grid's xmin")
    values.number("the grid's xmax")
    if values.flag("<exists> or <absent> (tiers)") == "<absent>":
        return []
    tiers = []
    for _ in range(values.count("the number of tiers")):
        tier_class = values.string("a tier class")
        tier_name = values.string("a tier name")
        values.number("the tier's xmin")
        values.number("the tier's xmax")
        items = []
        for _ in range(values.count("the number of intervals or points")):
            if tier_class == "IntervalTier":
                start = values.number("an interval's xmin")
                end = values.number("an interval's xmax")
            else:
                start = end = values.number("a point's time")
            items.append((start, end, values.string("a label")))
        tiers.append((tier_class, tier_name, items))
    return tiers


def _word_tier(tiers: list, name: str) -> list[tuple[float, float, str]]:
    intervals = [tier for tier in tiers if tier[0] == "IntervalTier"]
    if not intervals:
        raise RecordError("empty_transcript", f"{name}: the TextGrid has no interval tier")
    named = [tier for tier in intervals if tier[1].strip().lower() in WORD_TIER_NAMES]
    return (named or intervals)[0][2]


def parse_textgrid(text: str, name: str) -> Transcript:
    """The labelled intervals of a TextGrid's word tier, silences skipped."""
    values = _Values(text, name)
    _header(values, text, name)
    words = []
    for start, end, label in _word_tier(_read_tiers(values), name):
        word = unicodedata.normalize("NFC", " ".join(label.split())).lower()
        if word not in TEXTGRID_SILENCE_LABELS:
            words.append(WordTiming(word, start, end))
    return Transcript("textgrid", tuple(words))
