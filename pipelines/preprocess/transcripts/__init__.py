"""Word-level transcripts of every supported corpus, parsed into one shape.

Formats, chosen by the file's suffix (any case), one module each:

- GRID `.align` (grid.py): `START END WORD` lines, integer times in 1/25000 s; the silence
  markers `sil` and `sp` are dropped.
- LRS2/LRS3 `.txt` (lrs.py): a `Text:`/`Conf:`/`Ref:` header, then a
  `WORD START END [ASDSCORE]` table, times in seconds from the start of the video; the
  active-speaker score is kept.
- LRW `.txt` (lrw.py): `Text: WORD` and `Duration: D seconds`; the word is centred in its
  clip, so it becomes one timing (-D/2, +D/2) s relative to the centre of the video.
- `.csv` (csv_format.py): `word,start,end` rows in seconds, optional header naming columns.
- `.json` (json_format.py): a list of `{"word", "start", "end"}` objects in seconds, or
  `{"words": [...]}`.
- Praat `.TextGrid` (textgrid.py): the word tier's labelled intervals.
- SubRip `.srt` (srt.py) and WebVTT `.vtt` (vtt.py): subtitle cues, sentence times only;
  their words are timed later by forced alignment (the align-subtitles stage). Cue text
  is normalised by cue_text.py.

When one video has several transcripts, the input listing takes the first suffix in
`TRANSCRIPT_SUFFIXES`: word-timed formats before subtitles.

Pure Python (no Beam, no TensorFlow). Problems that belong to one transcript raise
`RecordError` with a reason code and a detail that names the line (or entry) at fault,
so the Beam stage can dead-letter the record. Negative or reversed word times are kept
as parsed: a later stage dead-letters such words one by one so the rest survive; a
subtitle cue with reversed times is kept as a bad cue for the same reason.
"""

from pipelines.preprocess.transcripts.common import (MAX_QUOTED_CHARS, SUBTITLE_FORMATS,
                                                     TIME_ANCHORS, TRANSCRIPT_FORMATS,
                                                     WORD_TIMED_FORMATS, BadCue, Cue,
                                                     Transcript, WordTiming)
from pipelines.preprocess.transcripts.cue_text import normalise_cue_text
from pipelines.preprocess.transcripts.grid import GRID_SILENCE_WORDS, GRID_TICKS_PER_SECOND
from pipelines.preprocess.transcripts.parse import (MAX_TRANSCRIPT_BYTES, TRANSCRIPT_SUFFIXES,
                                                    parse_transcript)
from pipelines.preprocess.transcripts.textgrid import TEXTGRID_SILENCE_LABELS

__all__ = [
    "BadCue", "Cue", "GRID_SILENCE_WORDS", "GRID_TICKS_PER_SECOND", "MAX_QUOTED_CHARS",
    "MAX_TRANSCRIPT_BYTES",
    "SUBTITLE_FORMATS", "TEXTGRID_SILENCE_LABELS", "TIME_ANCHORS", "TRANSCRIPT_FORMATS",
    "TRANSCRIPT_SUFFIXES", "Transcript", "WORD_TIMED_FORMATS", "WordTiming",
    "normalise_cue_text", "parse_transcript",
]
