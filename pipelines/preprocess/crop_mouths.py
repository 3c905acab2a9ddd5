"""Stage 3: fixed word windows of grey mouth crops, aligned to the mean face.

For each video: fill short landmark gaps and smooth each face track, place each word's
window inside its shot and choose its face (word_placement.py), then decode the video
a second time and warp only the (frame, face) pairs some window uses. A window is
emitted as soon as its last frame has gone by, and crops no window still needs are
dropped, so memory stays bounded on hour-long videos. A window without a usable face
on every frame, or with several faces and no clear speaker, is a dead letter, never a
crop of something or someone else.
"""

from __future__ import annotations

import heapq
import logging
import math

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipelines.preprocess.active_speaker import SpeakerConfig
from pipelines.preprocess.alignment import mouth_crop_transform, warp_crop
from pipelines.preprocess.audio import SAMPLE_RATE, decode_audio, frame_log_energy
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.decode import DecodeReport, FrameRange, decode_frames
from pipelines.preprocess.detect_landmarks import VideoTracks, local_copy
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.quality import measure_quality
from pipelines.preprocess.word_placement import (PlacedWord, place_word, prepare_faces,
                                                 video_word_times)
from schemas.clip import ClipRecord

STAGE = "crop_mouths"
_LOG = logging.getLogger(__name__)


def clip_id(video_id: str, index: int, word: str) -> str:
    return f"{video_id}#{index:04d}_{word}"


def _optional(value: float | None) -> float:
    return math.nan if value is None else float(value)


class CropWordClipsFn(beam.DoFn):
    """VideoTracks -> ClipRecord per word; words that cannot be cut are dead letters."""

    def __init__(self, config: PreprocessConfig, speaker: SpeakerConfig = SpeakerConfig()):
        self._config = config
        self._speaker = speaker
        self._clips = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.clips")
        self._chosen = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.speaker_chosen_among_faces")
        self._reference = None

    def setup(self):
        self._reference = mean_face()

    def _word_failure(self, tracks: VideoTracks, index: int, reason: str, detail: str) -> dict:
        video = tracks.job.input
        if tracks.decode_warnings and reason == "word_outside_video":
            detail += f"; ffmpeg reported damage: {tracks.decode_warnings[-300:]}"
        return failure(video.video, STAGE, reason, detail, video_id=video.video_id,
                       word=tracks.job.transcript.words[index].word,
                       word_index=tracks.job.word_number(index), words_affected=1)

    def _energy(self, path: str, tracks: VideoTracks) -> np.ndarray | None:
        """Log speech energy per decoded frame (index 0 = frame faces.first), or None."""
        if not tracks.has_audio:
            return None
        faces, fps = tracks.faces, self._config.fps
        start = faces.video_start + faces.first / fps
        try:
            samples = decode_audio(path, SAMPLE_RATE, start=max(start, 0.0),
                                   duration=faces.decoded_frames / fps)
        except RecordError as err:
            _LOG.warning("no usable audio in %s (%s): faces cannot be told apart by sync",
                         tracks.job.input.video, err)
            return None
        return frame_log_energy(samples, SAMPLE_RATE, fps, 0, faces.decoded_frames)

    def _place_words(self, tracks: VideoTracks, energy: np.ndarray | None):
        """Yields PlacedWord for each word that can be cut, else its failure dict."""
        config = self._config
        faces = prepare_faces(tracks.faces.faces, config.max_gap, config.smooth_window)
        transcript = tracks.job.transcript
        for index in tracks.job.word_indices:
            word = transcript.words[index]
            start, end = video_word_times(word.start, word.end, transcript.anchor, tracks.faces,
                                          config.fps)
            try:
                yield place_word(index, word.word, start, end, tracks.faces, faces, energy,
                                 config.window_length, config.fps, config.end_tolerance,
                                 config.max_gap, self._speaker)
            except RecordError as err:
                yield self._word_failure(tracks, index, err.reason, err.detail)

    def _record(self, tracks: VideoTracks, placed: PlacedWord, crops: dict,
                transforms: dict) -> ClipRecord:
        video = tracks.job.input
        timing = tracks.job.transcript.words[placed.index]
        frames = placed.window.frame_indices
        face = placed.face
        track_id = face.track.track_id
        crops_used = np.stack([crops[(int(i), track_id)] for i in frames])
        smoothed, fitted = face.points(frames), face.fitted(frames)
        quality = measure_quality(crops_used, smoothed, face.points(frames, "fitted"),
                                  fitted)
        number = tracks.job.word_number(placed.index)
        return ClipRecord(
            clip_id=clip_id(video.video_id, number, placed.word),
            video_id=video.video_id, source_video=video.video, word=placed.word,
            word_index=number, start_time=placed.start + tracks.faces.video_start,
            end_time=placed.end + tracks.faces.video_start,
            fps=self._config.fps, first_frame=placed.window.first_frame,
            padded_before=placed.window.padded_before, padded_after=placed.window.padded_after,
            frames=crops_used,
            boundary_mask=placed.window.boundary_mask.astype(np.uint8),
            landmarks=smoothed.astype(np.float32), landmark_detected=fitted,
            crop_transform=np.stack([transforms[(int(i), track_id)] for i in frames]).astype(
                np.float32),
            speaker=video.speaker, show=video.show, split=video.split, group=video.group,
            face_size=quality.face_size, yaw=quality.yaw, landmark_jitter=quality.jitter,
            sharpness=quality.sharpness, video_start=tracks.faces.video_start,
            shot=placed.shot, face_track=track_id, candidate_faces=placed.candidate_faces,
            speaker_score=placed.speaker_score, speaker_margin=placed.speaker_margin,
            asd_score=_optional(getattr(timing, "asd_score", None)),
            alignment_confidence=_optional(getattr(timing, "confidence", None)))

    def _cut(self, path: str, tracks: VideoTracks, placed: list[PlacedWord]):
        """Second decode: warps the (frame, face) pairs the windows need, yields each clip."""
        size = self._config.crop_size
        needed: dict[int, dict[int, PlacedWord]] = {}
        for word in placed:
            for frame in word.window.frame_indices:
                needed.setdefault(int(frame), {})[word.face.track.track_id] = word
        pending = sorted(placed, key=lambda p: p.last_frame)
        oldest = [(p.first_frame, n) for n, p in enumerate(pending)]
        heapq.heapify(oldest)
        done: set[int] = set()
        crops: dict[tuple[int, int], np.ndarray] = {}
        transforms: dict[tuple[int, int], np.ndarray] = {}
        video = tracks.faces
        frames = decode_frames(path, DecodeReport(), self._config.fps, self._config.max_side,
                               frames=FrameRange(video.first, video.end, video.video_start))
        next_word = 0
        for index, frame in enumerate(frames, start=video.first):
            for track_id, word in needed.get(index, {}).items():
                transform = mouth_crop_transform(word.face.points(np.array([index]))[0],
                                                 self._reference, size)
                transforms[(index, track_id)] = transform
                crops[(index, track_id)] = warp_crop(frame, transform, size)
            while next_word < len(pending) and pending[next_word].last_frame <= index:
                yield self._record(tracks, pending[next_word], crops, transforms)
                done.add(next_word)
                next_word += 1
            while oldest and oldest[0][1] in done:
                heapq.heappop(oldest)
            keep_from = oldest[0][0] if oldest else index + 1
            for stale in [key for key in crops if key[0] < keep_from]:
                del crops[stale], transforms[stale]
        for left in pending[next_word:]:
            yield self._word_failure(tracks, left.index, "decode_mismatch",
                                     f"the second decode ended before frame {left.last_frame}")

    def process(self, tracks: VideoTracks):
        video = tracks.job.input
        emitted: set[int] = set()
        placed: list[PlacedWord] = []
        try:
            with local_copy(video.video) as path:
                energy = self._energy(path, tracks)
                for outcome in self._place_words(tracks, energy):
                    if isinstance(outcome, PlacedWord):
                        placed.append(outcome)
                        self._chosen.inc(int(outcome.candidate_faces > 1))
                    else:
                        yield dead_letter(outcome)
                if not placed:
                    return
                for outcome in self._cut(path, tracks, placed):
                    if isinstance(outcome, ClipRecord):
                        emitted.add(outcome.word_index)
                        self._clips.inc()
                        yield outcome
                    else:
                        yield dead_letter(outcome)
        except RecordError as err:
            for left in (p for p in placed if tracks.job.word_number(p.index) not in emitted):
                yield dead_letter(self._word_failure(tracks, left.index, err.reason, err.detail))


class CropMouths(beam.PTransform):
    """PCollection[VideoTracks] -> main: ClipRecord, dead_letter: failures."""

    def __init__(self, config: PreprocessConfig):
        super().__init__()
        self._config = config

    def expand(self, tracks):
        return tracks | "CutWordClips" >> beam.ParDo(CropWordClipsFn(self._config)).with_outputs(
            DEAD_LETTER, main="clips")
