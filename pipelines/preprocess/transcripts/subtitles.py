"""What SRT and WebVTT share: blocks of lines, cue time lines, cues and bad cues.

A file is split into blocks at blank lines. A time line (`START --> END [settings]`)
starts a cue; the line just before it in its block is the cue's number (SRT) or
identifier (WebVTT) and is not text; the lines after it, up to the next time line or the
block's end, are its text. Damage that is common in real files is handled:

- a blank line inside a cue's text: a block without a time line continues the cue before
  it (its words are kept, not dropped);
- a missing blank line between two cues: a second time line inside a block starts a new
  cue, and a number line just before it is that cue's number;
- a cue whose end is not after its start: kept as a `BadCue` ("invalid_cue_times") so
  that the alignment stage reports each of its words;
- a cue without words (only sound tags, or empty): skipped, it has no words to account for.

A line that should be a time line but does not parse (it holds "-->", or it follows a cue
number, or it starts like a time) is an "unparseable_transcript" RecordError naming the
line; so is text before the first cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import (BadCue, Cue, LineProblem, Transcript,
                                                     all_lines, blame, quote)
from pipelines.preprocess.transcripts.cue_text import normalise_cue_text

ARROW = "-->"
_TIMESTAMP = re.compile(r"(?:(?P<hours>\d{1,6}):)?(?P<minutes>\d{1,2}):(?P<seconds>\d{1,2})"
                        r"[,.](?P<fraction>\d{1,3})")
_TIME_LINE = re.compile(rf"\s*(?P<start>\S+)\s*{ARROW}\s*(?P<end>\S+)(?:\s+(?P<settings>.*))?")
_LOOKS_LIKE_TIME = re.compile(r"\s*\d+:\d")
_CUE_NUMBER = re.compile(r"\s*\d+\s*")


@dataclass
class _RawCue:
    """A cue as read: its time line's number and text, times, and its text lines."""

    line_number: int
    time_line: str
    start: float
    end: float
    text_lines: list[str] = field(default_factory=list)


def blocks(text: str) -> list[list[tuple[int, str]]]:
    """The runs of non-blank (line number, line) pairs between blank lines."""
    found: list[list[tuple[int, str]]] = [[]]
    for number, line in all_lines(text):
        if line.strip():
            found[-1].append((number, line))
        elif found[-1]:
            found.append([])
    return [block for block in found if block]


def timestamp_seconds(token: str) -> float:
    """Seconds from `[HH:]MM:SS[,.]mmm`; a malformed time is a LineProblem."""
    match = _TIMESTAMP.fullmatch(token)
    if match is None:
        raise LineProblem(f"{quote(token)} is not a time")
    minutes, secs = int(match["minutes"]), int(match["seconds"])
    if minutes >= 60 or secs >= 60:
        raise LineProblem(f"{quote(token)} has minutes or seconds of 60 or more")
    hours = int(match["hours"] or 0)
    return hours * 3600 + minutes * 60 + secs + int(match["fraction"]) / 10 ** len(
        match["fraction"])


def _cue_times(line: str) -> tuple[float, float]:
    match = _TIME_LINE.fullmatch(line)
    if match is None:
        raise LineProblem(f"the time line is not 'START {ARROW} END'")
    return timestamp_seconds(match["start"]), timestamp_seconds(match["end"])


def _is_cue_number(line: str) -> bool:
    return _CUE_NUMBER.fullmatch(line) is not None


class CueReader:
    """Reads the cue blocks of one file into raw cues; `expected` describes a time line."""

    def __init__(self, name: str, expected: str):
        self._name = name
        self._expected = expected
        self.cues: list[_RawCue] = []

    def _broken_time_line(self, number: int, line: str, problem: str) -> RecordError:
        return RecordError("unparseable_transcript",
                           f"{self._name} line {number}: {quote(line)} — {problem}; "
                           f"{self._expected}")

    def _start_cue(self, number: int, line: str) -> None:
        with blame(self._name, f"line {number}", line, self._expected):
            start, end = _cue_times(line)
        self.cues.append(_RawCue(number, line, start, end))

    def _continue_cue(self, lines: list[tuple[int, str]]) -> None:
        """Text without a time line of its own: the previous cue's (a blank line inside)."""
        if not self.cues:
            number, line = lines[0]
            raise self._broken_time_line(number, line,
                                         "text before the first cue's time line")
        self.cues[-1].text_lines.extend(line for _, line in lines)

    def _check_no_time_line(self, block: list[tuple[int, str]]) -> None:
        """A block without "-->" whose first lines look like a cue start has a broken one."""
        (first_number, first), rest = block[0], block[1:]
        for number, line in block[:2]:
            if _LOOKS_LIKE_TIME.match(line):
                raise self._broken_time_line(number, line, f"no '{ARROW}' between the times")
        if rest and _is_cue_number(first):
            number, line = rest[0]
            raise self._broken_time_line(
                number, line, f"the line after cue number {first.strip()} is not a time line")

    def read_block(self, block: list[tuple[int, str]]) -> None:
        """One block: cues start at its time lines; text before the first continues a cue."""
        times = [k for k, (_, line) in enumerate(block) if ARROW in line]
        if not times:
            self._check_no_time_line(block)
            self._continue_cue(block)
            return
        if times[0] > 1:  # text, then a number or identifier, then a time line
            self._continue_cue(block[: times[0] - 1])
        for position, at in enumerate(times):
            self._start_cue(*block[at])
            stop = times[position + 1] if position + 1 < len(times) else len(block)
            text = block[at + 1 : stop]
            if stop < len(block) and text and _is_cue_number(text[-1][1]):
                text = text[:-1]  # the next cue's number, its blank line missing
            self.cues[-1].text_lines.extend(line for _, line in text)


def subtitle_transcript(format_name: str, raw_cues: list[_RawCue], name: str) -> Transcript:
    """Cues with words (and bad cues) as a subtitle Transcript; no cue with words raises
    "empty_transcript"."""
    cues, bad_cues = [], []
    for index, raw in enumerate(raw_cues):
        text = "\n".join(line.strip() for line in raw.text_lines)
        words = normalise_cue_text(text)
        if not words:
            continue
        if raw.end <= raw.start:
            bad_cues.append(BadCue(index, "invalid_cue_times", (
                f"{name} line {raw.line_number}: {quote(raw.time_line)} — cue {index} "
                f"(0-based) ends at {raw.end:.3f} s, not after its start {raw.start:.3f} s; "
                f"its {len(words)} word(s) cannot be aligned"), words))
        else:
            cues.append(Cue(index, raw.start, raw.end, text, words))
    if not cues and not bad_cues:
        raise RecordError("empty_transcript", (
            f"{name}: none of its {len(raw_cues)} cue(s) holds a spoken word (after "
            "removing markup, sound tags and speaker labels)"))
    return Transcript(format_name, (), cues=tuple(cues), bad_cues=tuple(bad_cues))
