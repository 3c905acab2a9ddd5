"""Stage 2: decode each video as a stream, find its shots and follow every face in it.

The work is `clipping.track_video`; this stage picks the frames and ranges a work item
covers (its chunk, the frames near its words), counts, and turns failures into dead
letters.

The container clock is kept: a probe reads when the first video frame is shown, so a
video stream that starts after its audio does not shift the words. Only the frames
that a word window will use (plus context for smoothing and gap filling) go through
the landmark model; every frame goes through the cut detector. This is the video's one
decode: the output keeps the points, and of the frames only the region around each
fitted face that its mouth crops need (crop_sources.py), on the frames a window uses, so
the crop stage cuts from them without decoding again (`decode_passes` counts the decodes
per work item: one here, and in the crop stage only for crops the regions do not hold).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.preprocess import clipping
from pipelines.preprocess.audio import probe_media
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.crop_sources import CropSources
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.frame_plan import frame_range, wanted_ranges
from pipelines.preprocess.landmarks import make_backend
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.video_tracks import VideoFaces
from pipelines.storage import LocalCopies

STAGE = "detect_landmarks"
_LOG = logging.getLogger(__name__)


@dataclass
class VideoTracks:
    """A video's job, with its shots and face tracks (see VideoFaces), what ffmpeg said, and
    the pixels kept for the crops (None: the crop stage decodes the video itself)."""

    job: VideoJob
    faces: VideoFaces
    has_audio: bool
    decode_warnings: str = ""
    sources: CropSources | None = None

    @property
    def num_frames(self) -> int:
        return self.faces.num_frames


class DetectLandmarksFn(beam.DoFn):
    """VideoJob -> VideoTracks; undecodable videos and videos without a face are dead letters."""

    def __init__(self, config: PreprocessConfig):
        self._config = config
        self._frames = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.frames_decoded")
        self._fitted = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.frames_with_face")
        self._tracks = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.face_tracks")
        self._cuts = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.shot_cuts")
        self._videos = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.ok")
        self._decodes = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.decode_passes")
        self._backend = None
        self._reference = None
        self._copies = LocalCopies()

    def setup(self):
        self._backend = make_backend(self._config.landmarks, upsample=self._config.upsample,
                                     device=self._config.landmark_device)
        self._backend.load()
        self._reference = mean_face()

    def finish_bundle(self):
        self._copies.clear()  # a remote video is copied once per bundle, not once per chunk

    def teardown(self):
        self._copies.clear()

    def _track(self, path: str, job: VideoJob) -> VideoTracks:
        config, plan = self._config, job.plan
        media = plan.media if plan is not None else probe_media(path, config.fps)
        frames = frame_range(job, media.video_start)
        # Regions are kept only where a crop can fall: the windows, moved at most by the
        # largest sound-to-picture offset, without their landmark context.
        sources = CropSources(self._reference, config.crop_size,
                              wanted_ranges(job, config, media.video_start, frames,
                                            context=config.max_av_offset))
        tracked = clipping.track_video(
            path, config, self._backend, wanted_ranges(job, config, media.video_start, frames),
            media, frames, None if plan is None else plan.shot_starts,
            None if plan is None else plan.num_frames, sources)
        return VideoTracks(job=job, faces=tracked.faces, has_audio=tracked.has_audio,
                           decode_warnings=tracked.decode_warnings, sources=tracked.sources)

    @staticmethod
    def _failures(job: VideoJob, reason: str, detail: str):
        """A failed whole video is one dead letter; a failed chunk, one per word it owns."""
        video = job.input
        if job.plan is None or job.plan.chunk is None:
            yield dead_letter(failure(video.video, STAGE, reason, detail, video_id=video.video_id,
                                      words_affected=len(job.word_indices)))
            return
        chunk = job.plan.chunk
        for index in job.word_indices:
            yield dead_letter(failure(
                video.video, STAGE, reason, f"frames {chunk.first}-{chunk.end - 1}: {detail}",
                video_id=video.video_id, word=job.transcript.words[index].word,
                word_index=job.word_number(index), words_affected=1))

    def process(self, job: VideoJob):
        video = job.input
        words = len(job.word_indices)
        # No word left: every one already failed upstream (e.g. subtitle alignment). A bare
        # return on its own line, which Beam's check of process() does not take for a value.
        if words == 0:
            return
        started = time.perf_counter()
        try:
            path = self._copies.path(video.video)
            self._decodes.inc()
            tracks = self._track(path, job)
        except RecordError as err:
            yield from self._failures(job, err.reason, err.detail)
            return
        found = tracks.faces.frames_with_face
        self._frames.inc(tracks.faces.decoded_frames)
        self._fitted.inc(found)
        self._tracks.inc(len(tracks.faces.faces))
        self._cuts.inc(len(tracks.faces.shot_starts) - 1)
        # With no frame searched (every word's window past the decoded frames: times beyond
        # the video's end), "no face" would be wrong: each word gets its own reason when cut.
        if found == 0 and tracks.faces.fitted_frames:
            detail = (f"no face found in any of the {tracks.faces.fitted_frames} frames "
                      f"searched (of {tracks.faces.decoded_frames} decoded)")
            yield from self._failures(job, "no_face", detail)
            return
        self._videos.inc()
        elapsed = time.perf_counter() - started
        _LOG.info("landmarks %s (frames %d-%d): %d shots, %d face tracks, %.0f frames/s",
                  video.video_id, tracks.faces.first,
                  tracks.faces.first + tracks.faces.decoded_frames - 1,
                  len(tracks.faces.shot_starts), len(tracks.faces.faces),
                  tracks.faces.decoded_frames / max(elapsed, 1e-9))
        yield tracks


class DetectLandmarks(beam.PTransform):
    """PCollection[VideoJob] -> main: VideoTracks, dead_letter: failures."""

    def __init__(self, config: PreprocessConfig):
        super().__init__()
        self._config = config

    def expand(self, jobs):
        return jobs | "TrackLandmarks" >> beam.ParDo(DetectLandmarksFn(self._config)).with_outputs(
            DEAD_LETTER, main="tracks")
