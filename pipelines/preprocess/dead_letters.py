"""Dead letters: every record that fails, with where and why, never silently dropped.

A failure is a small dict: the input it came from, the stage that gave up, a
machine-readable reason, a human detail, and how many words it takes with it (a video
that cannot be decoded takes all of its words). Stages emit failures on the
`DEAD_LETTER` tagged output; `WriteDeadLetters` writes them as JSON Lines.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.metrics import Metrics

DEAD_LETTER = "dead_letter"
COUNTER_NAMESPACE = "lipflow.preprocess"


def failure(source: str, stage: str, reason: str, detail: str, video_id: str = "",
            word: str = "", word_index: int = -1, words_affected: int = 0) -> dict:
    """A dead-letter record. `words_affected`: transcript words that this failure ends."""
    return {"input": source, "stage": stage, "reason": reason, "detail": detail,
            "video_id": video_id, "word": word, "word_index": word_index,
            "words_affected": words_affected}


def dead_letter(record: dict) -> beam.pvalue.TaggedOutput:
    """The failure on the dead-letter output, counted under stage.reason."""
    Metrics.counter(COUNTER_NAMESPACE, f"{record['stage']}.failed.{record['reason']}").inc()
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
