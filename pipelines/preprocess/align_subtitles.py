"""Stage 1b: word times for subtitle and sentence-only transcripts, by forced alignment
of each cue (transcript_alignment.py does the work).

A job whose transcript is word-timed passes through untouched. Each word that gets no
time is one dead letter (words_affected 1); a job left without any aligned word is not
passed on (its words are all accounted for as dead letters).
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter
from pipelines.preprocess.forced_alignment import AlignmentThresholds
from pipelines.preprocess.transcript_alignment import STAGE, TranscriptAligner
from pipelines.preprocess.video_job import VideoJob

_LOG = logging.getLogger(__name__)


class AlignSubtitlesFn(beam.DoFn):
    """VideoJob -> VideoJob with aligned words; each word without a time is a dead letter."""

    def __init__(self, thresholds: AlignmentThresholds = AlignmentThresholds()):
        self._thresholds = thresholds
        self._aligner: TranscriptAligner | None = None
        self._videos = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.videos")
        self._passed = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.passed_through")
        self._cues = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.cues")
        self._aligned = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.words_aligned")
        self._emptied = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.videos_without_words")

    def setup(self):
        self._aligner = TranscriptAligner(self._thresholds)
        self._aligner.load()

    def process(self, job: VideoJob):
        if not job.transcript.needs_alignment:
            self._passed.inc()
            yield job
            return
        self._videos.inc()
        result = self._aligner.align(job)
        yield from (dead_letter(record) for record in result.failures)
        self._cues.inc(result.cues_read)
        self._aligned.inc(result.words_aligned)
        _LOG.info("aligned %s: %d of %d cue words", job.input.video_id, result.words_aligned,
                  job.transcript.word_count)
        if result.job is None:
            self._emptied.inc()
            return
        yield result.job


class AlignSubtitles(beam.PTransform):
    """PCollection[VideoJob] -> main: VideoJob (words timed), dead_letter: failures."""

    def __init__(self, thresholds: AlignmentThresholds = AlignmentThresholds()):
        super().__init__()
        self._thresholds = thresholds

    def expand(self, jobs):
        return jobs | "AlignCueWords" >> beam.ParDo(
            AlignSubtitlesFn(self._thresholds)).with_outputs(DEAD_LETTER, main="jobs")
