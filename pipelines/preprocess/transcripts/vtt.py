"""WebVTT `.vtt` subtitles.

The file starts with a `WEBVTT` line (a header block may follow it); `NOTE`, `STYLE` and
`REGION` blocks are skipped; a cue is an optional identifier line, a time line
`[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm` with optional settings after it (`align:start
position:10%`), and its text. See `subtitles` for the damage handled.
"""

from __future__ import annotations

import re

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import Transcript, quote
from pipelines.preprocess.transcripts.subtitles import (ARROW, CueReader, blocks,
                                                        subtitle_transcript)

_VTT_EXPECTED = "expected '[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm [settings]'"
_SIGNATURE = re.compile(r"WEBVTT(?:[ \t].*)?")
_SKIPPED_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")


def parse_vtt(text: str, name: str) -> Transcript:
    """A WebVTT transcript: its cues, words not yet timed."""
    found = blocks(text)
    number, first = found[0][0]
    if number != 1 or _SIGNATURE.fullmatch(first.strip()) is None:
        raise RecordError("unparseable_transcript", (
            f"{name} line {number}: {quote(first)} — a WebVTT file starts with a "
            "'WEBVTT' line; expected 'WEBVTT' as the first line"))
    reader = CueReader(name, _VTT_EXPECTED)
    header = found[0]
    arrows = [k for k, (_, line) in enumerate(header) if ARROW in line]
    if arrows:  # no blank line after the header: its cues start at the first time line
        reader.read_block(header[max(arrows[0] - 1, 1):])
    for block in found[1:]:
        if _SKIPPED_BLOCK.fullmatch(block[0][1].strip()):
            continue
        reader.read_block(block)
    return subtitle_transcript("vtt", reader.cues, name)
