"""Stage 2: probe each video and cut long programmes into chunks that workers share.

A video no longer than `chunk_seconds` stays one work item. A longer one is scanned
once for cuts on 32x24 miniatures (decode cost only), then split into chunks of whole
shots (chunks.py) that the landmark and crop stages decode by seeking, each on its
own, so that a one-hour programme spreads over workers and no worker holds more than
a chunk. Each chunk carries the words whose centre falls in it.
"""

from __future__ import annotations

import dataclasses
import logging

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipelines.preprocess.audio import probe_media
from pipelines.preprocess.chunks import assign_words, centre_frames, plan_chunks
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.decode import check_video_file, decode_thumbnails
from pipelines.preprocess.detect_landmarks import local_copy
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.read_transcripts import VideoJob, VideoPlan
from pipelines.preprocess.shots import ShotDetector, shot_starts

STAGE = "plan_chunks"
_LOG = logging.getLogger(__name__)


def scan_shots(path: str, fps: float) -> tuple[np.ndarray, int]:
    """(shot starts int64 [S], frames) of the whole video, from its miniatures."""
    detector = ShotDetector()
    count = 0
    for thumb in decode_thumbnails(path, fps):
        detector.update(thumb)
        count += 1
    detector.finish()
    return shot_starts(detector.cuts), count


def word_centres(job: VideoJob, video_start: float, fps: float, num_frames: int) -> np.ndarray:
    """Centre frame of each transcript word (clamped into the video)."""
    times = np.array([(w.start - video_start, w.end - video_start)
                      for w in job.transcript.words], dtype=np.float64).reshape(-1, 2)
    return centre_frames(times, fps, num_frames)


class PlanChunksFn(beam.DoFn):
    """VideoJob -> VideoJob with a plan, one per chunk; unreadable videos are dead letters."""

    def __init__(self, config: PreprocessConfig):
        self._config = config
        self._chunks = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.chunks")
        self._long = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.videos_chunked")

    def _chunked(self, path: str, job: VideoJob, media) -> list[VideoJob]:
        config = self._config
        starts, count = scan_shots(path, config.fps)
        chunks = plan_chunks(starts, count, config.chunk_frames, config.chunk_margin)
        owners = assign_words(word_centres(job, media.video_start, config.fps, count), chunks)
        plans = [VideoPlan(media, tuple(int(i) for i in owned), count,
                           tuple(int(s) for s in starts), chunk)
                 for chunk, owned in zip(chunks, owners) if len(owned)]
        _LOG.info("%s: %d frames, %d shots, %d chunks with words", job.input.video_id, count,
                  len(starts), len(plans))
        return [dataclasses.replace(job, plan=plan) for plan in plans]

    def process(self, job: VideoJob):
        words = len(job.transcript.words)
        if words == 0:
            return  # every word already failed upstream (e.g. subtitle alignment)
        video = job.input
        try:
            with local_copy(video.video) as path:
                check_video_file(path)
                media = probe_media(path, self._config.fps)
                if 0 < media.duration <= self._config.chunk_seconds:
                    items = [dataclasses.replace(job, plan=VideoPlan(media, job.word_indices))]
                else:
                    items = self._chunked(path, job, media)
                    self._long.inc()
        except RecordError as err:
            yield dead_letter(failure(video.video, STAGE, err.reason, err.detail,
                                      video_id=video.video_id, words_affected=words))
            return
        self._chunks.inc(len(items))
        yield from items


class PlanChunks(beam.PTransform):
    """PCollection[VideoJob] -> main: planned VideoJob (one per chunk), dead_letter: failures."""

    def __init__(self, config: PreprocessConfig):
        super().__init__()
        self._config = config

    def expand(self, jobs):
        return jobs | "ProbeAndChunk" >> beam.ParDo(PlanChunksFn(self._config)).with_outputs(
            DEAD_LETTER, main="jobs")
