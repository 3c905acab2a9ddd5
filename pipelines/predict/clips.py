"""One video's clips for the model, cut by the clip-cutting library as the preprocess job cuts.

With a transcript (any format the preprocess job reads; subtitles are aligned first),
each word is a span; without one, the spans are the speech found in the audio, or
word-length stretches of the talking face when there is no audio (segments.py). Each
span is placed (window in its shot, the speaking face) and cut by `clipping`, exactly
as CropWordClipsFn does, so a word's crops are the ones its training clip would hold.
No Beam pipeline, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass

import numpy as np

from pipelines.preprocess import clipping
from pipelines.preprocess.active_speaker import SpeakerConfig
from pipelines.preprocess.audio import SAMPLE_RATE, probe_media
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.crop_sources import CropSources
from pipelines.preprocess.decode import FrameRange
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.frame_plan import wanted_ranges
from pipelines.preprocess.inputs import VideoInput, transcript_for
from pipelines.preprocess.landmarks.base import LandmarkBackend
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import MAX_TRANSCRIPT_BYTES, parse_transcript
from pipelines.preprocess.word_placement import PlacedWord, prepare_faces, video_word_times
from pipelines.predict import segments

_LOG = logging.getLogger(__name__)
WORD, SPEECH, FACE = "word", "speech", "face"  # what a segment's span came from


@dataclass(eq=False)
class Segment:
    """A span of the video cut into a clip: `frames` uint8 [T, S, S], `boundary_mask`
    uint8 [T] (1 on the span's own frames), times in seconds on the container clock."""

    index: int
    kind: str
    true_word: str | None
    start: float
    end: float
    placed: PlacedWord
    frames: np.ndarray
    boundary_mask: np.ndarray
    fps: float = 25.0


@dataclass(frozen=True)
class Skipped:
    """A span that could not be cut, and why (the preprocess job's dead-letter reasons)."""

    index: int
    kind: str
    true_word: str | None
    start: float
    end: float
    reason: str
    detail: str


@dataclass
class VideoClips:
    """Everything cut from one video, and where its spans came from."""

    video: str
    transcript: str | None
    source: str                    # WORD, SPEECH or FACE
    num_frames: int
    video_start: float
    segments: list[Segment]
    skipped: list[Skipped]
    height: int = 0
    width: int = 0


@dataclass(frozen=True)
class VideoWords:
    """A video's transcript words as library spans; failures of the transcript itself."""

    job: VideoJob | None
    failures: tuple[tuple[str, str], ...] = ()


def read_transcript(video: str, transcript: str, aligner=None) -> VideoWords:
    """The video's job with timed words (subtitles and sentence-only transcripts aligned by
    `aligner`: a loaded TranscriptAligner, or a function returning one, called only when
    the transcript needs it); RecordError for a transcript that cannot be read."""
    with open(transcript, "rb") as handle:
        parsed = parse_transcript(handle.read(MAX_TRANSCRIPT_BYTES + 1),
                                  os.path.basename(transcript))
    job = VideoJob(VideoInput(video, os.path.basename(video), transcript), parsed)
    if not parsed.needs_alignment:
        return VideoWords(job)
    if aligner is None:
        raise ValueError("a subtitle or sentence-only transcript needs an aligner")
    if callable(aligner) and not hasattr(aligner, "align"):
        aligner = aligner()
    result = aligner.align(job)
    return VideoWords(result.job, tuple((f["reason"], f["detail"]) for f in result.failures))


def _transcript_spans(job: VideoJob, faces, fps: float) -> list[clipping.SpeechSpan]:
    spans = []
    for index, word in enumerate(job.transcript.words):
        start, end = video_word_times(word.start, word.end, job.transcript.anchor, faces, fps)
        spans.append(clipping.SpeechSpan(index, word.word, start, end))
    return spans


def _ranges(job: VideoJob | None, config: PreprocessConfig, video_start: float,
            context: int | None = None):
    if job is None:
        return None
    return wanted_ranges(job, config, video_start, FrameRange(video_start=video_start), context)


def _crop_sources(job: VideoJob | None, config: PreprocessConfig, video_start: float,
                  reference: np.ndarray) -> CropSources | None:
    """Where a transcript bounds the frames crops can use, the landmark pass keeps their
    regions (one decode); without one, any faced frame may be cut, and keeping them all
    would grow with the video, so the crops come from a second decode."""
    if job is None:
        return None
    return CropSources(reference, config.crop_size,
                       _ranges(job, config, video_start, config.max_av_offset))


def _spans(job, tracked: clipping.TrackedVideo, audio: clipping.SpeechAudio | None,
           config: PreprocessConfig):
    faces = tracked.faces
    if job is not None:
        return WORD, _transcript_spans(job, faces, config.fps)
    if audio is not None:
        voiced = segments.voiced_frames(audio.samples, SAMPLE_RATE, config.fps,
                                        faces.decoded_frames)
        found = segments.speech_segments(voiced)
        return SPEECH, segments.word_spans(found, config.window_length, config.fps, faces.first)
    prepared = prepare_faces(faces.faces, config.max_gap, config.smooth_window)
    found = segments.face_segments(prepared, faces.decoded_frames, faces.first)
    return FACE, segments.word_spans(found, config.window_length, config.fps, faces.first)


def cut_video(path: str, words: VideoWords | None, config: PreprocessConfig,
              backend: LandmarkBackend, reference: np.ndarray,
              speaker: SpeakerConfig = SpeakerConfig()) -> VideoClips:
    """Tracks, places and cuts one local video; RecordError if it cannot be decoded."""
    job = words.job if words is not None else None
    media = probe_media(path, config.fps)
    tracked = clipping.track_video(path, config, backend, _ranges(job, config, media.video_start),
                                   media,
                                   sources=_crop_sources(job, config, media.video_start, reference))
    faces = tracked.faces
    audio = clipping.speech_audio(path, faces, config.fps, tracked.has_audio)
    energy = None if audio is None else audio.energy
    source, spans = _spans(job, tracked, audio, config)
    start_of = faces.video_start
    placed, skipped = [], []
    for outcome in clipping.place_words(spans, faces, energy, config, speaker):
        span = spans[outcome.index]  # every span's index is its position in `spans`
        truth = span.word or None
        if isinstance(outcome, clipping.Unplaced):
            skipped.append(Skipped(span.index, source, truth, span.start + start_of,
                                   span.end + start_of, outcome.reason, outcome.detail))
        else:
            placed.append((span, outcome))
    cut = {}
    if placed:
        outcomes = clipping.cut_video_crops(path, tracked, clipping.crop_requests(
            [p for _, p in placed]), reference, config)
        cut = {c.request: c for c in outcomes if not isinstance(c, clipping.SecondDecode)}
    found = []
    for number, (span, word) in enumerate(placed):
        outcome = cut.get(number)
        if not isinstance(outcome, clipping.CutCrops):
            detail = outcome.detail if outcome is not None else "no crops"
            skipped.append(Skipped(span.index, source, span.word or None, span.start + start_of,
                                   span.end + start_of, "decode_mismatch", detail))
            continue
        found.append(Segment(span.index, source, span.word or None, span.start + start_of,
                             span.end + start_of, word, outcome.frames,
                             word.window.boundary_mask.astype(np.uint8), config.fps))
    transcript_failures = [Skipped(-1, WORD, None, float("nan"), float("nan"), reason, detail)
                           for reason, detail in (words.failures if words else ())]
    return VideoClips(path, None if job is None else job.input.transcript, source,
                      faces.num_frames, faces.video_start, found,
                      sorted(skipped, key=lambda s: s.index) + transcript_failures,
                      faces.height, faces.width)


def config_for(contract, base: PreprocessConfig) -> PreprocessConfig:
    """The preprocess settings that cut clips the way the model's training clips were cut."""
    return dataclasses.replace(base, fps=contract.fps, window_length=contract.window_length,
                               crop_size=contract.crop_size, landmarks=contract.landmarks,
                               smooth_window=contract.smooth_window)


def find_transcript(video: str) -> str | None:
    """The transcript beside the video (or in a sibling folder), as the preprocess job finds it."""
    try:
        return transcript_for(video)
    except OSError as err:
        raise RecordError("unreadable_video", str(err)) from err
