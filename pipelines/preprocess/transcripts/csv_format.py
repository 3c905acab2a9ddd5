"""`.csv` transcripts: `word,start,end` rows in seconds, with an optional header row.

A header names the columns (in any order, case-insensitive; extra columns are ignored).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import (LineProblem, Transcript, WordTiming,
                                                     all_lines, blame, is_decimal,
                                                     normalised_word, quote, seconds)

WORD_COLUMNS = ("word", "start", "end")
_CSV_EXPECTED = "expected 'word,start,end' with times in seconds"


@dataclass(frozen=True)
class _CsvRow:
    """One non-blank CSV record: its first line number, source text and stripped cells."""

    number: int
    text: str
    cells: tuple[str, ...]


def _csv_rows(text: str, name: str) -> list[_CsvRow]:
    """The non-blank records of a CSV text, with the physical lines they came from."""
    physical_lines = [line for _, line in all_lines(text)]
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    first_line = 1
    try:
        for cells in reader:
            source = "\n".join(physical_lines[first_line - 1 : reader.line_num])
            stripped = tuple(cell.strip() for cell in cells)
            if any(stripped):
                rows.append(_CsvRow(first_line, source, stripped))
            first_line = reader.line_num + 1
    except csv.Error as error:
        raise RecordError(
            "unparseable_transcript",
            f"{name} line {first_line}: "
            f"{quote(physical_lines[first_line - 1])} — {error}; {_CSV_EXPECTED}",
        ) from None
    return rows


def _csv_header_columns(row: _CsvRow, name: str) -> tuple[int, int, int] | None:
    """Indices of the word, start, end columns if `row` is a header, else None."""
    names = [cell.lower() for cell in row.cells]
    times = row.cells[1:3]
    if not set(names) & set(WORD_COLUMNS) or any(is_decimal(t) for t in times):
        return None
    unclear = [column for column in WORD_COLUMNS if names.count(column) != 1]
    if unclear:
        raise RecordError(
            "unparseable_transcript",
            f"{name} line {row.number}: {quote(row.text)} — the header does not name "
            f"{', '.join(unclear)} exactly once; expected a header naming each of the "
            "columns word, start, end once (extra columns are ignored)",
        )
    return names.index("word"), names.index("start"), names.index("end")


def _csv_word(cells: tuple[str, ...], columns: tuple[int, int, int] | None) -> WordTiming:
    """One CSV record as a word timing; without a header it must be `word,start,end`."""
    if columns is None and len(cells) < 3:
        raise LineProblem(f"found {len(cells)} columns, not 3")
    if columns is None and len(cells) > 3:
        raise LineProblem(
            f"found {len(cells)} columns, not 3 (to keep extra columns, add a header "
            "row naming the word, start and end columns)"
        )
    word_at, start_at, end_at = columns or (0, 1, 2)
    if len(cells) <= max(word_at, start_at, end_at):
        raise LineProblem(f"found {len(cells)} columns, fewer than the header names")
    return WordTiming(
        normalised_word(cells[word_at]),
        seconds(cells[start_at], "start"),
        seconds(cells[end_at], "end"),
    )


def parse_csv(text: str, name: str) -> Transcript:
    """A `.csv` transcript with an optional header row."""
    rows = _csv_rows(text, name)
    columns = _csv_header_columns(rows[0], name) if rows else None
    words = []
    for row in rows[1:] if columns else rows:
        with blame(name, f"line {row.number}", row.text, _CSV_EXPECTED):
            words.append(_csv_word(row.cells, columns))
    return Transcript("csv", tuple(words))
