"""Stage: N augmented copies of every training clip, reproducible byte for byte.

Each copy draws its randomness from its clip id and copy number alone, so a rerun, on any
runner and in any order, writes identical bytes. Originals are kept; val and test clips
pass through untouched. A copy's pixels and boundary mask are transformed; its landmarks
and crop transform still describe the original crop.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.preprocess.augment import AugmentConfig, augment_clip, copy_rng
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE
from schemas.clip import ClipRecord

STAGE = "augment"


def augmented_copy(clip: ClipRecord, copy: int, config: AugmentConfig) -> ClipRecord:
    """The clip's `copy`-th augmented copy (copy >= 1), id `<clip_id>~<copy>`."""
    frames, mask = augment_clip(clip.frames, clip.boundary_mask, copy_rng(clip.clip_id, copy),
                                config)
    return dataclasses.replace(clip, clip_id=f"{clip.clip_id}~{copy}", frames=frames,
                               boundary_mask=mask, augment_copy=copy)


class AugmentTrainFn(beam.DoFn):
    """ClipRecord -> itself, plus `copies` augmented copies when it is in the train split."""

    def __init__(self, copies: int, config: AugmentConfig):
        if copies < 0:
            raise ValueError(f"augment copies must be >= 0, got {copies!r}")
        self._copies = copies
        self._config = config
        self._made = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.copies")

    def process(self, clip: ClipRecord):
        yield clip
        if clip.split != "train":
            return
        for copy in range(1, self._copies + 1):
            self._made.inc()
            yield augmented_copy(clip, copy, self._config)


class AugmentTrain(beam.PTransform):
    """PCollection[ClipRecord] -> originals and the train split's augmented copies."""

    def __init__(self, copies: int, config: AugmentConfig):
        super().__init__()
        self._fn = AugmentTrainFn(copies, config)

    def expand(self, clips):
        return clips | "AugmentTrainSplit" >> beam.ParDo(self._fn)
