"""Quality of a word clip: five numbers, and the first threshold a clip fails.

The dataset step drops clips that would teach a lip-reading model the wrong thing: a
face too small to show the lips, a head turned away, landmarks that shake, too many
frames whose landmarks were guessed, and crops too blurred to show the mouth.
`measure_quality` turns a clip into `QualityMetrics`; `quality_failure` compares them
with `QualityThresholds` and names the first failure as (reason, detail) for the
dead-letter output. Landmarks follow the 68-point iBUG scheme (0-based: 33 nose tip,
36 and 45 outer eye corners), (x, y) in source-frame pixels. Pure numpy plus cv2 for
the Laplacian; no Beam, no TensorFlow.

Calibration of the defaults: min / median / max over clips. Real: the 120 clips of the
20 sample videos (data/sample/grid_s1) as the preprocess job measures them on its own
raw track (a rerun of the dlib tracker, detect_every 5, with gap filling max_gap 12
and smoothing window 12 agrees to 0.0001 in jitter). Degraded: the same clips after
one change each; "kept" counts the clips that pass all the defaults.

  face_size px   real 59.3 / 63.3 / 65.8                            kept 120 of 120
                 video at 75%: 44.3 / 47.4 / 49.0                   kept 120 of 120
                 video at 50%: 29.4 / 32.6 / 36.9 (jitter up to 0.106)  kept 0
                 video at 25%: the detector finds no face in any frame
  yaw            real 0.007 / 0.098 / 0.162                         kept 120 of 120
                 no turned heads in the sample; a rigid head model (outer eye corners
                 450 apart, 135 behind the nose tip) gives yaw = 0.6 tan(turn):
                 20 deg 0.22, 30 deg 0.35, 40 deg 0.50, 45 deg 0.60
  jitter         real 0.0089 / 0.0123 / 0.0177                      kept 120 of 120
                 raw + Gaussian noise sigma 1 px: 0.0203 / 0.0230 / 0.0271   kept 120
                 2 px: 0.0367 / 0.0403 / 0.0446; 4 px: 0.072 / 0.077 / 0.085  kept 0
  interpolated   real 0 / 0 / 0 (every frame of the sample is fitted)
                 fits removed for a gap of g frames mid-word, error of the filled and
                 smoothed track in the gap per face size: g 6: 0.003 / 0.005 / 0.012,
                 g 12 (max_gap): 0.005 / 0.010 / 0.029
  sharpness      real 28.2 / 42.7 / 56.4                            kept 120 of 120
                 crops blurred, Gaussian sigma 1: 8.8 / 11.8 / 13.4 (kept 105);
                 sigma 1.5: 5.1 / 6.4 / 7.1; sigma 3: 2.3 / 2.6 / 2.6       kept 0
                 crops cut from the video at 75%: 17.7 / 25.2 / 42.2
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
    jitter: float                 # mean |raw - smoothed| over fitted frames, per face_size
    interpolated_fraction: float  # share of frames whose landmarks were not fitted, [0, 1]
    sharpness: float              # mean variance of the crop's Laplacian, grey levels squared


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a clip must keep; a value equal to its limit passes. Defaults: see module doc."""

    # 2/3 of the smallest sample face (59 px). The sample at 75% (44-49 px) still tracks as
    # well as at full size and is kept; at 50% (29-37 px) the fitted points jitter four
    # times as much (median 0.047) and the crop is a 2.5x upscale, so it is dropped.
    min_face_size: float = 40.0
    # About a 40-degree turn by the head model (0.6 tan(turn)); the sample's frontal faces
    # reach 0.16, a 30-degree turn (0.35) is kept, 45 degrees (0.60) is not.
    max_yaw: float = 0.5
    # 1.7x the sample's worst clip (0.018). 1 px of fitting noise per point (0.020-0.027)
    # is still kept, 2 px (0.037 or more) never is, nor 87 of 120 half-size clips.
    max_jitter: float = 0.03
    # Filling one gap of max_gap (12) frames, 0.41 of a 29-frame window, moves the smoothed
    # track by at most 0.029 of the face size, within max_jitter: such a clip is kept. A
    # clip where most frames were never fitted shows a face the model mostly lost.
    max_interpolated_fraction: float = 0.5
    # Under 0.36x the blurriest sample clip (28.2) and 4x the sharpest crop blurred with
    # sigma 3 (2.6); every crop blurred with sigma 1.5 or more (at most 7.1) is dropped.
    min_sharpness: float = 10.0

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


def landmark_jitter(landmarks: np.ndarray, raw_landmarks: np.ndarray, fitted: np.ndarray,
                    face_size: float) -> float:
    """Mean over fitted frames of the mean point distance |raw - smoothed|, per face_size.

    Args:
      landmarks: float [T, 68, 2] smoothed points, pixels.
      raw_landmarks: float [T, 68, 2] points as fitted, pixels (ignored where not fitted).
      fitted: bool [T].
      face_size: eye-corner distance in pixels (> 0) that makes the result scale-free.

    Returns:
      The jitter as a fraction of the face size; 0.0 when no frame is fitted.
    """
    if not fitted.any():
        return 0.0
    offsets = raw_landmarks[fitted].astype(np.float64) - landmarks[fitted].astype(np.float64)
    per_frame = np.linalg.norm(offsets, axis=-1).mean(axis=-1)
    return float(per_frame.mean() / face_size)


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
        jitter=landmark_jitter(landmarks, raw_landmarks, fitted, face_size),
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
