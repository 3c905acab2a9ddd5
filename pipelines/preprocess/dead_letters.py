"""Dead letters on Beam: every record that does not become a clip, with where and why.

The record and its kinds (failure, dropped, no_clip) are `schemas/dead_letter.py`; they
are imported here too, so a stage takes everything about dead letters from one module.
Only failures count against `--max_failure_fraction`. Stages emit dead letters on the
`DEAD_LETTER` tagged output; `WriteDeadLetters` writes them as JSON Lines.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.dead_letter import (ANY_REASON, DROPPED, FAILURE, KIND_BY_REASON,  # noqa: F401
                                  NO_CLIP, failure, kind_of)

DEAD_LETTER = "dead_letter"
COUNTER_NAMESPACE = "lipflow.preprocess"


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
