"""Word-level transcripts of every supported corpus, parsed into one shape.

Formats, chosen by the file's suffix:

- GRID `.align`: `START END WORD` lines, integer times in 1/25000 s; the silence
  markers `sil` and `sp` are dropped.
- LRS2/LRS3 `.txt`: a `Text:`/`Conf:`/`Ref:` header, then a `WORD START END [ASDSCORE]`
  table, times in seconds from the start of the video.
- LRW `.txt`: `Text: WORD` and `Duration: D seconds`; the word is centred in its clip,
  so it becomes one timing (-D/2, +D/2) s relative to the centre of the video.
- `.csv`: `word,start,end` rows in seconds, with an optional header naming the columns.
- `.json`: a list of `{"word", "start", "end"}` objects in seconds, or `{"words": [...]}`.

Pure Python (no Beam, no TensorFlow). Problems that belong to one transcript raise
`RecordError` with a reason code and a detail that names the line (or entry) at fault,
so the Beam stage can dead-letter the record. Negative or reversed times are kept as
parsed: a later stage dead-letters such words one by one so the rest survive.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Callable, Iterator

from pipelines.preprocess.errors import RecordError

TRANSCRIPT_SUFFIXES = (".align", ".txt", ".csv", ".json")
TRANSCRIPT_FORMATS = ("grid", "lrs", "lrw", "csv", "json")
TIME_ANCHORS = ("start", "centre")

GRID_TICKS_PER_SECOND = 25000
GRID_SILENCE_WORDS = frozenset({"sil", "sp"})
MAX_QUOTED_CHARS = 120

_UTF8_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CSV_COLUMNS = ("word", "start", "end")

_GRID_EXPECTED = "expected 'START END WORD' with integer times in 1/25000 s"
_LRS_EXPECTED = "expected 'WORD START END [ASDSCORE]' with times in seconds"
_LRW_TEXT_EXPECTED = "expected 'Text: WORD' naming the clip's one word"
_LRW_DURATION_EXPECTED = "expected 'Duration: SECONDS seconds'"
_CSV_EXPECTED = "expected 'word,start,end' with times in seconds"
_JSON_EXPECTED = (
    "expected an object with a string 'word' and numbers 'start' and 'end' in seconds"
)
_JSON_LAYOUT = (
    "a JSON transcript must be a list of {\"word\", \"start\", \"end\"} objects "
    "or an object {\"words\": [...]} holding such a list"
)


@dataclass(frozen=True)
class WordTiming:
    """One spoken word and when it is said.

    `word` is normalised (unicode NFC, stripped, lower-cased); `start` and `end` are in
    seconds, measured as the owning `Transcript.anchor` says.
    """

    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Transcript:
    """The timed words of one video.

    `format` is the source format (one of `TRANSCRIPT_FORMATS`). `anchor` says what the
    times count from: "start" = seconds from the start of the video; "centre" = seconds
    relative to the centre of the video (LRW clips, whose word is centred).
    """

    format: str
    words: tuple[WordTiming, ...]
    anchor: str = "start"

    def __post_init__(self) -> None:
        if self.format not in TRANSCRIPT_FORMATS:
            raise ValueError(
                f"Transcript format {self.format!r} is unknown; use one of {TRANSCRIPT_FORMATS}"
            )
        if self.anchor not in TIME_ANCHORS:
            raise ValueError(
                f"Transcript anchor {self.anchor!r} is unknown; use one of {TIME_ANCHORS}"
            )


class _LineProblem(Exception):
    """What is wrong with one line or entry; `_blame` adds where it is and what fits."""


def parse_transcript(data: bytes, name: str) -> Transcript:
    """Parses the raw bytes of a transcript file named `name` (its suffix picks the format).

    Returns the words in file order with times in seconds (see `Transcript.anchor`).
    Raises RecordError with reason "unknown_transcript_format", "bad_encoding",
    "unparseable_transcript" or "empty_transcript".
    """
    suffix = PurePosixPath(name).suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        raise RecordError(
            "unknown_transcript_format",
            f"{name}: suffix {suffix!r} is not a transcript format; "
            f"accepted suffixes are {', '.join(TRANSCRIPT_SUFFIXES)}",
        )
    text = _decode_utf8(data, name)
    if not text.strip():
        raise RecordError("empty_transcript", f"{name}: the file is empty or only whitespace")
    transcript = parser(text, name)
    if not transcript.words:
        raise RecordError("empty_transcript", _empty_detail(transcript.format, name))
    return transcript


def _empty_detail(format_name: str, name: str) -> str:
    """Says why a transcript that parsed has no words."""
    if format_name == "grid":
        return f"{name}: no words left after dropping the silence markers 'sil' and 'sp'"
    return f"{name}: the {format_name} transcript holds no words"


def _decode_utf8(data: bytes, name: str) -> str:
    """The text of `data`, which must be UTF-8 (a leading BOM is dropped)."""
    raw = bytes(data)
    skipped = len(_UTF8_BOM) if raw.startswith(_UTF8_BOM) else 0
    try:
        return raw[skipped:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skipped + error.start
        raise RecordError(
            "bad_encoding",
            f"{name}: byte {raw[offset]:#04x} at byte offset {offset} is not valid UTF-8; "
            "the transcript must be UTF-8 (re-save it as UTF-8)",
        ) from error


def _quote(text: str) -> str:
    """`text` stripped, cut to MAX_QUOTED_CHARS characters, as a repr for messages."""
    text = text.strip()
    if len(text) > MAX_QUOTED_CHARS:
        text = text[: MAX_QUOTED_CHARS - 3] + "..."
    return repr(text)


@contextlib.contextmanager
def _blame(name: str, where: str, text: str, expected: str) -> Iterator[None]:
    """Turns a `_LineProblem` into an "unparseable_transcript" RecordError at `where`."""
    try:
        yield
    except _LineProblem as problem:
        raise RecordError(
            "unparseable_transcript",
            f"{name} {where}: {_quote(text)} — {problem}; {expected}",
        ) from None


def _numbered_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of `text` with their 1-based line numbers."""
    lines = enumerate(_LINE_BREAK.split(text), start=1)
    return [(number, line) for number, line in lines if line.strip()]


def _normalised_word(raw: str) -> str:
    """`raw` in unicode NFC, stripped and lower-cased; an empty result is a problem."""
    word = unicodedata.normalize("NFC", raw).strip().lower()
    if not word:
        raise _LineProblem("the word is empty")
    return word


def _seconds(token: str, field: str) -> float:
    """A decimal number of seconds; nan, inf and anything else non-decimal is a problem."""
    if _DECIMAL.fullmatch(token.strip()) is None:
        raise _LineProblem(f"{field} {_quote(token)} is not a decimal number")
    seconds = float(token)
    if not math.isfinite(seconds):
        raise _LineProblem(f"{field} {_quote(token)} is not a finite number")
    return seconds


# GRID ---------------------------------------------------------------------------------


def _grid_seconds(token: str, field: str) -> float:
    """Seconds from a GRID time, an integer count of 1/25000 s ticks."""
    if _INTEGER.fullmatch(token) is None:
        raise _LineProblem(f"{field} {_quote(token)} is not an integer")
    try:
        seconds = int(token) / GRID_TICKS_PER_SECOND
    except (ValueError, OverflowError):
        raise _LineProblem(f"{field} {_quote(token)} is too large") from None
    return seconds


def _grid_word(line: str) -> WordTiming:
    """One `START END WORD` line of a GRID `.align` file."""
    fields = line.split()
    if len(fields) != 3:
        raise _LineProblem(f"found {len(fields)} fields, not 3")
    start, end, word = fields
    return WordTiming(
        _normalised_word(word), _grid_seconds(start, "START"), _grid_seconds(end, "END")
    )


def _parse_grid(text: str, name: str) -> Transcript:
    """A GRID `.align` transcript without its silence markers."""
    words = []
    for number, line in _numbered_lines(text):
        with _blame(name, f"line {number}", line, _GRID_EXPECTED):
            timing = _grid_word(line)
        if timing.word not in GRID_SILENCE_WORDS:
            words.append(timing)
    return Transcript("grid", tuple(words))


# LRS2/LRS3 and LRW .txt -----------------------------------------------------------------


def _parse_txt(text: str, name: str) -> Transcript:
    """An LRS2/LRS3 transcript (has a `WORD START END` header) or an LRW one (`Duration:`)."""
    lines = _numbered_lines(text)
    for index, (_, line) in enumerate(lines):
        if _is_lrs_table_header(line):
            return _parse_lrs_rows(lines[index + 1 :], name)
    duration_field = _txt_field(lines, "duration", name)
    if duration_field is not None:
        return _parse_lrw(lines, duration_field, name)
    raise RecordError(
        "unknown_transcript_format",
        f"{name}: a .txt transcript needs a 'WORD START END' table header (LRS2/LRS3) "
        "or a 'Duration: SECONDS seconds' line (LRW); this file has neither",
    )


def _is_lrs_table_header(line: str) -> bool:
    """Whether `line` is the `WORD START END [ASDSCORE]` header of an LRS table."""
    return line.upper().split()[:3] == ["WORD", "START", "END"]


def _asd_score(token: str) -> float:
    """The (unused) active-speaker score column of an LRS row; any float is accepted."""
    try:
        return float(token)
    except ValueError:
        raise _LineProblem(f"ASDSCORE {_quote(token)} is not a number") from None


def _lrs_word(line: str) -> WordTiming:
    """One `WORD START END [ASDSCORE]` row of an LRS2/LRS3 table."""
    fields = line.split()
    if len(fields) not in (3, 4):
        raise _LineProblem(f"found {len(fields)} fields, not 3 or 4")
    if len(fields) == 4:
        _asd_score(fields[3])
    word, start, end = fields[:3]
    return WordTiming(_normalised_word(word), _seconds(start, "START"), _seconds(end, "END"))


def _parse_lrs_rows(rows: list[tuple[int, str]], name: str) -> Transcript:
    """The rows after the table header of an LRS2/LRS3 `.txt`."""
    words = []
    for number, line in rows:
        with _blame(name, f"line {number}", line, _LRS_EXPECTED):
            words.append(_lrs_word(line))
    return Transcript("lrs", tuple(words))


def _txt_field(
    lines: list[tuple[int, str]], key: str, name: str
) -> tuple[int, str, str] | None:
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
            f"{name} line {number}: {_quote(line)} — a second '{key.title()}:' line; "
            f"expected exactly one (the first is on line {found[0][0]})",
        )
    return found[0] if found else None


def _lrw_duration(value: str) -> float:
    """Seconds from the value of an LRW `Duration:` line (`0.53 seconds` or `0.53`)."""
    tokens = value.split()
    has_unit = len(tokens) == 2 and tokens[1].lower() in ("seconds", "second", "s")
    if len(tokens) != 1 and not has_unit:
        raise _LineProblem("the duration is not a number of seconds")
    return _seconds(tokens[0], "duration")


def _lrw_word(value: str) -> str:
    """The one word of an LRW `Text:` line."""
    if len(value.split()) > 1:
        raise _LineProblem("an LRW clip has one word, this line has several")
    return _normalised_word(value)


def _parse_lrw(
    lines: list[tuple[int, str]], duration_field: tuple[int, str, str], name: str
) -> Transcript:
    """An LRW `.txt`: one word centred in its clip, times relative to the clip's centre.

    `duration_field` is the (line number, line, value) of its `Duration:` line.
    """
    text_field = _txt_field(lines, "text", name)
    if text_field is None:
        raise RecordError(
            "unparseable_transcript",
            f"{name}: no 'Text:' line; an LRW transcript names its word as 'Text: WORD'",
        )
    number, line, value = duration_field
    with _blame(name, f"line {number}", line, _LRW_DURATION_EXPECTED):
        half = _lrw_duration(value) / 2
    number, line, value = text_field
    with _blame(name, f"line {number}", line, _LRW_TEXT_EXPECTED):
        word = _lrw_word(value)
    return Transcript("lrw", (WordTiming(word, -half, half),), anchor="centre")


# CSV ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvRow:
    """One non-blank CSV record: its first line number, source text and stripped cells."""

    number: int
    text: str
    cells: tuple[str, ...]


def _csv_rows(text: str, name: str) -> list[_CsvRow]:
    """The non-blank records of a CSV text, with the physical lines they came from."""
    physical_lines = _LINE_BREAK.split(text)
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
            f"{_quote(physical_lines[first_line - 1])} — {error}; {_CSV_EXPECTED}",
        ) from None
    return rows


def _csv_header_columns(row: _CsvRow, name: str) -> tuple[int, int, int] | None:
    """Indices of the word, start, end columns if `row` is a header, else None."""
    names = [cell.lower() for cell in row.cells]
    times = row.cells[1:3]
    if not set(names) & set(_CSV_COLUMNS) or any(_DECIMAL.fullmatch(t) for t in times):
        return None
    unclear = [column for column in _CSV_COLUMNS if names.count(column) != 1]
    if unclear:
        raise RecordError(
            "unparseable_transcript",
            f"{name} line {row.number}: {_quote(row.text)} — the header does not name "
            f"{', '.join(unclear)} exactly once; expected a header naming each of the "
            "columns word, start, end once (extra columns are ignored)",
        )
    return names.index("word"), names.index("start"), names.index("end")


def _csv_word(cells: tuple[str, ...], columns: tuple[int, int, int] | None) -> WordTiming:
    """One CSV record as a word timing; without a header it must be `word,start,end`."""
    if columns is None and len(cells) < 3:
        raise _LineProblem(f"found {len(cells)} columns, not 3")
    if columns is None and len(cells) > 3:
        raise _LineProblem(
            f"found {len(cells)} columns, not 3 (to keep extra columns, add a header "
            "row naming the word, start and end columns)"
        )
    word_at, start_at, end_at = columns or (0, 1, 2)
    if len(cells) <= max(word_at, start_at, end_at):
        raise _LineProblem(f"found {len(cells)} columns, fewer than the header names")
    return WordTiming(
        _normalised_word(cells[word_at]),
        _seconds(cells[start_at], "start"),
        _seconds(cells[end_at], "end"),
    )


def _parse_csv(text: str, name: str) -> Transcript:
    """A `.csv` transcript with an optional header row."""
    rows = _csv_rows(text, name)
    columns = _csv_header_columns(rows[0], name) if rows else None
    words = []
    for row in rows[1:] if columns else rows:
        with _blame(name, f"line {row.number}", row.text, _CSV_EXPECTED):
            words.append(_csv_word(row.cells, columns))
    return Transcript("csv", tuple(words))


# JSON ---------------------------------------------------------------------------------


def _json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    kinds = {dict: "an object", list: "a list", str: "a string"}
    return kinds.get(type(value), "a number")


def _load_json(text: str, name: str) -> Any:
    """The decoded JSON document, or an "unparseable_transcript" RecordError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problem = f"at line {error.lineno} column {error.colno}: {error.msg}"
    except (ValueError, RecursionError) as error:
        problem = f"({str(error) or type(error).__name__})"
    raise RecordError("unparseable_transcript", f"{name}: invalid JSON {problem}; {_JSON_LAYOUT}")


def _json_entries(document: Any, name: str) -> list[Any]:
    """The list of word entries of a decoded JSON transcript."""
    if isinstance(document, dict) and isinstance(document.get("words"), list):
        return document["words"]
    if isinstance(document, list):
        return document
    found = "an object without a 'words' list" if isinstance(document, dict) else None
    raise RecordError(
        "unparseable_transcript",
        f"{name}: the top-level JSON value is {found or _json_kind(document)}; {_JSON_LAYOUT}",
    )


def _json_seconds(value: Any, key: str) -> float:
    """A JSON number of seconds; strings, booleans, nan and infinities are problems."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _LineProblem(f"{key!r} is {_json_kind(value)}, not a number of seconds")
    try:
        seconds = float(value)
    except OverflowError:
        raise _LineProblem(f"{key!r} is too large") from None
    if not math.isfinite(seconds):
        raise _LineProblem(f"{key!r} is not a finite number")
    return seconds


def _json_word(entry: Any) -> WordTiming:
    """One `{"word", "start", "end"}` entry of a JSON transcript."""
    if not isinstance(entry, dict):
        raise _LineProblem(f"the entry is {_json_kind(entry)}, not an object")
    missing = [key for key in _CSV_COLUMNS if key not in entry]
    if missing:
        raise _LineProblem(f"missing key(s) {', '.join(missing)}")
    if not isinstance(entry["word"], str):
        raise _LineProblem(f"'word' is {_json_kind(entry['word'])}, not a string")
    return WordTiming(
        _normalised_word(entry["word"]),
        _json_seconds(entry["start"], "start"),
        _json_seconds(entry["end"], "end"),
    )


def _parse_json(text: str, name: str) -> Transcript:
    """A `.json` transcript: a list of word objects, or `{"words": [...]}`."""
    words = []
    for index, entry in enumerate(_json_entries(_load_json(text, name), name)):
        source = json.dumps(entry, ensure_ascii=False)
        with _blame(name, f"entry {index} (0-based)", source, _JSON_EXPECTED):
            words.append(_json_word(entry))
    return Transcript("json", tuple(words))


_PARSERS: dict[str, Callable[[str, str], Transcript]] = {
    ".align": _parse_grid,
    ".txt": _parse_txt,
    ".csv": _parse_csv,
    ".json": _parse_json,
}
