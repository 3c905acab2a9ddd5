"""Stage: give every clip its split (train/val/test) by its group, never splitting a group.

The group is the one `--split_by` asks for: by default (`folder`) the group the input's
layout gave the clip (`clip.group`, from its VideoInput), else its video, speaker or show.
The written `group` is the key the split was drawn by.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.splits import SplitRatios, clip_split, group_key
from schemas.clip import UNIT_SENTENCE, ClipRecord

STAGE = "split"


class AssignSplitFn(beam.DoFn):
    """ClipRecord -> ClipRecord with `split` and `group`; an unusable split is a dead letter."""

    def __init__(self, ratios: SplitRatios, split_by: str):
        self._ratios = ratios
        self._split_by = split_by
        self._counters = {}

    def _count(self, split: str) -> None:
        if split not in self._counters:
            self._counters[split] = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.{split}")
        self._counters[split].inc()

    def process(self, clip: ClipRecord):
        try:
            group = group_key(clip.video_id, clip.speaker, self._split_by, clip.show,
                              clip.group)
            split = clip_split(clip.split, group, self._ratios)
        except ValueError as err:
            yield dead_letter(failure(clip.source_video, STAGE, "bad_split", str(err),
                                      video_id=clip.video_id, word=clip.word,
                                      word_index=clip.word_index,
                                      words_affected=int(clip.unit != UNIT_SENTENCE)))
            return
        self._count(split)
        yield dataclasses.replace(clip, split=split, group=group)


class AssignSplits(beam.PTransform):
    """PCollection[ClipRecord] -> main: clips with a split, dead_letter: failures."""

    def __init__(self, ratios: SplitRatios, split_by: str):
        super().__init__()
        self._fn = AssignSplitFn(ratios, split_by)

    def expand(self, clips):
        return clips | "AssignSplit" >> beam.ParDo(self._fn).with_outputs(DEAD_LETTER,
                                                                           main="clips")
