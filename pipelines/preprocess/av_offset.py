"""How far a speaking face's sound is shifted from its picture, from the sync signal.

Broadcast audio can lead or lag the picture by several frames even after the container
clock is applied (VGG corrected each LRS clip by SyncNet's offset). The same signals
that choose the speaking face (active_speaker.py: the change of mouth opening and the
change of log speech energy) are correlated over a long span of one face track at every
lag in -max_lag..max_lag frames; the lag where they agree best is the offset. A positive
offset k means the sound follows the mouth by k frames: a word heard at time t was
spoken on screen at t - k / fps.

The estimate is trusted (`AvOffset.confident`) when the best correlation is at least
`min_peak` and beats the best correlation at lags `exclusion` or more frames away from
it by at least `min_distinctness`: a short span, a still face or a face that does not
speak give a flat or many-peaked curve. Calibration: benchmarks/av_offset.py (selection
and held-out halves of GRID recordings and of real footage with their audio shifted by
known amounts; figures in benchmarks/results/av_offset.json). Pure numpy; no Beam, no
TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipelines.preprocess.active_speaker import lagged_correlations, sync_signals


@dataclass(frozen=True)
class OffsetRule:
    """How the offset is searched and when it is trusted.

    `max_lag`: lags searched either way, in frames; `min_frames`: the shortest stretch of a
    track (frames with the mouth and the audio both known) worth an estimate;
    `min_peak`, `min_distinctness`, `exclusion`: see the module docstring; `min_shift`:
    the smallest trusted offset that is applied (in sync, the signals' own peak lies at 0
    or -1 frame, so a one-frame estimate is no evidence of an offset).
    """

    max_lag: int = 10
    min_frames: int = 50
    min_peak: float = 0.2
    min_distinctness: float = 0.25
    exclusion: int = 3
    min_shift: int = 2

    def __post_init__(self):
        if self.max_lag < 1 or self.exclusion < 1 or self.min_frames < 2 * self.max_lag + 10:
            raise ValueError(f"need max_lag >= 1, exclusion >= 1 and min_frames >= "
                             f"2 * max_lag + 10: {self!r}")
        if not 1 <= self.min_shift <= self.max_lag:
            raise ValueError(f"min_shift must be in 1..max_lag, got {self.min_shift!r}")
        if not (-1 <= self.min_peak <= 1 and 0 <= self.min_distinctness <= 2):
            raise ValueError(f"min_peak must be in [-1, 1], min_distinctness in [0, 2]: {self!r}")


@dataclass(frozen=True)
class AvOffset:
    """An offset estimate: `frames` (sound after mouth, positive), the correlation at it
    (`peak`), its lead over the best correlation away from it (`distinctness`), the
    frames it rests on, and whether the rule trusts it."""

    frames: int
    peak: float
    distinctness: float
    frames_used: int
    confident: bool

    def applied(self, rule: "OffsetRule") -> int:
        """The frames to move this face's word times by: the estimate when it is trusted
        and at least `rule.min_shift`, else 0."""
        return self.frames if self.confident and abs(self.frames) >= rule.min_shift else 0


NO_OFFSET = AvOffset(0, math.nan, math.nan, 0, False)


def delayed(signal: np.ndarray, frames: int) -> np.ndarray:
    """float [T]: `signal` [T] moved `frames` later (earlier if negative), NaN where
    nothing is known."""
    signal = np.asarray(signal, dtype=np.float64)
    if frames == 0:
        return signal
    moved = np.full_like(signal, np.nan)
    if abs(frames) >= signal.shape[0]:
        return moved
    if frames > 0:
        moved[frames:] = signal[:-frames]
    else:
        moved[:frames] = signal[-frames:]
    return moved


def estimate_offset(opening: np.ndarray, energy: np.ndarray,
                    rule: OffsetRule = OffsetRule()) -> AvOffset:
    """The offset of one face's sound from its mouth over a span of frames.

    Args:
      opening: float [T] mouth opening per frame (active_speaker.mouth_opening of the
        unsmoothed track; NaN where the face is missing).
      energy: float [T] log speech energy of the same frames.
      rule: search and trust settings.

    Returns:
      AvOffset; NO_OFFSET (not confident, 0 frames) when fewer than `rule.min_frames`
      frames have both signals or no lag can be scored.
    """
    opening = np.asarray(opening, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    if opening.shape != energy.shape or opening.ndim != 1:
        raise ValueError(f"opening and energy must both be [T], got {opening.shape!r} and "
                         f"{energy.shape!r}")
    known = int(np.count_nonzero(np.isfinite(opening) & np.isfinite(energy)))
    if known < rule.min_frames:
        return NO_OFFSET
    visual, audio = sync_signals(opening, energy)
    correlations = lagged_correlations(visual, audio, rule.max_lag,
                                       min_pairs=rule.min_frames // 2)
    if not np.isfinite(correlations).any():
        return NO_OFFSET
    best = int(np.nanargmax(correlations))
    lags = np.arange(-rule.max_lag, rule.max_lag + 1)
    away = np.abs(lags - lags[best]) >= rule.exclusion
    rival = np.nanmax(correlations[away]) if np.isfinite(correlations[away]).any() else -1.0
    peak = float(correlations[best])
    distinctness = peak - float(rival)
    confident = peak >= rule.min_peak and distinctness >= rule.min_distinctness
    return AvOffset(int(lags[best]), peak, distinctness, known, confident)
