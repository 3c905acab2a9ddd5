"""Sentence-only `.txt` transcripts: a `Text:` line and no word table.

LRS2's main split (`Text:` and `Conf:` lines), LRS3 clips without their table and clips
cut with only the sentence give what is said, not when. The sentence becomes one cue that
spans the whole clip (from 0 s to `CLIP_END`), and its words are timed by forced alignment
to the clip's audio exactly as a subtitle cue's are (align_subtitles.py), with the same
per-word confidence and dead letters. Its text is read as cue text (cue_text.py).
"""

from __future__ import annotations

import math

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import Cue, Transcript
from pipelines.preprocess.transcripts.cue_text import normalise_cue_text

# The end of a cue that lasts to the end of its clip, whatever the clip's length.
CLIP_END = math.inf


def parse_sentence(text_field: tuple[int, str, str], name: str) -> Transcript:
    """The `Text:` line (number, line, value) of a `.txt` without a word table, as one cue
    spanning the clip; raises RecordError "empty_transcript" when it holds no word."""
    number, _, value = text_field
    words = normalise_cue_text(value)
    if not words:
        raise RecordError("empty_transcript",
                          f"{name} line {number}: the 'Text:' line holds no spoken word")
    return Transcript("sentence", (), cues=(Cue(0, 0.0, CLIP_END, value, words),))
