"""Stage 2: decode each video as a stream and track 68 landmarks through it.

Only the frames that a word window will use (plus context for smoothing and gap
filling) go through the landmark model; the others are decoded and skipped. The output
keeps the points, not the frames: [N, 68, 2] floats are small enough to pass between
stages where N frames of video are not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.landmarks import make_backend
from pipelines.preprocess.landmarks.tracker import FaceTracker
from pipelines.preprocess.read_transcripts import VideoJob
from pipelines.preprocess.windows import word_window

STAGE = "detect_landmarks"
_UNBOUNDED_FRAMES = 10**9
_LOG = logging.getLogger(__name__)


@dataclass
class LandmarkTrack:
    """A video's landmarks: float32 [N, 68, 2] (NaN where no face was fitted), fitted bool [N]."""

    job: VideoJob
    points: np.ndarray
    fitted: np.ndarray
    height: int
    width: int
    decode_warnings: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.fitted.shape[0])


@contextlib.contextmanager
def local_copy(path: str):
    """A local path for `path`: itself if local, else a temporary copy (gs:// and the like)."""
    if "://" not in path:
        yield path
        return
    suffix = os.path.splitext(path)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as local:
        with FileSystems.open(path) as remote:
            shutil.copyfileobj(remote, local)
        local.flush()
        yield local.name


def frames_of_interest(job: VideoJob, config: PreprocessConfig) -> list[tuple[int, int]] | None:
    """Inclusive frame ranges whose landmarks a window may use; None means every frame.

    Words with times that cannot be windowed are left out here; the crop stage reports them.
    """
    if job.transcript.anchor != "start":
        return None
    ranges = []
    for word in job.transcript.words:
        try:
            window = word_window(word.start, word.end, _UNBOUNDED_FRAMES, config.window_length,
                                 config.fps, config.end_tolerance)
        except RecordError:
            continue
        ranges.append((window.first_frame - config.context_frames,
                       window.first_frame + config.window_length - 1 + config.context_frames))
    return ranges


def _wanted(index: int, ranges: list[tuple[int, int]] | None) -> bool:
    return ranges is None or any(lo <= index <= hi for lo, hi in ranges)


class DetectLandmarksFn(beam.DoFn):
    """VideoJob -> LandmarkTrack; undecodable videos and videos without a face are dead letters."""

    def __init__(self, config: PreprocessConfig):
        self._config = config
        self._frames = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.frames_decoded")
        self._fitted = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.frames_with_face")
        self._videos = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.ok")
        self._backend = None

    def setup(self):
        self._backend = make_backend(self._config.landmarks, upsample=self._config.upsample,
                                     device=self._config.landmark_device)
        self._backend.load()

    def _track(self, path: str, job: VideoJob) -> LandmarkTrack:
        config = self._config
        tracker = FaceTracker(self._backend, config.detect_every, config.detect_max_side)
        ranges = frames_of_interest(job, config)
        report = DecodeReport()
        points, fitted = [], []
        for index, frame in enumerate(decode_frames(path, report, config.fps, config.max_side)):
            found = tracker.update(frame) if _wanted(index, ranges) else tracker.reset()
            fitted.append(found is not None)
            points.append(found if found is not None else np.full((68, 2), np.nan, np.float32))
        return LandmarkTrack(job=job, points=np.stack(points).astype(np.float32),
                             fitted=np.asarray(fitted, dtype=bool),
                             height=report.height, width=report.width,
                             decode_warnings=report.stderr.strip())

    def process(self, job: VideoJob):
        video = job.input
        words = len(job.transcript.words)
        started = time.perf_counter()
        try:
            with local_copy(video.video) as path:
                track = self._track(path, job)
        except RecordError as err:
            yield dead_letter(failure(video.video, STAGE, err.reason, err.detail,
                                      video_id=video.video_id, words_affected=words))
            return
        found = int(track.fitted.sum())
        self._frames.inc(track.num_frames)
        self._fitted.inc(found)
        if found == 0:
            yield dead_letter(failure(
                video.video, STAGE, "no_face",
                f"no face found in any of the {track.num_frames} frames searched",
                video_id=video.video_id, words_affected=words))
            return
        self._videos.inc()
        elapsed = time.perf_counter() - started
        _LOG.info("landmarks %s: %d frames, %d with a face, %.0f frames/s", video.video_id,
                  track.num_frames, found, track.num_frames / max(elapsed, 1e-9))
        yield track


class DetectLandmarks(beam.PTransform):
    """PCollection[VideoJob] -> main: LandmarkTrack, dead_letter: failures."""

    def __init__(self, config: PreprocessConfig):
        super().__init__()
        self._config = config

    def expand(self, jobs):
        return jobs | "TrackLandmarks" >> beam.ParDo(DetectLandmarksFn(self._config)).with_outputs(
            DEAD_LETTER, main="tracks")
