"""Gap filling and smoothing of landmark tracks, against hand-computed values."""

import numpy as np
import pytest

from pipelines.preprocess.tracking import interpolate_missing, smooth_track


def _track(xs, ys=None):
    """float [T, 1, 2] track of one landmark from per-frame x (and y) values."""
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.zeros_like(xs) if ys is None else np.asarray(ys, dtype=np.float64)
    return np.stack([xs, ys], axis=-1)[:, None, :]


def test_interpolation_recovers_linear_motion_across_a_gap():
    points = np.full((6, 2, 2), np.nan)
    points[0] = [[0.0, 10.0], [5.0, 5.0]]
    points[4] = [[8.0, 2.0], [5.0, 9.0]]
    detected = np.array([True, False, False, False, True, False])

    filled, usable = interpolate_missing(points, detected, max_gap=3)

    assert filled.dtype == np.float32 and filled.shape == (6, 2, 2)
    np.testing.assert_array_equal(usable, [True] * 6)
    np.testing.assert_array_equal(filled[:, 0], [[0, 10], [2, 8], [4, 6], [6, 4], [8, 2], [8, 2]])
    np.testing.assert_array_equal(filled[:, 1], [[5, 5], [5, 6], [5, 7], [5, 8], [5, 9], [5, 9]])


def test_gap_longer_than_max_gap_is_nan_and_unusable():
    points = _track([0, 99, 99, 99, 99, 5])
    detected = np.array([True, False, False, False, False, True])

    filled, usable = interpolate_missing(points, detected, max_gap=3)

    np.testing.assert_array_equal(usable, [True, False, False, False, False, True])
    assert np.all(np.isnan(filled[1:5]))
    np.testing.assert_array_equal(filled[[0, 5], 0, 0], [0, 5])


def test_edges_hold_the_nearest_detection_within_max_gap_only():
    points = np.full((8, 1, 2), np.nan)
    points[3] = [[4.0, 7.0]]
    detected = np.zeros(8, dtype=bool)
    detected[3] = True

    filled, usable = interpolate_missing(points, detected, max_gap=2)

    np.testing.assert_array_equal(usable, [False, True, True, True, True, True, False, False])
    np.testing.assert_array_equal(filled[1:6, 0], [[4, 7]] * 5)
    assert np.all(np.isnan(filled[[0, 6, 7]]))


def test_no_detection_at_all_is_all_nan_and_unusable():
    filled, usable = interpolate_missing(np.zeros((4, 3, 2)), np.zeros(4, dtype=bool), max_gap=5)

    assert filled.shape == (4, 3, 2) and filled.dtype == np.float32
    assert np.all(np.isnan(filled))
    assert not usable.any()


def test_interpolation_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        interpolate_missing(np.zeros((4, 3, 2)), np.ones(5, dtype=bool), max_gap=1)
    with pytest.raises(ValueError, match="shape"):
        interpolate_missing(np.zeros((4, 3)), np.ones(4, dtype=bool), max_gap=1)


def test_smoothing_leaves_a_constant_track_unchanged():
    points = np.broadcast_to(np.array([[3.5, -2.0], [10.0, 20.0]]), (9, 2, 2))
    smoothed = smooth_track(points, np.ones(9, dtype=bool), window=5)

    assert smoothed.dtype == np.float32
    np.testing.assert_allclose(smoothed, points, rtol=0, atol=1e-6)


def test_smoothing_leaves_the_interior_of_a_ramp_unchanged():
    points = _track(np.arange(10) * 2.0, np.arange(10) * -1.0)
    smoothed = smooth_track(points, np.ones(10, dtype=bool), window=3)

    np.testing.assert_allclose(smoothed[1:9], points[1:9], rtol=0, atol=1e-6)
    # At the edges the window is cut by the end of the track: frame 0 averages frames 0, 1.
    np.testing.assert_allclose(smoothed[0, 0], [1.0, -0.5], rtol=0, atol=1e-6)
    np.testing.assert_allclose(smoothed[9, 0], [17.0, -8.5], rtol=0, atol=1e-6)


def test_window_one_is_the_identity():
    points = np.random.default_rng(0).normal(size=(7, 4, 2))
    smoothed = smooth_track(points, np.ones(7, dtype=bool), window=1)

    np.testing.assert_array_equal(smoothed, points.astype(np.float32))


def test_smoothing_never_averages_across_an_unusable_frame():
    # Frame 3 is unusable but holds a finite value; frame 4 starts a new run. A window
    # of 5 around frame 2 spans frames 0..4: skipping only frame 3 would still pull
    # in frame 4 (value 10); staying inside the run gives the mean of frames 0..2.
    points = _track([0, 0, 0, 100, 10, 10, 10])
    usable = np.array([True, True, True, False, True, True, True])

    smoothed = smooth_track(points, usable, window=5)

    np.testing.assert_array_equal(smoothed[:, 0, 0][[0, 1, 2, 4, 5, 6]], [0, 0, 0, 10, 10, 10])
    assert np.all(np.isnan(smoothed[3]))


def test_smoothing_averages_within_a_run_with_a_shrinking_window():
    points = _track([0, 3, 6, 12, np.nan, 1])
    usable = np.array([True, True, True, True, False, True])

    smoothed = smooth_track(points, usable, window=3)

    np.testing.assert_allclose(smoothed[[0, 1, 2, 3, 5], 0, 0], [1.5, 3, 7, 9, 1], atol=1e-6)
    assert np.all(np.isnan(smoothed[4]))


def test_smoothing_rejects_a_bad_window():
    with pytest.raises(ValueError, match="window"):
        smooth_track(np.zeros((3, 1, 2)), np.ones(3, dtype=bool), window=0)


# --- even windows: centred, the two end taps at half weight ---------------------------------

def test_an_even_window_keeps_a_ramp_in_place():
    # Window 4 averages t-2 .. t+2 with weights 1/2, 1, 1, 1, 1/2: the interior of a ramp
    # is unchanged, where averaging t-2 .. t+1 would move every frame back half a frame.
    points = _track(np.arange(10) * 2.0)
    smoothed = smooth_track(points, np.ones(10, dtype=bool), window=4)[:, 0, 0]

    np.testing.assert_allclose(smoothed[2:8], np.arange(2, 8) * 2.0, rtol=0, atol=1e-5)
    # Run edges: frame 0 has taps 0, 1 (weight 1) and 2 (1/2): (0 + 2 + 0.5 * 4) / 2.5;
    # frame 1 has taps 0, 1, 2 and 3 (1/2): (0 + 2 + 4 + 0.5 * 6) / 3.5. The end mirrors them.
    np.testing.assert_allclose(smoothed[[0, 1, 8, 9]], [1.6, 18 / 7, 18 - 18 / 7, 16.4],
                               rtol=0, atol=1e-5)


def test_an_even_window_leaves_a_constant_unchanged_up_to_its_edges():
    points = np.broadcast_to(np.array([[3.5, -2.0], [10.0, 20.0]]), (20, 2, 2))
    usable = np.ones(20, dtype=bool)
    usable[7] = False

    smoothed = smooth_track(points, usable, window=12)

    np.testing.assert_allclose(smoothed[usable], points[usable], rtol=0, atol=1e-5)
    assert np.all(np.isnan(smoothed[7]))


def test_an_even_window_turns_a_step_into_a_symmetric_ramp():
    # A step from 0 to 10 between frames 4 and 5: with window 4, frame 4 sees taps
    # 2 (1/2), 3, 4, 5, 6 (1/2) -> (10 + 5) / 4, frame 5 sees 3 (1/2) .. 7 (1/2) -> 25 / 4.
    points = _track([0.0] * 5 + [10.0] * 5)
    smoothed = smooth_track(points, np.ones(10, dtype=bool), window=4)[:, 0, 0]

    np.testing.assert_allclose(smoothed, [0, 0, 0, 1.25, 3.75, 6.25, 8.75, 10, 10, 10],
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(smoothed + smoothed[::-1], 10.0, rtol=0, atol=1e-5)


def test_an_even_window_never_averages_across_an_unusable_frame():
    points = _track([0, 3, 6, 12, 99, 1])
    usable = np.array([True, True, True, True, False, True])

    smoothed = smooth_track(points, usable, window=2)[:, 0, 0]

    # Frame 0: taps 0 (1), 1 (1/2); frame 2: 1 (1/2), 2, 3 (1/2); frame 3: 2 (1/2), 3 and
    # not 4, which is unusable; frame 5 is a run of its own.
    np.testing.assert_allclose(smoothed[[0, 1, 2, 3, 5]], [1, 3, 6.75, 10, 1], rtol=0, atol=1e-5)
    assert np.isnan(smoothed[4])
