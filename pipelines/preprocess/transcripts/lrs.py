"""LRS2/LRS3 `.txt` transcripts: a `Text:`/`Conf:`/`Ref:` header, then a table.

The table is `WORD START END [ASDSCORE]`, times in seconds from the start of the video;
the optional fourth column, the active-speaker score, is kept as `WordTiming.asd_score`.
"""

from __future__ import annotations

from pipelines.preprocess.transcripts.common import (LineProblem, Transcript, WordTiming,
                                                     blame, normalised_word, quote, seconds)

_LRS_EXPECTED = "expected 'WORD START END [ASDSCORE]' with times in seconds"


def is_lrs_table_header(line: str) -> bool:
    """Whether `line` is the `WORD START END [ASDSCORE]` header of an LRS table."""
    return line.upper().split()[:3] == ["WORD", "START", "END"]


def _asd_score(token: str) -> float:
    """The active-speaker score column of an LRS row; any float is accepted."""
    try:
        return float(token)
    except ValueError:
        raise LineProblem(f"ASDSCORE {quote(token)} is not a number") from None


def _lrs_word(line: str) -> WordTiming:
    """One `WORD START END [ASDSCORE]` row of an LRS2/LRS3 table."""
    fields = line.split()
    if len(fields) not in (3, 4):
        raise LineProblem(f"found {len(fields)} fields, not 3 or 4")
    asd_score = _asd_score(fields[3]) if len(fields) == 4 else None
    word, start, end = fields[:3]
    return WordTiming(normalised_word(word), seconds(start, "START"), seconds(end, "END"),
                      asd_score=asd_score)


def parse_lrs_rows(rows: list[tuple[int, str]], name: str) -> Transcript:
    """The (line number, line) rows after the table header of an LRS2/LRS3 `.txt`."""
    words = []
    for number, line in rows:
        with blame(name, f"line {number}", line, _LRS_EXPECTED):
            words.append(_lrs_word(line))
    return Transcript("lrs", tuple(words))
