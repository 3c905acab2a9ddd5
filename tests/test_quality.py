"""Clip quality metrics and thresholds, against hand-computed values and a real sample clip."""

import dataclasses

import cv2
import numpy as np
import pytest

from pipelines.preprocess.alignment import mouth_crop_transform, warp_crop
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.landmarks import make_backend
from pipelines.preprocess.landmarks.tracker import FaceTracker
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.quality import (
    QUALITY_REASONS, QualityMetrics, QualityThresholds, measure_quality, quality_failure)
from pipelines.preprocess.tracking import interpolate_missing, smooth_track
from tests import media

EYE_DISTANCE = 60.0


def _face(nose_shift: float = 0.0, eye_distance: float = EYE_DISTANCE) -> np.ndarray:
    """float64 [68, 2]: an upright face centred at (100, 120), outer eye corners on y = 100.

    The points not set here fill a 5-pixel grid below the eyes.
    The nose tip (33) sits `nose_shift` px right of the midpoint between the eye corners.
    """
    points = np.stack([100.0 + 5.0 * (np.arange(68) % 9 - 4), 110.0 + 5.0 * (np.arange(68) // 9)],
                      axis=-1)
    points[36] = [100.0 - eye_distance / 2, 100.0]
    points[45] = [100.0 + eye_distance / 2, 100.0]
    points[33] = [100.0 + nose_shift, 130.0]
    return points


def _rotated(points: np.ndarray, degrees: float) -> np.ndarray:
    """points [..., 2] rotated in the image plane about (100, 120)."""
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (points - [100.0, 120.0]) @ rotation.T + [100.0, 120.0]


def _clip(face: np.ndarray, length: int = 4):
    """(frames, landmarks, raw_landmarks, fitted) of a still face: raw == smoothed, all fitted."""
    landmarks = np.repeat(face[None], length, axis=0).astype(np.float32)
    frames = np.full((length, 96, 96), 128, np.uint8)
    return frames, landmarks, landmarks.copy(), np.ones(length, bool)


def _checkerboard(square: int, low: int = 0, high: int = 255, side: int = 96) -> np.ndarray:
    rows, cols = np.indices((side, side)) // square
    return np.where((rows + cols) % 2 == 0, low, high).astype(np.uint8)


# --- face size and yaw -------------------------------------------------------------------------

def test_face_size_is_the_eye_corner_distance():
    assert measure_quality(*_clip(_face())).face_size == pytest.approx(60.0)


def test_face_size_is_the_median_over_frames():
    frames, landmarks, raw, fitted = _clip(_face(), length=3)
    landmarks[0, 45, 0] += 30.0  # one frame 90 px, the others 60 px
    raw = landmarks.copy()
    assert measure_quality(frames, landmarks, raw, fitted).face_size == pytest.approx(60.0)


def test_yaw_is_zero_for_a_symmetric_face():
    assert measure_quality(*_clip(_face())).yaw == pytest.approx(0.0)


@pytest.mark.parametrize("shift", [9.0, -9.0])
def test_yaw_of_a_shifted_nose(shift):
    # r = (30 + 9) / 60 = 0.65, so |2r - 1| = 0.3, on either side.
    assert measure_quality(*_clip(_face(nose_shift=shift))).yaw == pytest.approx(0.3)


def test_yaw_is_clipped_at_one_past_an_eye_corner():
    assert measure_quality(*_clip(_face(nose_shift=45.0))).yaw == pytest.approx(1.0)


def test_in_plane_rotation_changes_neither_face_size_nor_yaw():
    upright = measure_quality(*_clip(_face(nose_shift=9.0)))
    for degrees in (15.0, -40.0, 90.0):
        rolled = measure_quality(*_clip(_rotated(_face(nose_shift=9.0), degrees)))
        assert rolled.face_size == pytest.approx(upright.face_size, rel=1e-5)
        assert rolled.yaw == pytest.approx(0.3, abs=1e-5)


# --- jitter and interpolation ------------------------------------------------------------------

def test_jitter_is_zero_when_raw_equals_smoothed():
    assert measure_quality(*_clip(_face())).jitter == 0.0


def _moving(length: int, step: np.ndarray) -> tuple:
    """(frames, landmarks, fitted) of the face moving by `step` px [2] every frame."""
    frames, landmarks, _, fitted = _clip(_face(), length)
    landmarks = landmarks + (np.arange(length)[:, None, None] * step).astype(np.float32)
    return frames, landmarks, fitted


def test_jitter_ignores_a_head_moving_steadily():
    frames, landmarks, fitted = _moving(29, np.array([3.0, -2.0]))
    assert measure_quality(frames, landmarks, landmarks, fitted).jitter == pytest.approx(0.0,
                                                                                         abs=1e-6)


def test_jitter_of_points_that_zigzag():
    # Every point alternates 1 px left and right of a steady path: each second difference is
    # 4 px in x, 0 in y, so sigma_x = 4 / 0.6745 / sqrt(6) px per point, over a 60 px face.
    frames, landmarks, fitted = _moving(29, np.array([2.0, 1.0]))
    raw = landmarks.copy()
    raw[:, :, 0] += np.where(np.arange(29) % 2 == 0, 1.0, -1.0)[:, None]
    expected = 4.0 / 0.6745 / np.sqrt(6.0) / 60.0
    assert measure_quality(frames, landmarks, raw, fitted).jitter == pytest.approx(expected)


def test_jitter_of_white_noise_is_the_typical_point_error():
    # Gaussian noise of sigma px per coordinate puts a point sqrt(2) sigma px off, typically.
    frames, landmarks, fitted = _moving(400, np.array([0.5, 0.0]))
    raw = landmarks + np.random.default_rng(0).normal(0.0, 1.5, landmarks.shape)
    jitter = measure_quality(frames, landmarks, raw.astype(np.float32), fitted).jitter
    assert jitter == pytest.approx(np.sqrt(2.0) * 1.5 / 60.0, rel=0.1)


def test_jitter_skips_frames_not_fitted_and_needs_five_differences():
    frames, landmarks, fitted = _moving(12, np.array([1.0, 0.0]))
    raw = landmarks.copy()
    raw[:, :, 1] += np.where(np.arange(12) % 2 == 0, 1.0, -1.0)[:, None]
    raw[5] = np.nan  # not fitted: no second difference uses it
    fitted[5] = False
    expected = 4.0 / 0.6745 / np.sqrt(6.0) / 60.0
    assert measure_quality(frames, landmarks, raw, fitted).jitter == pytest.approx(expected)
    fitted[[2, 8]] = False  # runs of 2, 2 and 3 fitted frames: one second difference in all
    assert measure_quality(frames, landmarks, raw, fitted).jitter == 0.0


def test_jitter_is_zero_without_a_fitted_frame():
    frames, landmarks, _, _ = _clip(_face())
    raw = np.full_like(landmarks, np.nan)
    metrics = measure_quality(frames, landmarks, raw, np.zeros(4, bool))
    assert metrics.jitter == 0.0 and metrics.interpolated_fraction == 1.0


def test_interpolated_fraction_is_the_share_of_frames_not_fitted():
    frames, landmarks, raw, _ = _clip(_face())
    fitted = np.array([True, False, False, True])
    assert measure_quality(frames, landmarks, raw, fitted).interpolated_fraction == 0.5
    assert measure_quality(*_clip(_face())).interpolated_fraction == 0.0


# --- sharpness ---------------------------------------------------------------------------------

def _with_frames(frames: np.ndarray) -> QualityMetrics:
    _, landmarks, raw, fitted = _clip(_face(), length=frames.shape[0])
    return measure_quality(frames, landmarks, raw, fitted)


def test_sharpness_of_a_pixel_checkerboard():
    # Every pixel differs from its 4 neighbours by 1 (borders reflect), so the Laplacian
    # is +-4 everywhere: mean 0, variance 16.
    frames = np.stack([_checkerboard(1, 0, 1)] * 2)
    assert _with_frames(frames).sharpness == pytest.approx(16.0)


def test_sharpness_is_higher_for_a_sharp_checkerboard_than_its_blurred_copy():
    sharp = _checkerboard(8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3)
    assert _with_frames(sharp[None]).sharpness > 10 * _with_frames(blurred[None]).sharpness > 0


def test_sharpness_is_zero_for_a_flat_image():
    assert _with_frames(np.full((3, 96, 96), 200, np.uint8)).sharpness == 0.0


def test_sharpness_is_the_mean_over_frames():
    frames = np.stack([_checkerboard(1, 0, 1), np.zeros((96, 96), np.uint8)])
    assert _with_frames(frames).sharpness == pytest.approx(8.0)


# --- input checks ------------------------------------------------------------------------------

def test_measure_quality_rejects_bad_inputs():
    frames, landmarks, raw, fitted = _clip(_face())
    with pytest.raises(ValueError, match="frames must be uint8"):
        measure_quality(frames.astype(np.float32), landmarks, raw, fitted)
    with pytest.raises(ValueError, match="landmarks must have shape"):
        measure_quality(frames, landmarks[:3], raw, fitted)
    with pytest.raises(ValueError, match="raw_landmarks must have shape"):
        measure_quality(frames, landmarks, raw[:, :48], fitted)
    with pytest.raises(ValueError, match="fitted must be bool"):
        measure_quality(frames, landmarks, raw, fitted.astype(np.int64))
    with pytest.raises(ValueError, match="landmarks must be finite"):
        measure_quality(frames, np.full_like(landmarks, np.nan), raw, fitted)
    with pytest.raises(ValueError, match="raw_landmarks must be finite"):
        measure_quality(frames, landmarks, np.full_like(raw, np.nan), fitted)


def test_coincident_eye_corners_are_reported():
    face = _face()
    face[45] = face[36]
    with pytest.raises(ValueError, match="coincide"):
        measure_quality(*_clip(face))


# --- thresholds --------------------------------------------------------------------------------

THRESHOLDS = QualityThresholds(min_face_size=30.0, max_yaw=0.5, max_jitter=0.03,
                               max_interpolated_fraction=0.5, min_sharpness=10.0)
GOOD = QualityMetrics(face_size=60.0, yaw=0.1, jitter=0.01, interpolated_fraction=0.0,
                      sharpness=40.0)
FAILING = {  # one failing value per check, in the order of the checks
    "face_too_small": {"face_size": 21.3},
    "head_turned": {"yaw": 0.62},
    "landmark_jitter": {"jitter": 0.045},
    "too_many_interpolated": {"interpolated_fraction": 0.6},
    "too_blurred": {"sharpness": 2.5},
}


def test_good_metrics_pass():
    assert quality_failure(GOOD, THRESHOLDS) is None


def test_values_equal_to_their_thresholds_pass():
    edge = QualityMetrics(face_size=30.0, yaw=0.5, jitter=0.03, interpolated_fraction=0.5,
                          sharpness=10.0)
    assert quality_failure(edge, THRESHOLDS) is None


@pytest.mark.parametrize("reason", list(FAILING))
def test_each_check_reports_its_reason(reason):
    metrics = dataclasses.replace(GOOD, **FAILING[reason])
    assert quality_failure(metrics, THRESHOLDS)[0] == reason


@pytest.mark.parametrize("reason, parts", [
    ("face_too_small", ["face size 21.3 px", "min_face_size 30.0 px"]),
    ("head_turned", ["0.620", "max_yaw 0.500"]),
    ("landmark_jitter", ["0.0450", "max_jitter 0.0300"]),
    ("too_many_interpolated", ["0.600", "max_interpolated_fraction 0.500"]),
    ("too_blurred", ["sharpness 2.5", "min_sharpness 10.0"]),
])
def test_detail_gives_the_value_and_the_threshold(reason, parts):
    _, detail = quality_failure(dataclasses.replace(GOOD, **FAILING[reason]), THRESHOLDS)
    for part in parts:
        assert part in detail
    if reason == "face_too_small":
        assert detail == "face size 21.3 px < min_face_size 30.0 px"


def test_the_first_failing_check_in_order_is_reported():
    assert list(FAILING) == list(QUALITY_REASONS)
    for first in range(len(QUALITY_REASONS)):
        changes = {}
        for reason in QUALITY_REASONS[first:]:
            changes.update(FAILING[reason])
        metrics = dataclasses.replace(GOOD, **changes)
        assert quality_failure(metrics, THRESHOLDS)[0] == QUALITY_REASONS[first]


def test_default_thresholds_are_valid_and_recorded_as_a_dict():
    defaults = QualityThresholds()
    assert set(defaults.as_dict()) == {"min_face_size", "max_yaw", "max_jitter",
                                       "max_interpolated_fraction", "min_sharpness"}
    assert quality_failure(GOOD, defaults) is None


@pytest.mark.parametrize("field, value", [
    ("min_face_size", -1.0), ("min_face_size", float("nan")), ("max_yaw", 1.5),
    ("max_yaw", -0.1), ("max_jitter", -0.01), ("max_interpolated_fraction", 1.1),
    ("min_sharpness", -1.0), ("min_sharpness", "10"), ("max_yaw", True),
])
def test_thresholds_out_of_range_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(THRESHOLDS, **{field: value})


# --- a real clip -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_clip():
    """(frames, landmarks, raw_landmarks, fitted) of a 29-frame window of a sample video."""
    backend = make_backend("dlib")
    backend.load()
    tracker = FaceTracker(backend, detect_every=5)
    video = list(decode_frames(media.sample_video(), DecodeReport()))[20:49]
    raw = np.stack([tracker.update(frame) for frame in video])
    fitted = np.ones(len(video), bool)
    filled, usable = interpolate_missing(raw, fitted, 12)
    smoothed = smooth_track(filled, usable, 12)
    reference = mean_face()
    crops = np.stack([warp_crop(frame, mouth_crop_transform(points, reference, 96), 96)
                      for frame, points in zip(video, smoothed)])
    return crops, smoothed, raw, fitted


def test_default_thresholds_keep_a_real_clip_and_drop_its_blurred_copy(sample_clip):
    crops, smoothed, raw, fitted = sample_clip
    metrics = measure_quality(crops, smoothed, raw, fitted)
    assert 55.0 < metrics.face_size < 70.0 and metrics.yaw < 0.25
    assert quality_failure(metrics, QualityThresholds()) is None
    blurred = np.stack([cv2.GaussianBlur(crop, (0, 0), 3) for crop in crops])
    failure = quality_failure(measure_quality(blurred, smoothed, raw, fitted), QualityThresholds())
    assert failure is not None and failure[0] == "too_blurred"
