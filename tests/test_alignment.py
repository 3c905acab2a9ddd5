"""Similarity estimation, mouth-crop transforms, warps and the Procrustes mean face."""

import numpy as np
import pytest

from pipelines.preprocess.alignment import (
    MOUTH_POINTS,
    STABLE_POINTS,
    apply_transform,
    mouth_crop_transform,
    procrustes_mean,
    similarity_transform,
    warp_crop,
)


def _similarity(degrees: float, scale: float, shift) -> np.ndarray:
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([scale * rotation, np.reshape(shift, (2, 1))])


def _face(seed: int = 0) -> np.ndarray:
    """float64 [68, 2]: an arbitrary face-like shape in pixels with distinct eye corners."""
    face = np.random.default_rng(seed).uniform(20.0, 80.0, size=(68, 2))
    face[[36, 39, 42, 45]] = [[30.0, 40.0], [42.0, 41.0], [58.0, 41.0], [70.0, 40.0]]
    face[33] = [50.0, 55.0]
    return face


def test_similarity_recovers_rotation_scale_and_translation():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0], [7.0, 3.0], [-2.0, 8.0]])
    expected = _similarity(30.0, 2.0, [5.0, -3.0])
    dst = src @ expected[:, :2].T + expected[:, 2]

    matrix = similarity_transform(src, dst)

    assert matrix.dtype == np.float64 and matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-9)


def test_similarity_never_reflects_a_mirrored_target():
    src = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 2.0], [3.0, 5.0]])
    mirrored = src * [-1.0, 1.0]

    matrix = similarity_transform(src, mirrored)

    assert np.linalg.det(matrix[:, :2]) > 0


def test_similarity_rejects_bad_input():
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="shape"):
        similarity_transform(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        similarity_transform(np.zeros((4, 2)), np.zeros((5, 2)))


def test_apply_transform_round_trip():
    matrix = _similarity(-40.0, 0.5, [12.0, 7.0])
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    points = np.random.default_rng(1).uniform(-50, 50, size=(3, 5, 2))

    mapped = apply_transform(matrix, points)

    assert mapped.shape == (3, 5, 2)
    np.testing.assert_allclose(apply_transform(inverse, mapped), points, rtol=0, atol=1e-9)
    np.testing.assert_allclose(apply_transform(matrix, [1.0, 0.0]),
                               matrix[:, 0] + matrix[:, 2], rtol=0, atol=1e-12)


def test_mouth_crop_transform_centres_the_mouth_and_matches_stable_points():
    mean_face = _face()
    landmarks = apply_transform(_similarity(10.0, 1.7, [200.0, 120.0]), mean_face)
    stable = list(STABLE_POINTS)

    matrix = mouth_crop_transform(landmarks, mean_face, crop_size=96)

    mouth_centre = apply_transform(matrix, landmarks[MOUTH_POINTS]).mean(axis=0)
    np.testing.assert_allclose(mouth_centre, [47.5, 47.5], rtol=0, atol=1e-9)
    offset = apply_transform(matrix, landmarks[stable]) - mean_face[stable]
    expected_offset = 47.5 - mean_face[MOUTH_POINTS].mean(axis=0)
    np.testing.assert_allclose(offset, np.broadcast_to(expected_offset, (5, 2)), atol=1e-9)


def test_mouth_crop_transform_rejects_wrong_landmark_count():
    with pytest.raises(ValueError, match="landmarks"):
        mouth_crop_transform(np.zeros((5, 2)), _face(), crop_size=96)


def test_warp_crop_puts_a_dot_where_the_matrix_sends_it():
    frame = np.zeros((200, 300), dtype=np.uint8)
    frame[80, 150] = 255  # (x, y) = (150, 80)

    shifted = warp_crop(frame, np.array([[1.0, 0.0, -120.0], [0.0, 1.0, -60.0]]), 64)
    assert shifted.shape == (64, 64) and shifted.dtype == np.uint8
    assert np.unravel_index(np.argmax(shifted), shifted.shape) == (20, 30)
    assert shifted[20, 30] == 255 and np.count_nonzero(shifted) == 1

    # Quarter turn: (x, y) -> (-y + 100, x - 140), so (150, 80) -> (20, 10).
    turned = warp_crop(frame, np.array([[0.0, -1.0, 100.0], [1.0, 0.0, -140.0]]), 64)
    assert turned[10, 20] == 255 and np.count_nonzero(turned) == 1


def test_warp_crop_rejects_non_grey_uint8_frames():
    with pytest.raises(ValueError, match="uint8"):
        warp_crop(np.zeros((10, 10), dtype=np.float32), np.eye(2, 3), 8)
    with pytest.raises(ValueError, match="uint8"):
        warp_crop(np.zeros((10, 10, 3), dtype=np.uint8), np.eye(2, 3), 8)


def test_procrustes_mean_of_similar_copies_is_the_normalised_shape():
    # Base shape already normalised: eyes level one unit apart, centroid at the origin.
    base = np.random.default_rng(2).uniform(-1.0, 1.0, size=(68, 2))
    base[36], base[45] = [-0.5, 0.1], [0.5, 0.1]
    base -= base.mean(axis=0)
    poses = [(0.0, 1.0, [0, 0]), (35.0, 80.0, [300, 200]), (-50.0, 120.0, [40, 500]),
             (170.0, 60.0, [-20, 10])]
    shapes = np.stack([apply_transform(_similarity(*pose), base) for pose in poses])

    mean = procrustes_mean(shapes, eye_distance=80.0, canvas=256)

    np.testing.assert_allclose(mean, base * 80.0 + 128.0, rtol=0, atol=1e-9)
    assert np.isclose(np.linalg.norm(mean[45] - mean[36]), 80.0)
    assert np.isclose(mean[36, 1], mean[45, 1]) and mean[36, 0] < mean[45, 0]
    np.testing.assert_allclose(mean.mean(axis=0), [128.0, 128.0], atol=1e-9)


def test_procrustes_mean_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="shape"):
        procrustes_mean(np.zeros((3, 67, 2)), eye_distance=80.0, canvas=256)
