"""Stage: drop clips of poor quality, each with its reason, under recorded thresholds."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.quality import QualityMetrics, QualityThresholds, quality_failure
from schemas.clip import ClipRecord

STAGE = "quality"


def clip_metrics(clip: ClipRecord) -> QualityMetrics:
    """The metrics the crop stage measured and stored on the clip."""
    frames = clip.frames.shape[0]
    return QualityMetrics(face_size=clip.face_size, yaw=clip.yaw, jitter=clip.landmark_jitter,
                          interpolated_fraction=clip.interpolated_frames / frames,
                          sharpness=clip.sharpness)


class FilterQualityFn(beam.DoFn):
    """ClipRecord -> itself if it passes every threshold, else a dead letter naming the check."""

    def __init__(self, thresholds: QualityThresholds):
        self._thresholds = thresholds
        self._kept = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.kept")

    def process(self, clip: ClipRecord):
        failed = quality_failure(clip_metrics(clip), self._thresholds)
        if failed is None:
            self._kept.inc()
            yield clip
            return
        reason, detail = failed
        yield dead_letter(failure(clip.source_video, STAGE, reason, detail, video_id=clip.video_id,
                                  word=clip.word, word_index=clip.word_index, words_affected=1))


class FilterQuality(beam.PTransform):
    """PCollection[ClipRecord] -> main: clips that pass, dead_letter: the rest with reasons."""

    def __init__(self, thresholds: QualityThresholds):
        super().__init__()
        self._thresholds = thresholds

    def expand(self, clips):
        return clips | "CheckQuality" >> beam.ParDo(FilterQualityFn(self._thresholds)).with_outputs(
            DEAD_LETTER, main="clips")
