"""GRID `.align` transcripts: `START END WORD` lines, integer times in 1/25000 s.

The silence markers `sil` and `sp` are dropped. Lines may end in CRLF.
"""

from __future__ import annotations

import re

from pipelines.preprocess.transcripts.common import (LineProblem, Transcript, WordTiming,
                                                     blame, normalised_word, numbered_lines,
                                                     quote)

GRID_TICKS_PER_SECOND = 25000
GRID_SILENCE_WORDS = frozenset({"sil", "sp"})

_INTEGER = re.compile(r"[+-]?[0-9]+")
_GRID_EXPECTED = "expected 'START END WORD' with integer times in 1/25000 s"


def _grid_seconds(token: str, field: str) -> float:
    """Seconds from a GRID time, an integer count of 1/25000 s ticks."""
    if _INTEGER.fullmatch(token) is None:
        raise LineProblem(f"{field} {quote(token)} is not an integer")
    try:
        return int(token) / GRID_TICKS_PER_SECOND
    except (ValueError, OverflowError):
        raise LineProblem(f"{field} {quote(token)} is too large") from None


def _grid_word(line: str) -> WordTiming:
    """One `START END WORD` line of a GRID `.align` file."""
    fields = line.split()
    if len(fields) != 3:
        raise LineProblem(f"found {len(fields)} fields, not 3")
    start, end, word = fields
    return WordTiming(
        normalised_word(word), _grid_seconds(start, "START"), _grid_seconds(end, "END")
    )


def parse_grid(text: str, name: str) -> Transcript:
    """A GRID `.align` transcript without its silence markers."""
    words = []
    for number, line in numbered_lines(text):
        with blame(name, f"line {number}", line, _GRID_EXPECTED):
            timing = _grid_word(line)
        if timing.word not in GRID_SILENCE_WORDS:
            words.append(timing)
    return Transcript("grid", tuple(words))
