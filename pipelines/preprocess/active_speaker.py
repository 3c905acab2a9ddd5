"""Which face is speaking: audio-visual synchrony of mouth opening and speech energy.

Broadcast video often shows several faces at once (split screens, interviews). For each
word the crop must come from the face that speaks it, the track whose mouth moves with
the audio. The measure, per candidate track over the frames scored for the word
(`SpeakerConfig.span` frames centred on it, `scored_frames`):

- mouth opening per video frame: outer-lip gap over mouth width (`mouth_opening`);
- speech energy per video frame: log mean square of the audio under each 40 ms frame
  (`pipelines.preprocess.audio.frame_log_energy`);
- both averaged over 3 frames and differenced frame to frame (`sync_signals`), and the
  Pearson correlation of the two taken at the best lag in -max_lag..max_lag frames
  (`sync_score`; a positive lag means the sound follows the mouth).

The track with the highest score is chosen when it beats the runner-up by at least
`min_margin`; otherwise the word is ambiguous and must become a dead letter rather
than a crop of the wrong person. A single candidate is chosen without audio.

How the measure and its settings were chosen on GRID, with the figures and the settings
that lost: docs/results/calibration.md (The speaking face).

Pure numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from pipelines.preprocess.windows import word_window

# 68-point iBUG indices: mouth corners, and the upper/lower lip points facing each other.
_OUTER_LEFT_CORNER = 48
_OUTER_RIGHT_CORNER = 54
_FACING_LIPS = {
    "inner": ((61, 62, 63), (67, 66, 65)),
    "outer": ((50, 51, 52), (58, 57, 56)),
}
LIPS = tuple(_FACING_LIPS)
_NUM_POINTS = 68

MIN_VALID_PAIRS = 10          # frame pairs a correlation needs, else it is NaN
SMOOTHING = 3                 # frames averaged before differencing (see sync_signals)
_MIN_VARIANCE = 1e-12         # below this a signal is flat (silence, a frozen face)

AMBIGUOUS_SPEAKER = "ambiguous_speaker"
NO_SYNC_SIGNAL = "no_sync_signal"


def mouth_opening(points: np.ndarray, lips: str = "outer") -> np.ndarray:
    """Lip gap over mouth width per frame.

    Args:
      points: float [T, 68, 2], iBUG 68-point landmarks (x, y) in pixels per frame;
        NaN where the face was not found.
      lips: "outer" (the default, calibrated): the gap between the facing outer-lip
        points (50-58, 51-57, 52-56); "inner": between the facing inner-lip points
        (61-67, 62-66, 63-65).

    Returns:
      float64 [T]: the mean gap divided by the distance between the mouth corners
      (48, 54); unitless, about 0 for a closed mouth (inner lips). NaN where a point
      used is NaN or the corners coincide.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (_NUM_POINTS, 2):
        raise ValueError(f"points must have shape [T, 68, 2], got {points.shape!r}")
    if lips not in _FACING_LIPS:
        raise ValueError(f"lips must be one of {LIPS}, got {lips!r}")
    upper, lower = _FACING_LIPS[lips]
    gaps = np.linalg.norm(points[:, upper] - points[:, lower], axis=-1)
    width = np.linalg.norm(points[:, _OUTER_RIGHT_CORNER] - points[:, _OUTER_LEFT_CORNER], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        opening = gaps.mean(axis=1) / width
    return np.where(width > 0, opening, np.nan)


def _check_signals(visual: np.ndarray, audio: np.ndarray, max_lag: int) -> None:
    if visual.ndim != 1 or audio.shape != visual.shape:
        raise ValueError(
            f"the mouth and audio signals must both have shape [T], one value per frame; "
            f"got {visual.shape!r} and {audio.shape!r}")
    if int(max_lag) != max_lag or max_lag < 0:
        raise ValueError(f"max_lag must be an integer >= 0 frames, got {max_lag!r}")


def _pearson(a: np.ndarray, b: np.ndarray, min_pairs: int) -> float:
    """Correlation over the pairs where both are finite; NaN if too few or one is flat."""
    valid = np.isfinite(a) & np.isfinite(b)
    if np.count_nonzero(valid) < min_pairs:
        return math.nan
    a = a[valid] - a[valid].mean()
    b = b[valid] - b[valid].mean()
    a_power, b_power = float(a @ a), float(b @ b)
    if a_power < _MIN_VARIANCE * a.size or b_power < _MIN_VARIANCE * b.size:
        return math.nan
    return float(a @ b / math.sqrt(a_power * b_power))


def lagged_correlations(visual: np.ndarray, audio: np.ndarray, max_lag: int,
                        min_pairs: int = MIN_VALID_PAIRS) -> np.ndarray:
    """Pearson correlation of two per-frame signals at each lag.

    Args:
      visual, audio: float [N], one value per video frame (NaN = missing).
      max_lag: largest shift tried, in frames (>= 0).
      min_pairs: finite pairs a lag needs, else its correlation is NaN.

    Returns:
      float64 [2 * max_lag + 1]: entry i is the correlation at lag k = i - max_lag,
      which pairs visual[t] with audio[t + k]. A positive lag means the sound follows
      the mouth by k frames (k * 40 ms at 25 fps); a negative one, the mouth lags the sound.
    """
    visual = np.asarray(visual, dtype=np.float64)
    audio = np.asarray(audio, dtype=np.float64)
    _check_signals(visual, audio, max_lag)
    length = visual.shape[0]
    correlations = np.full(2 * max_lag + 1, np.nan)
    for index, lag in enumerate(range(-max_lag, max_lag + 1)):
        if abs(lag) >= length:
            continue
        shown = visual[max(0, -lag): length - max(0, lag)]
        heard = audio[max(0, lag): length - max(0, -lag)]
        correlations[index] = _pearson(shown, heard, min_pairs)
    return correlations


def _smoothed_change(signal: np.ndarray) -> np.ndarray:
    """float64 [T - SMOOTHING]: frame-to-frame difference of the SMOOTHING-frame average."""
    averaged = np.convolve(signal, np.ones(SMOOTHING) / SMOOTHING, mode="valid")
    return np.diff(averaged)


def sync_signals(opening: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two signals `sync_score` correlates: smoothed frame-to-frame differences.

    Each signal is averaged over SMOOTHING (3) consecutive frames, then differenced:
    value t is (x[t + 3] - x[t]) / 3, the change over 120 ms at 25 fps. Calibrated:
    this beat plain differences, absolute differences, the raw signals and a 5-frame
    average (see the module docstring).

    Args:
      opening: float [T], mouth opening per frame (see `mouth_opening`).
      energy: float [T], log speech energy of the same frames.

    Returns:
      (visual, audio): float64 [T - 3] each (NaN within 3 frames of a NaN frame; empty
      for T <= 3).
    """
    opening = np.asarray(opening, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    if opening.shape[0] <= SMOOTHING:
        return np.zeros(0), np.zeros(0)
    return _smoothed_change(opening), _smoothed_change(energy)


def sync_score(opening: np.ndarray, energy: np.ndarray, max_lag: int,
               min_pairs: int = MIN_VALID_PAIRS) -> float:
    """How well a mouth moves with the audio: the best lagged correlation of their changes.

    Args:
      opening: float [T], mouth opening per video frame (NaN where the face is missing).
      energy: float [T], log speech energy of the same frames.
      max_lag: lags -max_lag..max_lag frames are tried (see `lagged_correlations` for
        the sign: positive = the sound follows the mouth).
      min_pairs: pairs of changes (both finite) a lag needs.

    Returns:
      The largest Pearson correlation over the lags, in [-1, 1]; NaN when no lag has
      `min_pairs` valid pairs or a signal is flat (silent audio, a still face).
    """
    opening = np.asarray(opening, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    _check_signals(opening, energy, max_lag)
    correlations = lagged_correlations(*sync_signals(opening, energy), max_lag, min_pairs)
    return float(np.nanmax(correlations)) if np.isfinite(correlations).any() else math.nan


def scored_frames(start: float, end: float, n_frames: int, span: int,
                  fps: float = 25.0) -> tuple[int, int]:
    """The frames scored for a word: `span` frames centred on it, clipped to the video.

    Args:
      start, end: the word's times in seconds from the video's first frame.
      n_frames: frames in the video.
      span: frames wanted, centred on the word's midpoint as `word_window` centres them.
      fps: video frame rate.

    Returns:
      (first, stop): frames first..stop-1; fewer than `span` near the video's ends.
      Raises RecordError for word times the video cannot hold (as `word_window`).
    """
    window = word_window(start, end, n_frames, length=span, fps=fps)
    return max(window.first_frame, 0), min(window.first_frame + span, n_frames)


@dataclass(frozen=True)
class SpeakerChoice:
    """The outcome of choosing the speaking face for one span of frames.

    Attributes:
      track_id: the chosen track, or None when the choice is refused (see `reason`).
      score: the best track's sync score (NaN when no track has one).
      margin: best score minus the runner-up's; +inf with a single candidate; NaN when
        no track has a score. A candidate without a score counts as 0 (no evidence of
        sync) for the margin.
      scores: each candidate's sync score (NaN = too few frames or flat signals).
      reason: None when a track is chosen; "ambiguous_speaker" when the margin is under
        the threshold, "no_sync_signal" when no candidate has a score (silent audio).
    """

    track_id: str | None
    score: float
    margin: float
    scores: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None


def _margin_score(score: float) -> float:
    return score if math.isfinite(score) else 0.0


def choose_speaker(openings: Mapping[str, np.ndarray], energy: np.ndarray | None,
                   max_lag: int, min_margin: float) -> SpeakerChoice:
    """Picks the track whose mouth moves with the audio, or refuses when unsure.

    Args:
      openings: track id -> float [T] mouth opening over the scored frames (NaN where
        that face is missing); at least one track.
      energy: float [T] log speech energy of the same frames, or None without audio.
      max_lag: lag search in frames, as in `sync_score`.
      min_margin: the best score must beat the runner-up by at least this much.

    Returns:
      A SpeakerChoice. One candidate is chosen whatever the audio (score NaN without
      audio). Several candidates without audio, or where no score can be computed,
      give reason "no_sync_signal"; a margin under `min_margin`, "ambiguous_speaker".
    """
    if not openings:
        raise ValueError("openings must hold at least one track")
    if not (math.isfinite(min_margin) and min_margin >= 0):
        raise ValueError(f"min_margin must be finite and >= 0, got {min_margin!r}")
    if energy is None:
        scores = {track: math.nan for track in openings}
    else:
        scores = {track: sync_score(opening, energy, max_lag)
                  for track, opening in openings.items()}
    if len(scores) == 1:
        (track, score), = scores.items()
        return SpeakerChoice(track, score, math.inf, scores)
    scored = [track for track, score in scores.items() if math.isfinite(score)]
    if not scored:
        return SpeakerChoice(None, math.nan, math.nan, scores, NO_SYNC_SIGNAL)
    ranked = sorted(scores, key=lambda track: _margin_score(scores[track]), reverse=True)
    best, runner_up = ranked[0], ranked[1]
    margin = _margin_score(scores[best]) - _margin_score(scores[runner_up])
    if margin < min_margin:
        return SpeakerChoice(None, scores[best], margin, scores, AMBIGUOUS_SPEAKER)
    return SpeakerChoice(best, scores[best], margin, scores)


@dataclass(frozen=True)
class SpeakerConfig:
    """How the speaking face is chosen; the defaults are the calibrated ones.

    They hold for openings from `mouth_opening` with its default lips, on landmarks that
    are not smoothed (gaps may be bridged), and for `sync_score` as it is.

    Attributes:
      max_lag: lag search, frames either way (40 ms each at 25 fps).
      min_margin: the best sync score must beat the runner-up's by this much.
      span: frames scored for a word, centred on it (clipped to the video).
    """

    max_lag: int = 1
    min_margin: float = 0.16
    span: int = 75

    def __post_init__(self) -> None:
        if int(self.max_lag) != self.max_lag or self.max_lag < 0:
            raise ValueError(f"max_lag must be an integer >= 0 frames, got {self.max_lag!r}")
        if not (math.isfinite(self.min_margin) and self.min_margin >= 0):
            raise ValueError(f"min_margin must be finite and >= 0, got {self.min_margin!r}")
        shortest = MIN_VALID_PAIRS + SMOOTHING + self.max_lag
        if int(self.span) != self.span or self.span < shortest:
            raise ValueError(
                f"span must be an integer of at least {shortest} frames (min pairs "
                f"{MIN_VALID_PAIRS} + smoothing {SMOOTHING} + max_lag), got {self.span!r}")
