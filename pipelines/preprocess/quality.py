"""Quality of a word clip: five numbers, and the first threshold a clip fails.

The dataset step drops clips that would teach a lip-reading model the wrong thing: a
face too small to show the lips, a head turned away, landmarks that shake, too many
frames whose landmarks were guessed, and crops too blurred to show the mouth.
`measure_quality` turns a clip into `QualityMetrics`; `quality_failure` compares them
with `QualityThresholds` and names the first failure as (reason, detail) for the
dead-letter output. Landmarks follow the 68-point iBUG scheme (0-based: 33 nose tip,
36 and 45 outer eye corners), (x, y) in source-frame pixels. Pure numpy plus cv2 for
the Laplacian; no Beam, no TensorFlow.

The thresholds were chosen on real footage (TED, interviews, presenters, press) and GRID,
on a selection half of the videos and checked on the other half, by
`benchmarks/quality_thresholds.py`; the procedure and its figures are in docs/quality.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

NOSE_TIP = 33
LEFT_EYE_OUTER = 36
RIGHT_EYE_OUTER = 45
N_LANDMARKS = 68

FACE_TOO_SMALL = "face_too_small"
HEAD_TURNED = "head_turned"
LANDMARK_JITTER = "landmark_jitter"
TOO_MANY_INTERPOLATED = "too_many_interpolated"
TOO_BLURRED = "too_blurred"
# The order in which quality_failure checks; the first failure is the reason reported.
QUALITY_REASONS: tuple[str, ...] = (
    FACE_TOO_SMALL, HEAD_TURNED, LANDMARK_JITTER, TOO_MANY_INTERPOLATED, TOO_BLURRED)


@dataclass(frozen=True)
class QualityMetrics:
    """What `measure_quality` found in one clip."""

    face_size: float              # median outer-eye-corner distance (36 to 45), source pixels
    yaw: float                    # head-turn proxy in [0, 1]: 0 frontal, about 1 in profile
    jitter: float                 # fitting noise of the rigid points, per face_size
    interpolated_fraction: float  # share of frames whose landmarks were not fitted, [0, 1]
    sharpness: float              # mean variance of the crop's Laplacian, grey levels squared


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a clip must keep; a value equal to its limit passes. The defaults were chosen
    on real footage and GRID by benchmarks/quality_thresholds.py (selection half; see
    docs/quality.md): the 97th percentile of real clips for yaw and jitter, the 3rd for
    sharpness, and a face-size floor below which crops are mostly enlarged pixels."""

    # 80 / 30 = 2.7x enlarged at the floor (mouth about 19 px wide); the face mesh still
    # tracks steadily and crops stay sharp at 20 px (the scale sweep), but past a 3x
    # enlargement a crop shows interpolated pixels more than lips.
    min_face_size: float = 30.0
    # yaw 0.8: a head turned about 50 degrees by the head model (0.6 tan(turn)); TED
    # speakers turned towards their audience reach it. Profile views go.
    max_yaw: float = 0.8
    # Fitting noise of 3.4% of the eye distance; GRID faces with 2 px of noise added to
    # their points are all refused.
    max_jitter: float = 0.034
    # A clip where most frames were never fitted shows a face the model mostly lost.
    max_interpolated_fraction: float = 0.5
    # Every crop blurred with sigma 3 is refused, most (84%) blurred with sigma 1.5.
    min_sharpness: float = 7.0

    def __post_init__(self):
        _require_range("min_face_size", self.min_face_size, 0.0, np.inf, "px")
        _require_range("max_yaw", self.max_yaw, 0.0, 1.0, "(0 frontal, 1 profile)")
        _require_range("max_jitter", self.max_jitter, 0.0, np.inf, "(share of the face size)")
        _require_range("max_interpolated_fraction", self.max_interpolated_fraction, 0.0, 1.0,
                       "(share of the frames)")
        _require_range("min_sharpness", self.min_sharpness, 0.0, np.inf, "(Laplacian variance)")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _require_range(name: str, value: float, low: float, high: float, unit: str) -> None:
    """Raises ValueError unless value is a real number with low <= value <= high."""
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool)
    if not (is_number and low <= value <= high):
        upper = "" if high == np.inf else f" and <= {high}"
        raise ValueError(f"{name} must be a number >= {low}{upper} {unit}, got {value!r}")


def _check_clip(frames: np.ndarray, landmarks: np.ndarray, raw_landmarks: np.ndarray,
                fitted: np.ndarray) -> None:
    if frames.ndim != 3 or frames.shape[0] < 1 or frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be uint8 [T, H, W] with T >= 1, got {frames.dtype} {frames.shape!r}")
    length = frames.shape[0]
    for name, points in (("landmarks", landmarks), ("raw_landmarks", raw_landmarks)):
        if points.shape != (length, N_LANDMARKS, 2):
            raise ValueError(f"{name} must have shape [T, 68, 2] with T = {length} as in frames, "
                             f"got {points.shape!r}")
    if fitted.shape != (length,) or fitted.dtype != np.bool_:
        raise ValueError(f"fitted must be bool [T] with T = {length}, got {fitted.dtype} "
                         f"{fitted.shape!r}")
    if not np.all(np.isfinite(landmarks)):
        raise ValueError("landmarks must be finite in every frame (they are the smoothed track)")
    if not np.all(np.isfinite(raw_landmarks[fitted])):
        raise ValueError("raw_landmarks must be finite in every frame where fitted is True")


def eye_distances(landmarks: np.ndarray) -> np.ndarray:
    """float64 [T]: distance between the outer eye corners (36, 45) of landmarks [T, 68, 2]."""
    eye_line = landmarks[:, RIGHT_EYE_OUTER] - landmarks[:, LEFT_EYE_OUTER]
    return np.linalg.norm(eye_line.astype(np.float64), axis=-1)


def frame_yaws(landmarks: np.ndarray) -> np.ndarray:
    """float64 [T] in [0, 1]: |2r - 1| per frame, r = nose tip's place along the eye line.

    r is the projection of (p33 - p36) onto the direction p36 -> p45, divided by the
    eye distance: 0.5 when the nose tip lies midway between the outer eye corners, so
    the value is 0 for a frontal face and grows towards 1 as the head turns (clipped
    at 1 once the nose tip passes an eye corner). Rotation in the image plane (roll)
    does not change it. Frames whose eye corners coincide raise ValueError.
    """
    points = landmarks.astype(np.float64)
    eye_line = points[:, RIGHT_EYE_OUTER] - points[:, LEFT_EYE_OUTER]
    distance = np.linalg.norm(eye_line, axis=-1)
    if np.any(distance <= 0.0):
        raise ValueError(f"outer eye corners (points 36, 45) coincide in frames "
                         f"{np.flatnonzero(distance <= 0.0).tolist()!r}; landmarks are degenerate")
    along = np.sum((points[:, NOSE_TIP] - points[:, LEFT_EYE_OUTER]) * eye_line, axis=-1)
    ratio = along / distance ** 2
    return np.minimum(np.abs(2.0 * ratio - 1.0), 1.0)


# Points whose motion is the head's alone: brows, nose and eyes (17-47). The jaw line and
# the lips move with speech, and the jaw line is the least certain part of every fit.
RIGID_POINTS = slice(17, 48)
_MAD_TO_SIGMA = 1.0 / 0.6745        # a normal variable's standard deviation per median |x|
_SECOND_DIFFERENCE_GAIN = np.sqrt(6.0)  # std of x[t+1] - 2x[t] + x[t-1] for white noise
_MIN_SECOND_DIFFERENCES = 5


def landmark_jitter(raw_landmarks: np.ndarray, fitted: np.ndarray, face_size: float) -> float:
    """Fitting noise of the rigid points (17-47) per face size: how much they shake.

    The noise is read from second differences, p[t+1] - 2 p[t] + p[t-1], over runs of
    consecutive fitted frames: a moving head (which any real speaker is) changes them
    little, white fitting noise of sigma pixels per coordinate gives them a spread of
    sqrt(6) sigma. Per point and coordinate the spread is taken robustly (median absolute
    value / 0.6745, so a real jolt or a cut does not count), turned back into sigma, and
    the result is the mean over points of sqrt(sigma_x^2 + sigma_y^2) over the face size:
    the typical fitting error of one point, as a share of the eye distance.

    Args:
      raw_landmarks: float [T, 68, 2] points as fitted, pixels (ignored where not fitted).
      fitted: bool [T].
      face_size: eye-corner distance in pixels (> 0).

    Returns:
      The noise as a fraction of the face size; 0.0 when fewer than 5 second differences
      can be formed (the interpolated-frames check covers such clips).
    """
    points = np.asarray(raw_landmarks, dtype=np.float64)[:, RIGID_POINTS]
    fitted = np.asarray(fitted, dtype=bool)
    usable = fitted[2:] & fitted[1:-1] & fitted[:-2]
    if np.count_nonzero(usable) < _MIN_SECOND_DIFFERENCES:
        return 0.0
    second = (points[2:] - 2.0 * points[1:-1] + points[:-2])[usable]
    sigma = np.median(np.abs(second), axis=0) * _MAD_TO_SIGMA / _SECOND_DIFFERENCE_GAIN
    return float(np.hypot(sigma[:, 0], sigma[:, 1]).mean() / face_size)


def crop_sharpness(frames: np.ndarray) -> float:
    """Mean over frames [T, H, W] of the variance of the 3x3 Laplacian; 0 for flat images."""
    return float(np.mean([cv2.Laplacian(frame, cv2.CV_64F).var() for frame in frames]))


def measure_quality(frames: np.ndarray, landmarks: np.ndarray, raw_landmarks: np.ndarray,
                    fitted: np.ndarray) -> QualityMetrics:
    """The quality metrics of one clip.

    Args:
      frames: uint8 [T, H, W] grey mouth crops (aligned to the mean face).
      landmarks: float [T, 68, 2] smoothed (x, y) points in source-frame pixels, finite.
      raw_landmarks: float [T, 68, 2] points as fitted; NaN allowed where not fitted.
      fitted: bool [T], True where the landmark model fitted the frame.

    Returns:
      QualityMetrics; see its fields for units. Raises ValueError for arrays of the
      wrong shape or dtype, non-finite landmarks, or coincident eye corners.
    """
    frames, fitted = np.asarray(frames), np.asarray(fitted)
    landmarks, raw_landmarks = np.asarray(landmarks), np.asarray(raw_landmarks)
    _check_clip(frames, landmarks, raw_landmarks, fitted)
    yaws = frame_yaws(landmarks)
    face_size = float(np.median(eye_distances(landmarks)))
    return QualityMetrics(
        face_size=face_size,
        yaw=float(np.median(yaws)),
        jitter=landmark_jitter(raw_landmarks, fitted, face_size),
        interpolated_fraction=float(np.count_nonzero(~fitted) / fitted.shape[0]),
        sharpness=crop_sharpness(frames))


def quality_failure(metrics: QualityMetrics,
                    thresholds: QualityThresholds) -> tuple[str, str] | None:
    """The first check the clip fails, as (reason, detail), or None if it passes them all.

    Checks in the order of QUALITY_REASONS: face size, yaw, jitter, interpolated
    fraction, sharpness. A value equal to its threshold passes. The detail gives the
    measured value and the threshold, e.g. 'face size 21.3 px < min_face_size 30.0 px'.
    """
    m, t = metrics, thresholds
    if m.face_size < t.min_face_size:
        return FACE_TOO_SMALL, (f"face size {m.face_size:.1f} px < "
                                f"min_face_size {t.min_face_size:.1f} px")
    if m.yaw > t.max_yaw:
        return HEAD_TURNED, f"yaw {m.yaw:.3f} > max_yaw {t.max_yaw:.3f}"
    if m.jitter > t.max_jitter:
        return LANDMARK_JITTER, (f"jitter {m.jitter:.4f} of the face size > "
                                 f"max_jitter {t.max_jitter:.4f}")
    if m.interpolated_fraction > t.max_interpolated_fraction:
        return TOO_MANY_INTERPOLATED, (
            f"interpolated fraction {m.interpolated_fraction:.3f} > "
            f"max_interpolated_fraction {t.max_interpolated_fraction:.3f}")
    if m.sharpness < t.min_sharpness:
        return TOO_BLURRED, f"sharpness {m.sharpness:.1f} < min_sharpness {t.min_sharpness:.1f}"
    return None
