"""One entry point for every transcript format: `parse_transcript(data, name)`.

The file's suffix (any case) picks the format. Word-timed formats must be UTF-8 (a BOM
is dropped); subtitles and TextGrids may also be UTF-16 with a byte-order mark, as
subtitle editors and Praat write them.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Callable

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import (Transcript, decode_utf8,
                                                     decode_utf8_or_utf16, numbered_lines)
from pipelines.preprocess.transcripts.csv_format import parse_csv
from pipelines.preprocess.transcripts.grid import parse_grid
from pipelines.preprocess.transcripts.json_format import parse_json
from pipelines.preprocess.transcripts.lrs import is_lrs_table_header, parse_lrs_rows
from pipelines.preprocess.transcripts.lrw import parse_lrw, txt_field
from pipelines.preprocess.transcripts.sentence import parse_sentence
from pipelines.preprocess.transcripts.srt import parse_srt
from pipelines.preprocess.transcripts.textgrid import parse_textgrid
from pipelines.preprocess.transcripts.vtt import parse_vtt

# In order of preference: when a video has several transcripts (same stem, e.g. an
# `.align` and an `.srt`), the input listing takes the first suffix here, so word times
# that a corpus gives beat word times recovered from subtitle cues.
TRANSCRIPT_SUFFIXES = (".align", ".txt", ".csv", ".json", ".textgrid", ".srt", ".vtt")
# Transcripts larger than this are refused unread (an hour of subtitles is about 100 kB).
MAX_TRANSCRIPT_BYTES = 16 * 1024 * 1024


def _parse_txt(text: str, name: str) -> Transcript:
    """An LRS2/LRS3 transcript with its word table (a `WORD START END` header), an LRW one
    (`Duration:`), or a sentence alone (`Text:` only, aligned to the audio later)."""
    lines = numbered_lines(text)
    for index, (_, line) in enumerate(lines):
        if is_lrs_table_header(line):
            return parse_lrs_rows(lines[index + 1 :], name)
    duration_field = txt_field(lines, "duration", name)
    if duration_field is not None:
        return parse_lrw(lines, duration_field, name)
    text_field = txt_field(lines, "text", name)
    if text_field is not None:
        return parse_sentence(text_field, name)
    raise RecordError(
        "unknown_transcript_format",
        f"{name}: a .txt transcript needs a 'WORD START END' table header (LRS2/LRS3), "
        "a 'Duration: SECONDS seconds' line (LRW) or at least a 'Text: SENTENCE' line; "
        "this file has none of them",
    )


def _parse_srt(text: str, name: str) -> Transcript:
    return parse_srt(text, name, ", ".join(TRANSCRIPT_SUFFIXES))


_Decoder = Callable[[bytes, str], str]
_Parser = Callable[[str, str], Transcript]
_FORMATS: dict[str, tuple[_Decoder, _Parser]] = {
    ".align": (decode_utf8, parse_grid),
    ".txt": (decode_utf8, _parse_txt),
    ".csv": (decode_utf8, parse_csv),
    ".json": (decode_utf8, parse_json),
    ".textgrid": (decode_utf8_or_utf16, parse_textgrid),
    ".srt": (decode_utf8_or_utf16, _parse_srt),
    ".vtt": (decode_utf8_or_utf16, parse_vtt),
}


def _empty_detail(format_name: str, name: str) -> str:
    """Says why a transcript that parsed has no words."""
    if format_name == "grid":
        return f"{name}: no words left after dropping the silence markers 'sil' and 'sp'"
    if format_name == "textgrid":
        return f"{name}: the word tier holds no labelled interval (silences are skipped)"
    return f"{name}: the {format_name} transcript holds no words"


def parse_transcript(data: bytes, name: str,
                     max_bytes: int = MAX_TRANSCRIPT_BYTES) -> Transcript:
    """Parses the raw bytes of a transcript file named `name` (its suffix picks the format).

    Returns the words in file order with times in seconds (see `Transcript.anchor`); a
    subtitle transcript returns its cues instead, words empty (`needs_alignment`).
    Raises RecordError with reason "unknown_transcript_format", "bad_encoding",
    "unparseable_transcript", "empty_transcript" or "transcript_too_large" (more than
    `max_bytes`): whatever goes wrong inside a parser is one transcript's failure, never
    an exception that stops a job.
    """
    if len(data) > max_bytes:
        raise RecordError("transcript_too_large", (
            f"{name}: {len(data):,} bytes or more, over the limit of {max_bytes:,} "
            "(--max_transcript_mb); a transcript is text, and one this large is not one"))
    try:
        return _parsed(data, name)
    except RecordError:
        raise
    except (ArithmeticError, LookupError, ValueError, TypeError, RecursionError,
            MemoryError) as err:  # a parser bug or a file built to break it
        raise RecordError("unparseable_transcript", (
            f"{name}: the transcript could not be read ({type(err).__name__}: "
            f"{str(err)[:200]})")) from err


def _parsed(data: bytes, name: str) -> Transcript:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in _FORMATS:
        raise RecordError(
            "unknown_transcript_format",
            f"{name}: suffix {suffix!r} is not a transcript format; "
            f"accepted suffixes are {', '.join(TRANSCRIPT_SUFFIXES)}",
        )
    decode, parse = _FORMATS[suffix]
    text = decode(data, name)
    if not text.strip():
        raise RecordError("empty_transcript", f"{name}: the file is empty or only whitespace")
    transcript = parse(text, name)
    if transcript.word_count == 0:
        raise RecordError("empty_transcript", _empty_detail(transcript.format, name))
    return transcript
