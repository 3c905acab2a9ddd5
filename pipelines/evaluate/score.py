"""Stage 2 and 3 around inference: which clips are scored, and a scored clip's row.

Before inference each clip is sorted: augmented training copies are skipped (they are
not independent evidence), words no model knows are counted as out of vocabulary and
never scored against a wrong label, and crops of a size the models were not exported
for are dead letters. After inference a clip becomes a compact `Scored` row and a
line of predictions.jsonl.
"""

from __future__ import annotations

import json
from typing import Sequence

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipelines.evaluate.metrics import TOP_K, Scored
from pipelines.evaluate.read_clips import NAMESPACE, clip_failure, model_example
from pipelines.evaluate.slices import slice_values
from pipelines.preprocess.dead_letters import dead_letter
from schemas.clip import AUGMENT_COPY, FRAMES, WORD

SERVING_SIZE = 96
OUT_OF_VOCABULARY = "out_of_vocabulary"
AUGMENTED = "augmented"


class SortClipsFn(beam.DoFn):
    """(clip id, clip) -> main: (clip id, example) to score; OOV and augmented: the clip's word."""

    def __init__(self, vocabulary: Sequence[str], slice_keys: Sequence[str]):
        self._vocabulary = frozenset(vocabulary)
        self._slice_keys = tuple(slice_keys)
        self._counters = {name: Metrics.counter(NAMESPACE, f"clips.{name}")
                          for name in ("scored", OUT_OF_VOCABULARY, AUGMENTED)}

    def process(self, item):
        clip_id, clip = item
        if clip[AUGMENT_COPY]:
            self._counters[AUGMENTED].inc()
            yield beam.pvalue.TaggedOutput(AUGMENTED, clip[WORD])
            return
        if clip[FRAMES].shape[1:] != (SERVING_SIZE, SERVING_SIZE):
            yield dead_letter(clip_failure(
                clip, "sort", "wrong_crop_size", f"crops are {clip[FRAMES].shape[1:]}, the "
                f"models take {SERVING_SIZE}x{SERVING_SIZE}"))
            return
        if clip[WORD] not in self._vocabulary:
            self._counters[OUT_OF_VOCABULARY].inc()
            yield beam.pvalue.TaggedOutput(OUT_OF_VOCABULARY, clip[WORD])
            return
        self._counters["scored"].inc()
        yield clip_id, model_example(clip, slice_values(clip, self._slice_keys))


def scored_row(item, index: dict[str, int]) -> Scored:
    """(clip id, PredictionResult) -> the clip's compact row."""
    clip_id, result = item
    probabilities = np.asarray(result.inference)
    top = np.argsort(-probabilities, kind="stable")[:TOP_K]
    return Scored(clip_id=clip_id, label=index[result.example[WORD]],
                  top=tuple(int(i) for i in top), confidence=float(probabilities[top[0]]),
                  slices=dict(result.example["slices"]))


def prediction_line(row: Scored, vocabulary: Sequence[str]) -> str:
    """One JSON line of predictions.jsonl."""
    return json.dumps({"clip_id": row.clip_id, "word": vocabulary[row.label],
                       "top_words": [vocabulary[i] for i in row.top],
                       "confidence": row.confidence, "correct": row.top[0] == row.label,
                       "slices": dict(row.slices)}, ensure_ascii=False, sort_keys=True)


def inference_failures(item) -> list[dict]:
    """A failed inference batch -> one dead-letter record per clip in it."""
    batch, error = item
    detail = f"{type(error).__name__}: {str(error).strip()[:500]}"
    return [clip_failure(example, "infer", "inference_failed", detail) for _, example in batch]
