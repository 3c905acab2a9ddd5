"""Where to read lips when no transcript says: speech found in the audio, or the face alone.

Voice activity is energy-based: a frame is speech when its log audio energy
(audio.frame_log_energy) rises a set fraction of the way from the recording's noise
floor to its loud level; short pauses inside speech are bridged and blips dropped.
Each stretch of speech is then cut into spans of about a word window each, so that
every span is read by the word model as one word. Without audio, every stretch where
a face is usable is tiled with word-length spans. Pure numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.preprocess.clipping import SpeechSpan
from pipelines.preprocess.word_placement import PreparedFace


@dataclass(frozen=True)
class VoiceActivityConfig:
    """Energy voice activity. Energies are natural logs of mean square (ln 10 = 10 dB).

    `floor_percentile` / `loud_percentile`: the recording's noise floor and loud level;
    `threshold`: the fraction of the way from floor to loud that counts as speech;
    `min_range`: a smaller floor-to-loud range (about 13 dB) is no speech at all;
    `max_pause`, `min_speech`: pauses bridged and blips dropped, in frames.
    """

    floor_percentile: float = 10.0
    loud_percentile: float = 95.0
    threshold: float = 0.35
    min_range: float = 3.0
    max_pause: int = 5
    min_speech: int = 4

    def __post_init__(self):
        if not 0 <= self.floor_percentile < self.loud_percentile <= 100:
            raise ValueError(f"need 0 <= floor_percentile < loud_percentile <= 100, got "
                             f"{self.floor_percentile!r}, {self.loud_percentile!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")
        if self.min_range < 0 or self.max_pause < 0 or self.min_speech < 1:
            raise ValueError("min_range and max_pause must be >= 0, min_speech >= 1")


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) of each run of True in bool [N], end exclusive."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def speech_segments(energy: np.ndarray,
                    config: VoiceActivityConfig = VoiceActivityConfig()) -> list[tuple[int, int]]:
    """(first, end) frame ranges of speech, end exclusive; `energy` float [N] per frame."""
    energy = np.asarray(energy, dtype=np.float64)
    if energy.size == 0:
        return []
    floor, loud = np.percentile(energy, [config.floor_percentile, config.loud_percentile])
    if loud - floor < config.min_range:
        return []
    speech = energy > floor + config.threshold * (loud - floor)
    merged: list[tuple[int, int]] = []
    for first, end in _runs(speech):
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
