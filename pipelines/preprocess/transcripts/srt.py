"""SubRip `.srt` subtitles: numbered cues with `HH:MM:SS,mmm --> HH:MM:SS,mmm` time lines.

Times may also use "." before the milliseconds and may omit the hours; anything after the
end time (SRT position coordinates) is ignored. A `.srt` file with no "-->" anywhere is
not SubRip at all ("unknown_transcript_format"). See `subtitles` for the damage handled.
"""

from __future__ import annotations

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import Transcript
from pipelines.preprocess.transcripts.subtitles import (ARROW, CueReader, blocks,
                                                        subtitle_transcript)

_SRT_EXPECTED = "expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm'"


def parse_srt(text: str, name: str, accepted: str) -> Transcript:
    """A SubRip transcript: its cues, words not yet timed. `accepted` lists the suffixes
    (for the message when the file is not SubRip)."""
    found = blocks(text)
    if not any(ARROW in line for block in found for _, line in block):
        raise RecordError("unknown_transcript_format", (
            f"{name}: no '{ARROW}' time line anywhere, so this is not a SubRip file; "
            f"accepted suffixes are {accepted}"))
    reader = CueReader(name, _SRT_EXPECTED)
    for block in found:
        reader.read_block(block)
    return subtitle_transcript("srt", reader.cues, name)
