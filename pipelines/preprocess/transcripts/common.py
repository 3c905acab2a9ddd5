"""What every transcript format parses into, and the code the format parsers share.

A word-timed transcript (GRID, LRS, LRW, CSV, JSON, TextGrid) is a list of `WordTiming`.
A subtitle transcript (SRT, WebVTT) is a list of `Cue`: sentence times and text, no word
times; its `words` stay empty until the align-subtitles stage fills them by forced
alignment. Cues whose times cannot be used are kept as `BadCue` so that their words are
reported (as dead letters) instead of vanishing.

Word numbering. Every word a transcript holds has one index: for word-timed formats its
position in `words`; for subtitles, cue words are numbered in cue order (bad cues
included), so an aligned word keeps the index it had before alignment
(`WordTiming.word_index`) and `Transcript.word_index(position)` gives it back.

Pure Python (no Beam, no TensorFlow).
"""

from __future__ import annotations

import codecs
import contextlib
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator

from pipelines.preprocess.errors import RecordError

WORD_TIMED_FORMATS = ("grid", "lrs", "lrw", "csv", "json", "textgrid")
# Formats whose words are timed by forced alignment of their cues: subtitles, and a
# sentence given without word times (one cue spanning the clip).
SUBTITLE_FORMATS = ("srt", "vtt", "sentence")
TRANSCRIPT_FORMATS = WORD_TIMED_FORMATS + SUBTITLE_FORMATS
TIME_ANCHORS = ("start", "centre")

MAX_QUOTED_CHARS = 120
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # control, format, surrogate, unassigned

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class WordTiming:
    """One spoken word and when it is said.

    `word` is normalised (unicode NFC, stripped, lower-cased); `start` and `end` are in
    seconds, measured as the owning `Transcript.anchor` says. `confidence` in [0, 1] is
    the forced-alignment confidence of a word aligned from a subtitle cue; `asd_score`
    the active-speaker score of an LRS2/LRS3 row; `cue_index` the `Cue.index` a word
    was aligned from (-1: not from a cue); `word_index` its index in the transcript's
    word numbering (-1: its position in `Transcript.words`).
    """

    word: str
    start: float
    end: float
    confidence: float | None = None
    asd_score: float | None = None
    cue_index: int = -1
    word_index: int = -1


@dataclass(frozen=True)
class Cue:
    """One subtitle cue: times in seconds from the start of the video, its text as written
    (lines joined by "\\n", markup kept) and its words normalised for alignment."""

    index: int
    start: float
    end: float
    text: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class BadCue:
    """A cue whose words cannot be aligned, kept so that each of its words is reported.

    `index` is the cue's position among the file's cues (as `Cue.index`), `reason` a
    machine-readable code such as "invalid_cue_times", `detail` names the cue and line.
    """

    index: int
    reason: str
    detail: str
    words: tuple[str, ...]

    @property
    def n_words(self) -> int:
        return len(self.words)


@dataclass(frozen=True)
class Transcript:
    """The timed words of one video.

    `format` is the source format (one of `TRANSCRIPT_FORMATS`). `anchor` says what the
    times count from: "start" = seconds from the start of the video; "centre" = seconds
    relative to the centre of the video (LRW clips, whose word is centred). A subtitle
    transcript ("srt", "vtt") holds `cues` (and `bad_cues`) and no `words` until aligned.
    """

    format: str
    words: tuple[WordTiming, ...]
    anchor: str = "start"
    cues: tuple[Cue, ...] = ()
    bad_cues: tuple[BadCue, ...] = ()

    def __post_init__(self) -> None:
        if self.format not in TRANSCRIPT_FORMATS:
            raise ValueError(
                f"Transcript format {self.format!r} is unknown; use one of {TRANSCRIPT_FORMATS}"
            )
        if self.anchor not in TIME_ANCHORS:
            raise ValueError(
                f"Transcript anchor {self.anchor!r} is unknown; use one of {TIME_ANCHORS}"
            )
        subtitles = self.format in SUBTITLE_FORMATS
        if subtitles and not (self.cues or self.bad_cues):
            raise ValueError(
                f"Transcript format {self.format!r} is a subtitle format: give it the cues "
                "(or bad cues) its words come from"
            )
        if not subtitles and (self.cues or self.bad_cues):
            raise ValueError(
                f"Transcript format {self.format!r} is word-timed and has no cues; only "
                f"{SUBTITLE_FORMATS} transcripts hold cues"
            )
        if subtitles and self.anchor != "start":
            raise ValueError(f"subtitle cue times count from the start, not {self.anchor!r}")

    @property
    def is_subtitles(self) -> bool:
        return self.format in SUBTITLE_FORMATS

    @property
    def needs_alignment(self) -> bool:
        """Whether the words still have to be aligned from the cues (subtitles, not yet)."""
        return self.is_subtitles and not self.words

    @property
    def word_count(self) -> int:
        """Words the transcript accounts for: every cue word for subtitles, else `words`."""
        if self.is_subtitles:
            return sum(len(cue.words) for cue in self.cues) + sum(
                bad.n_words for bad in self.bad_cues)
        return len(self.words)

    def cue_word_offsets(self) -> dict[int, int]:
        """Cue index (good or bad cue) -> the index of its first word, in cue order."""
        sizes = sorted([(cue.index, len(cue.words)) for cue in self.cues]
                       + [(bad.index, bad.n_words) for bad in self.bad_cues])
        offsets, next_index = {}, 0
        for cue_index, size in sizes:
            offsets[cue_index] = next_index
            next_index += size
        return offsets

    def word_index(self, position: int) -> int:
        """The index in the transcript's word numbering of `words[position]`."""
        index = self.words[position].word_index
        return position if index < 0 else index


class LineProblem(Exception):
    """What is wrong with one line or entry; `blame` adds where it is and what fits."""


def quote(text: str) -> str:
    """`text` stripped, cut to MAX_QUOTED_CHARS characters, as a repr for messages."""
    text = text.strip()
    if len(text) > MAX_QUOTED_CHARS:
        text = text[: MAX_QUOTED_CHARS - 3] + "..."
    return repr(text)


@contextlib.contextmanager
def blame(name: str, where: str, text: str, expected: str) -> Iterator[None]:
    """Turns a `LineProblem` into an "unparseable_transcript" RecordError at `where`."""
    try:
        yield
    except LineProblem as problem:
        raise RecordError(
            "unparseable_transcript",
            f"{name} {where}: {quote(text)} — {problem}; {expected}",
        ) from None


def decode_utf8(data: bytes, name: str) -> str:
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


def decode_utf8_or_utf16(data: bytes, name: str) -> str:
    """The text of `data`: UTF-8 (with or without BOM), or UTF-16 announced by its BOM.

    Subtitle editors and Praat write UTF-16 with a byte-order mark; without the mark
    the bytes must be UTF-8.
    """
    raw = bytes(data)
    if not raw.startswith(_UTF16_BOMS):
        return decode_utf8(raw, name)
    try:
        return raw.decode("utf-16")  # the BOM picks the byte order and is dropped
    except UnicodeDecodeError as error:
        raise RecordError(
            "bad_encoding",
            f"{name}: bytes at offset {error.start} are not valid UTF-16 although the file "
            "starts with a UTF-16 byte-order mark; re-save it as UTF-8",
        ) from error


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of `text` with their 1-based line numbers."""
    return [(number, line) for number, line in all_lines(text) if line.strip()]


def all_lines(text: str) -> list[tuple[int, str]]:
    """Every line of `text` (blank ones included) with its 1-based line number."""
    return list(enumerate(_LINE_BREAK.split(text), start=1))


def normalised_word(raw: str) -> str:
    """`raw` in unicode NFC, lower-cased, with every run of white space (line and paragraph
    separators such as U+2028 and U+0085 included) one space, ends stripped, and control and
    format characters (zero-width spaces, byte-order marks) removed: a word is text a
    vocabulary file can hold one a line. An empty result is a problem."""
    text = unicodedata.normalize("NFC", raw)
    kept = "".join(c for c in text if c.isspace() or unicodedata.category(c) not in _INVISIBLE)
    word = " ".join(kept.split()).lower()
    if not word:
        raise LineProblem("the word is empty")
    return word


def seconds(token: str, field: str) -> float:
    """A decimal number of seconds; nan, inf and anything else non-decimal is a problem."""
    if _DECIMAL.fullmatch(token.strip()) is None:
        raise LineProblem(f"{field} {quote(token)} is not a decimal number")
    value = float(token)
    if not math.isfinite(value):
        raise LineProblem(f"{field} {quote(token)} is not a finite number")
    return value


def is_decimal(token: str) -> bool:
    return _DECIMAL.fullmatch(token) is not None
