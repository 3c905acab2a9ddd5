"""Stage 3: fixed word windows of grey mouth crops, aligned to the mean face.

For each video: fill short landmark gaps and smooth each face track, place each word's
window inside its shot and choose its face, then decode the video a second time and
warp only the (frame, face) pairs some window uses (the flow is `clipping.py`; this
stage builds the records, counts, and turns failures into dead letters). A window is
emitted as soon as its last frame has gone by, and crops no window still needs are
dropped, so memory stays bounded on hour-long videos. A window without a usable face
on every frame, or with several faces and no clear speaker, is a dead letter, never a
crop of something or someone else.
"""

from __future__ import annotations

import math

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipelines.preprocess import clipping
from pipelines.preprocess.active_speaker import SpeakerConfig
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.detect_landmarks import VideoTracks, local_copy
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.quality import measure_quality
from pipelines.preprocess.word_placement import PlacedWord, video_word_times
from schemas.clip import ClipRecord

STAGE = "crop_mouths"


def clip_id(video_id: str, index: int, word: str) -> str:
    return f"{video_id}#{index:04d}_{word}"


def _optional(value: float | None) -> float:
    return math.nan if value is None else float(value)


def word_spans(tracks: VideoTracks, fps: float) -> list[clipping.SpeechSpan]:
    """The work item's words, timed from the first video frame (`index`: transcript position)."""
    transcript = tracks.job.transcript
    spans = []
    for index in tracks.job.word_indices:
        word = transcript.words[index]
        start, end = video_word_times(word.start, word.end, transcript.anchor, tracks.faces, fps)
        spans.append(clipping.SpeechSpan(index, word.word, start, end))
    return spans


def word_clip(tracks: VideoTracks, placed: PlacedWord, cut: clipping.CutCrops,
              fps: float) -> ClipRecord:
    """The ClipRecord of a placed word from its crops, with its landmarks and quality."""
    video = tracks.job.input
    timing = tracks.job.transcript.words[placed.index]
    frames = placed.window.frame_indices
    face = placed.face
    smoothed, fitted = face.points(frames), face.fitted(frames)
    quality = measure_quality(cut.frames, smoothed, face.points(frames, "fitted"), fitted)
    number = tracks.job.word_number(placed.index)
    return ClipRecord(
        clip_id=clip_id(video.video_id, number, placed.word),
        video_id=video.video_id, source_video=video.video, word=placed.word,
        word_index=number, start_time=placed.start + tracks.faces.video_start,
        end_time=placed.end + tracks.faces.video_start,
        fps=fps, first_frame=placed.window.first_frame,
        padded_before=placed.window.padded_before, padded_after=placed.window.padded_after,
        frames=cut.frames,
        boundary_mask=placed.window.boundary_mask.astype(np.uint8),
        landmarks=smoothed.astype(np.float32), landmark_detected=fitted,
        crop_transform=cut.transforms.astype(np.float32),
        speaker=video.speaker, show=video.show, split=video.split, group=video.group,
        face_size=quality.face_size, yaw=quality.yaw, landmark_jitter=quality.jitter,
        sharpness=quality.sharpness, video_start=tracks.faces.video_start,
        shot=placed.shot, face_track=face.track.track_id, candidate_faces=placed.candidate_faces,
        speaker_score=placed.speaker_score, speaker_margin=placed.speaker_margin,
        asd_score=_optional(getattr(timing, "asd_score", None)),
        alignment_confidence=_optional(getattr(timing, "confidence", None)))


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

    def _placed_words(self, path: str, tracks: VideoTracks, placed: list[PlacedWord]):
        """Fills `placed` with the cuttable words; yields dead letters for the others."""
        config = self._config
        energy = clipping.speech_energy(path, tracks.faces, config.fps, tracks.has_audio)
        for outcome in clipping.place_words(word_spans(tracks, config.fps), tracks.faces, energy,
                                            config, self._speaker):
            if isinstance(outcome, clipping.Unplaced):
                yield dead_letter(self._word_failure(tracks, outcome.index, outcome.reason,
                                                     outcome.detail))
            else:
                placed.append(outcome)
                self._chosen.inc(int(outcome.candidate_faces > 1))

    def _clips_of(self, path: str, tracks: VideoTracks, placed: list[PlacedWord]):
        config = self._config
        frames = clipping.decode_for_cut(path, tracks.faces, config)
        for outcome in clipping.cut_crops(frames, clipping.crop_requests(placed),
                                          self._reference, config.crop_size, tracks.faces.first):
            word = placed[outcome.request]
            if isinstance(outcome, clipping.Uncut):
                yield self._word_failure(tracks, word.index, "decode_mismatch", outcome.detail)
            else:
                yield word_clip(tracks, word, outcome, config.fps)

    def process(self, tracks: VideoTracks):
        video = tracks.job.input
        emitted: set[int] = set()
        placed: list[PlacedWord] = []
        try:
            with local_copy(video.video) as path:
                yield from self._placed_words(path, tracks, placed)
                if not placed:
                    return
                for outcome in self._clips_of(path, tracks, placed):
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
