"""Where to read lips when no transcript says: speech found in the audio, or the face alone.

Voice activity is pocketsphinx's WebRTC-style detector (`pocketsphinx.Vad`, shipped with
the aligner), run on 10 ms frames: a video frame is voiced when at least `min_voiced` of
the detector frames under it are. It needs no silence to measure against, so speech
that never pauses (news, interviews, debates) is found as speech; a threshold between a
recording's quiet and loud levels, as before, took such speech for its own floor.
Short pauses inside speech are bridged and blips dropped. Each stretch of speech is then
cut into spans of about a word window each, so that every span is read by the word
model as one word. Without audio, every stretch where a face is usable is tiled with
word-length spans. Settings and their measurement: benchmarks/predict.py and
benchmarks/real_footage.py. Pure numpy and pocketsphinx; no Beam, no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.preprocess.clipping import SpeechSpan
from pipelines.preprocess.word_placement import PreparedFace

VAD_FRAME_SECONDS = 0.01


@dataclass(frozen=True)
class VoiceActivityConfig:
    """Voice activity per video frame.

    `aggressiveness`: the detector's mode, 0 (most frames are speech) to 3 (the strictest;
    the others start GRID sentences' speech in the breath and noise before them);
    `min_voiced`: the share of the 10 ms detector frames under a video frame that must be
    voiced; `max_pause`, `min_speech`: pauses bridged and blips dropped, in video frames.
    """

    aggressiveness: int = 3
    min_voiced: float = 0.5
    max_pause: int = 5
    min_speech: int = 4

    def __post_init__(self):
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {self.aggressiveness!r}")
        if not 0 < self.min_voiced <= 1:
            raise ValueError(f"min_voiced must be in (0, 1], got {self.min_voiced!r}")
        if self.max_pause < 0 or self.min_speech < 1:
            raise ValueError("max_pause must be >= 0 and min_speech >= 1")


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) of each run of True in bool [N], end exclusive."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def voiced_frames(samples: np.ndarray, sample_rate: int, fps: float, num_frames: int,
                  config: VoiceActivityConfig = VoiceActivityConfig()) -> np.ndarray:
    """bool [num_frames]: video frames whose audio is speech.

    `samples`: int16 [S] mono audio from the time of frame 0 on; frame j covers
    [j / fps, (j + 1) / fps). A 10 ms detector frame counts for the video frame holding its
    centre; frames past the audio's end are not voiced.
    """
    from pocketsphinx import Vad

    vad = Vad(config.aggressiveness, sample_rate, VAD_FRAME_SECONDS)
    step = vad.frame_bytes // 2
    audio = np.ascontiguousarray(samples, dtype="<i2")
    count = audio.shape[0] // step
    voiced = np.array([vad.is_speech(audio[k * step:(k + 1) * step].tobytes())
                       for k in range(count)], dtype=bool)
    owner = np.floor((np.arange(count) + 0.5) * step / sample_rate * fps).astype(np.int64)
    inside = owner < num_frames
    total = np.bincount(owner[inside], minlength=num_frames)
    spoken = np.bincount(owner[inside], weights=voiced[inside], minlength=num_frames)
    return (total > 0) & (spoken >= config.min_voiced * np.maximum(total, 1))


def speech_segments(voiced: np.ndarray,
                    config: VoiceActivityConfig = VoiceActivityConfig()) -> list[tuple[int, int]]:
    """(first, end) frame ranges of speech, end exclusive, from bool [N] voiced frames:
    pauses of at most `max_pause` frames bridged, stretches under `min_speech` dropped."""
    merged: list[tuple[int, int]] = []
    for first, end in _runs(np.asarray(voiced, dtype=bool)):
        if merged and first - merged[-1][1] <= config.max_pause:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((first, end))
    return [(a, b) for a, b in merged if b - a >= config.min_speech]


def word_spans(segments: list[tuple[int, int]], window_length: int, fps: float,
               first_frame: int = 0) -> list[SpeechSpan]:
    """Each segment cut into spans of about `window_length` frames, as SpeechSpans.

    `segments`: frame ranges counted from `first_frame`; the spans' times are seconds
    from the first video frame, their `word` empty (unknown) and `index` their order.
    """
    spans = []
    for first, end in segments:
        parts = max(1, int(round((end - first) / window_length)))
        edges = np.linspace(first, end, parts + 1)
        for a, b in zip(edges[:-1], edges[1:]):
            spans.append(SpeechSpan(len(spans), "", (first_frame + a) / fps,
                                    (first_frame + b) / fps))
    return spans


def face_segments(faces: list[PreparedFace], num_frames: int,
                  first_frame: int = 0) -> list[tuple[int, int]]:
    """(first, end) frame ranges where some face has usable landmarks, from `first_frame`."""
    covered = np.zeros(num_frames, dtype=bool)
    for face in faces:
        lo = face.track.first_frame - first_frame
        first, end = max(lo, 0), min(lo + face.usable.shape[0], num_frames)
        if first < end:
            covered[first:end] |= face.usable[first - lo:end - lo]
    return _runs(covered)
