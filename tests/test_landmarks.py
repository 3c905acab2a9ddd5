"""Landmark backends and the detect-then-track scheduler on real frames."""

import builtins

import numpy as np
import pytest

from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.landmarks import LandmarkModelUnavailable, make_backend
from pipelines.preprocess.landmarks.tracker import FaceTracker, box_iou, points_box
from tests import media


@pytest.fixture(scope="module")
def frames():
    return list(decode_frames(media.sample_video(), DecodeReport()))


def test_dlib_finds_one_face_and_68_points_on_it(dlib_backend, frames):
    boxes = dlib_backend.detect_faces(frames[10])
    assert boxes.shape == (1, 4)
    points = dlib_backend.fit_landmarks(frames[10], boxes[0])
    assert points.shape == (68, 2) and points.dtype == np.float32
    x0, y0, x1, y1 = boxes[0]
    mouth = points[48:68].mean(axis=0)
    assert x0 < mouth[0] < x1 and (y0 + y1) / 2 < mouth[1] < y1 + 0.2 * (y1 - y0)
    eyes = points[36:48, 1].mean()
    assert eyes < mouth[1]  # upright: eyes above the mouth


def test_tracking_between_detections_matches_detecting_every_frame(dlib_backend, frames):
    every = FaceTracker(dlib_backend, detect_every=1)
    tracked = FaceTracker(dlib_backend, detect_every=5)
    reference = np.stack([every.update(f) for f in frames])
    followed = np.stack([tracked.update(f) for f in frames])
    assert tracked.detections <= len(frames) // 5 + 2
    eye_distance = np.linalg.norm(reference[:, 36] - reference[:, 45], axis=1).mean()
    error = np.linalg.norm(followed - reference, axis=2).mean() / eye_distance
    assert error < 0.02  # under 2% of the eye distance


def test_tracker_reports_no_face_on_a_blank_frame(dlib_backend):
    tracker = FaceTracker(dlib_backend)
    assert tracker.update(np.zeros((288, 360), np.uint8)) is None


def test_box_helpers():
    assert box_iou(np.array([0, 0, 10, 10.0]), np.array([5, 0, 15, 10.0])) == pytest.approx(1 / 3)
    assert list(points_box(np.array([[1, 5], [3, 2.0]]))) == [1, 2, 3, 5]


def test_fan_backend_without_its_package_says_how_to_get_it(monkeypatch):
    real_import = builtins.__import__

    def no_face_alignment(name, *args, **kwargs):
        if name == "face_alignment":
            raise ImportError("No module named 'face_alignment'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_face_alignment)
    with pytest.raises(LandmarkModelUnavailable, match=r"\[fan\]|--landmarks mesh"):
        make_backend("fan").load()


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown landmark backend 'mediapipe'"):
        make_backend("mediapipe")


def test_a_shot_cut_forces_a_fresh_detection(dlib_backend, frames, tmp_path):
    card = list(decode_frames(media.no_face(str(tmp_path / "card.mp4"), seconds=0.2), DecodeReport()))
    tracker = FaceTracker(dlib_backend, detect_every=25)
    assert all(tracker.update(f) is not None for f in frames[:3])
    # Without cut detection the fitter would place 68 points on the test card.
    assert tracker.update(card[0]) is None
    assert tracker.detections == 2
