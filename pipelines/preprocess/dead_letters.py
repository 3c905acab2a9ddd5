"""Dead letters: every record that does not become a clip, with where and why.

A dead letter is a small dict: the input it came from, the stage that gave up, a
machine-readable reason, a human detail, how many words it takes with it (a video
that cannot be decoded takes all of its words) and its kind (`KIND_BY_REASON`):

  failure  something went wrong: unreadable or corrupt input, a decode error, a
           transcript that does not parse, an alignment error, a bad split key
  dropped  a word left out on purpose by a rule of the job: out of vocabulary, a
           quality threshold, a face too small to read, a speaker the job cannot tell
           apart
  no_clip  the word cannot be cut: no face in its window, its times are invalid or
           outside the video, it is spoken across a shot cut

Only failures count against `--max_failure_fraction`. Stages emit dead letters on the
`DEAD_LETTER` tagged output; `WriteDeadLetters` writes them as JSON Lines.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.metrics import Metrics

DEAD_LETTER = "dead_letter"
COUNTER_NAMESPACE = "lipflow.preprocess"

FAILURE, DROPPED, NO_CLIP = "failure", "dropped", "no_clip"
ANY_REASON = "*"

# (stage, reason) -> kind; (stage, ANY_REASON) covers every reason of a stage. Any pair
# not listed is a failure, so a new reason counts against the run until it is sorted here.
KIND_BY_REASON: dict[tuple[str, str], str] = {
    ("vocabulary", "out_of_vocabulary"): DROPPED,
    ("quality", ANY_REASON): DROPPED,
    ("crop_mouths", "ambiguous_speaker"): DROPPED,
    ("crop_mouths", "no_sync_signal"): DROPPED,
    ("crop_mouths", "face_too_small"): DROPPED,
    ("align_subtitles", "low_alignment_confidence"): DROPPED,
    ("align_subtitles", "cue_text_mismatch"): DROPPED,
    ("crop_mouths", "no_face"): NO_CLIP,
    ("detect_landmarks", "no_face"): NO_CLIP,
    ("crop_mouths", "word_outside_video"): NO_CLIP,
    ("crop_mouths", "word_crosses_cut"): NO_CLIP,
    ("crop_mouths", "invalid_word_times"): NO_CLIP,
    ("align_subtitles", "invalid_cue_times"): NO_CLIP,
    ("align_subtitles", "cue_outside_audio"): NO_CLIP,
    ("align_subtitles", "not_in_dictionary"): NO_CLIP,
    # Whole-sentence clips (--unit sentence): each takes no word with it (words_affected 0).
    ("crop_sentences", "ambiguous_speaker"): DROPPED,
    ("crop_sentences", "no_sync_signal"): DROPPED,
    ("crop_sentences", "face_too_small"): DROPPED,
    ("crop_sentences", "no_face"): NO_CLIP,
    ("crop_sentences", "words_untimed"): NO_CLIP,
    ("crop_sentences", "sentence_crosses_cut"): NO_CLIP,
    ("crop_sentences", "sentence_spans_chunks"): NO_CLIP,
    ("crop_sentences", "invalid_word_times"): NO_CLIP,
    ("crop_sentences", "word_outside_video"): NO_CLIP,
}


def kind_of(stage: str, reason: str) -> str:
    """failure, dropped or no_clip for a dead letter's stage and reason (failure if unlisted)."""
    return KIND_BY_REASON.get((stage, reason), KIND_BY_REASON.get((stage, ANY_REASON), FAILURE))


def failure(source: str, stage: str, reason: str, detail: str, video_id: str = "",
            word: str = "", word_index: int = -1, words_affected: int = 0) -> dict:
    """A dead-letter record. `words_affected`: transcript words that it ends."""
    return {"input": source, "stage": stage, "reason": reason, "detail": detail,
            "video_id": video_id, "word": word, "word_index": word_index,
            "words_affected": words_affected, "kind": kind_of(stage, reason)}


def dead_letter(record: dict) -> beam.pvalue.TaggedOutput:
    """The record on the dead-letter output, counted under stage.failed.reason and its kind."""
    Metrics.counter(COUNTER_NAMESPACE, f"{record['stage']}.failed.{record['reason']}").inc()
    Metrics.counter(COUNTER_NAMESPACE, f"dead_letters.{record['kind']}").inc()
    return beam.pvalue.TaggedOutput(DEAD_LETTER, record)


class WriteDeadLetters(beam.PTransform):
    """Writes failures to `<path>` as one JSON object a line (the file exists even if empty)."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, failures):
        return (failures
                | "FailureToJson" >> beam.Map(lambda f: json.dumps(f, ensure_ascii=False,
                                                                   sort_keys=True))
                | "WriteJsonl" >> beam.io.WriteToText(self._path, num_shards=1,
                                                      shard_name_template=""))
