"""Stage 3: fixed word windows of grey mouth crops, aligned to the mean face.

For each video: fill short landmark gaps and smooth the track, place each word's
window, then decode the video a second time and warp only the frames some window
uses. A window is emitted as soon as its last frame has gone by, and crops no window
still needs are dropped, so memory stays bounded on hour-long videos. A window any of
whose frames has no face within `max_gap` frames is a dead letter, never a crop of
something else.
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipelines.preprocess.alignment import mouth_crop_transform, warp_crop
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.detect_landmarks import LandmarkTrack, local_copy
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.quality import measure_quality
from pipelines.preprocess.tracking import interpolate_missing, smooth_track
from pipelines.preprocess.transcripts import WordTiming
from pipelines.preprocess.windows import WordWindow, word_window
from schemas.clip import ClipRecord

STAGE = "crop_mouths"


@dataclass
class PlacedWord:
    """A word whose window lies inside the video and has a face in every frame."""

    index: int
    word: WordTiming
    start: float
    end: float
    window: WordWindow

    @property
    def last_frame(self) -> int:
        return int(self.window.frame_indices.max())


def absolute_times(word: WordTiming, anchor: str, duration: float) -> tuple[float, float]:
    """Word (start, end) in seconds from the video start; LRW times count from its centre."""
    if anchor == "centre":
        return word.start + duration / 2.0, word.end + duration / 2.0
    return word.start, word.end


def clip_id(video_id: str, index: int, word: str) -> str:
    return f"{video_id}#{index:04d}_{word}"


class CropWordClipsFn(beam.DoFn):
    """LandmarkTrack -> ClipRecord per word; words that cannot be cut are dead letters."""

    def __init__(self, config: PreprocessConfig):
        self._config = config
        self._clips = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.clips")
        self._reference = None

    def setup(self):
        self._reference = mean_face()

    def _word_failure(self, track: LandmarkTrack, index: int, reason: str, detail: str) -> dict:
        video = track.job.input
        return failure(video.video, STAGE, reason, detail, video_id=video.video_id,
                       word=track.job.transcript.words[index].word, word_index=index,
                       words_affected=1)

    def _place_words(self, track: LandmarkTrack, usable: np.ndarray):
        """Yields PlacedWord for each word that can be cut, else its failure dict."""
        config = self._config
        duration = track.num_frames / config.fps
        for index, word in enumerate(track.job.transcript.words):
            start, end = absolute_times(word, track.job.transcript.anchor, duration)
            try:
                window = word_window(start, end, track.num_frames, config.window_length,
                                     config.fps, config.end_tolerance)
            except RecordError as err:
                detail = err.detail
                if track.decode_warnings:
                    detail += f"; ffmpeg reported damage: {track.decode_warnings[-300:]}"
                yield self._word_failure(track, index, err.reason, detail)
                continue
            faceless = int(np.count_nonzero(~usable[window.frame_indices]))
            if faceless:
                yield self._word_failure(
                    track, index, "no_face",
                    f"{faceless} of {config.window_length} window frames have no face within "
                    f"{config.max_gap} frames")
                continue
            yield PlacedWord(index, word, start, end, window)

    def _record(self, track: LandmarkTrack, placed: PlacedWord, crops: dict,
                smoothed: np.ndarray, transforms: dict) -> ClipRecord:
        video = track.job.input
        frames = placed.window.frame_indices
        crops_used = np.stack([crops[i] for i in frames])
        quality = measure_quality(crops_used, smoothed[frames], track.points[frames],
                                  track.fitted[frames])
        return ClipRecord(
            clip_id=clip_id(video.video_id, placed.index, placed.word.word),
            video_id=video.video_id, source_video=video.video, word=placed.word.word,
            word_index=placed.index, start_time=placed.start, end_time=placed.end,
            fps=self._config.fps, first_frame=placed.window.first_frame,
            padded_before=placed.window.padded_before, padded_after=placed.window.padded_after,
            frames=crops_used,
            boundary_mask=placed.window.boundary_mask.astype(np.uint8),
            landmarks=smoothed[frames].astype(np.float32),
            landmark_detected=track.fitted[frames],
            crop_transform=np.stack([transforms[i] for i in frames]).astype(np.float32),
            speaker=video.speaker, show=video.show, split=video.split,
            face_size=quality.face_size,
            yaw=quality.yaw, landmark_jitter=quality.jitter, sharpness=quality.sharpness)

    def _cut(self, path: str, track: LandmarkTrack, placed: list[PlacedWord],
             smoothed: np.ndarray):
        """Second decode: warps the frames the windows need, yields each finished clip."""
        size = self._config.crop_size
        needed = set(int(i) for p in placed for i in p.window.frame_indices)
        pending = sorted(placed, key=lambda p: p.last_frame)
        crops: dict[int, np.ndarray] = {}
        transforms: dict[int, np.ndarray] = {}
        frames = decode_frames(path, DecodeReport(), self._config.fps, self._config.max_side)
        for index, frame in enumerate(frames):
            if index in needed:
                transforms[index] = mouth_crop_transform(smoothed[index], self._reference, size)
                crops[index] = warp_crop(frame, transforms[index], size)
            while pending and pending[0].last_frame <= index:
                yield self._record(track, pending.pop(0), crops, smoothed, transforms)
            if pending:
                oldest = min(int(p.window.frame_indices.min()) for p in pending)
                for stale in [i for i in crops if i < oldest]:
                    del crops[stale], transforms[stale]
        for left in pending:
            yield self._word_failure(track, left.index, "decode_mismatch",
                                     f"the second decode ended before frame {left.last_frame}")

    def process(self, track: LandmarkTrack):
        config = self._config
        filled, usable = interpolate_missing(track.points, track.fitted, config.max_gap)
        smoothed = smooth_track(filled, usable, config.smooth_window)
        placed = []
        for outcome in self._place_words(track, usable):
            if isinstance(outcome, PlacedWord):
                placed.append(outcome)
            else:
                yield dead_letter(outcome)
        if not placed:
            return
        video = track.job.input
        emitted = set()
        try:
            with local_copy(video.video) as path:
                for outcome in self._cut(path, track, placed, smoothed):
                    if isinstance(outcome, ClipRecord):
                        emitted.add(outcome.word_index)
                        self._clips.inc()
                        yield outcome
                    else:
                        yield dead_letter(outcome)
        except RecordError as err:
            for left in (p for p in placed if p.index not in emitted):
                yield dead_letter(self._word_failure(track, left.index, err.reason, err.detail))


class CropMouths(beam.PTransform):
    """PCollection[LandmarkTrack] -> main: ClipRecord, dead_letter: failures."""

    def __init__(self, config: PreprocessConfig):
        super().__init__()
        self._config = config

    def expand(self, tracks):
        return tracks | "CutWordClips" >> beam.ParDo(CropWordClipsFn(self._config)).with_outputs(
            DEAD_LETTER, main="clips")
