"""Word windows over 25 fps videos, against hand-computed frame indices."""

import numpy as np
import pytest

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.windows import word_window


def test_grid_word_window():
    # GRID align times are in 1/25000 s: 'bin' from 17750 to 22500.
    window = word_window(17750 / 25000, 22500 / 25000, n_frames=75, length=29)

    # Frames whose start lies in [0.71, 0.9) s: 17.75 -> 18 up to 22.5 -> 22.
    assert (window.word_first_frame, window.word_last_frame) == (18, 22)
    # Centre floor(0.805 * 25) = 20, first frame 20 - 14 = 6.
    assert window.first_frame == 6
    np.testing.assert_array_equal(window.frame_indices, np.arange(6, 35))
    assert window.frame_indices.dtype == np.int64
    assert window.boundary_mask.dtype == np.uint8
    np.testing.assert_array_equal(np.flatnonzero(window.boundary_mask), [12, 13, 14, 15, 16])
    assert (window.padded_before, window.padded_after) == (0, 0)


def test_word_near_the_start_repeats_frame_zero():
    window = word_window(0.0, 0.2, n_frames=75)

    # Centre floor(0.1 * 25) = 2, first frame 2 - 14 = -12: positions 0..12 show frame 0.
    assert window.first_frame == -12
    assert window.padded_before == 12 and window.padded_after == 0
    np.testing.assert_array_equal(window.frame_indices[:13], np.zeros(13))
    np.testing.assert_array_equal(window.frame_indices[13:], np.arange(1, 17))
    assert (window.word_first_frame, window.word_last_frame) == (0, 4)
    np.testing.assert_array_equal(np.flatnonzero(window.boundary_mask), [12, 13, 14, 15, 16])


def test_word_near_the_end_repeats_the_last_frame():
    window = word_window(2.8, 3.0, n_frames=75)

    # Centre floor(2.9 * 25) = 72, first frame 58, last unclamped 86 -> 12 positions past 74.
    assert window.first_frame == 58
    assert window.padded_before == 0 and window.padded_after == 12
    np.testing.assert_array_equal(window.frame_indices[-13:], np.full(13, 74))
    assert (window.word_first_frame, window.word_last_frame) == (70, 74)
    np.testing.assert_array_equal(np.flatnonzero(window.boundary_mask), [12, 13, 14, 15, 16])


def test_end_within_tolerance_is_clamped_to_the_video():
    # A 74-frame GRID clip (2.96 s) whose last word ends at 74.5 / 25 = 2.98 s.
    window = word_window(2.5, 74.5 / 25, n_frames=74)

    # End clamps to 2.96 s: word frames 63..73; centre floor(2.73 * 25) = 68.
    assert (window.word_first_frame, window.word_last_frame) == (63, 73)
    assert window.first_frame == 54
    assert window.padded_after == 54 + 28 - 73
    assert window.frame_indices.max() == 73


def test_very_short_word_uses_the_midpoint_frame():
    window = word_window(0.70, 0.71, n_frames=75)

    # No frame starts in [0.70, 0.71) s; the midpoint 0.705 s lies in frame 17.
    assert (window.word_first_frame, window.word_last_frame) == (17, 17)
    assert window.boundary_mask.sum() == 1


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (-0.1, 0.5, "invalid_word_times"),
        (0.8, 0.4, "invalid_word_times"),
        (0.5, 0.5, "invalid_word_times"),
        (float("nan"), 0.5, "invalid_word_times"),
        (0.2, float("inf"), "invalid_word_times"),
        (3.0, 3.02, "word_outside_video"),
        (2.0, 3.2, "word_outside_video"),
    ],
)
def test_bad_word_times_are_record_errors(start, end, reason):
    with pytest.raises(RecordError) as caught:
        word_window(start, end, n_frames=75)
    assert caught.value.reason == reason
    assert caught.value.detail


def test_word_outside_video_detail_gives_the_duration():
    with pytest.raises(RecordError, match="3.0 s"):
        word_window(2.0, 3.2, n_frames=75)


@pytest.mark.parametrize(
    "kwargs", [{"n_frames": 0}, {"n_frames": 75, "length": 0}, {"n_frames": 75, "fps": 0.0}])
def test_bad_video_arguments_are_programming_errors(kwargs):
    with pytest.raises(ValueError) as caught:
        word_window(0.1, 0.5, **kwargs)
    assert not isinstance(caught.value, RecordError)
