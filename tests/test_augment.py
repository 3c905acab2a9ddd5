"""Clip augmentation, against hand-computed frames and fixed seeds."""

import dataclasses

import numpy as np
import pytest

from pipelines.preprocess.augment import (
    AugmentConfig,
    augment_clip,
    brightness_contrast,
    copy_rng,
    copy_seed,
    hflip,
    rotate,
    shift,
    time_mask,
    time_warp,
)

CLIP_ID = "lrw/ABOUT/train/ABOUT_00001"
NO_AUGMENT = AugmentConfig(max_shift=0, flip_probability=0.0, max_rotation=0.0,
                           max_brightness=0.0, max_contrast=0.0, max_time_mask=0,
                           speed_range=(1.0, 1.0))


def random_clip(t=29, size=96, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(t, size, size), dtype=np.uint8)
    mask = np.zeros(t, np.uint8)
    mask[t // 2 - 4:t // 2 + 5] = 1
    return frames, mask


# --- seeds -------------------------------------------------------------------------------

def test_copy_seed_is_a_fixed_64_bit_number():
    # First 8 bytes, big-endian, of sha256(b"lrw/ABOUT/train/ABOUT_00001\x001").
    assert copy_seed(CLIP_ID, 1) == 15596294657397777642
    assert copy_seed(CLIP_ID, 2) != copy_seed(CLIP_ID, 1)
    assert copy_seed(CLIP_ID + "x", 1) != copy_seed(CLIP_ID, 1)


@pytest.mark.parametrize("clip_id, copy", [("", 1), (7, 1), (CLIP_ID, -1), (CLIP_ID, 1.0),
                                           (CLIP_ID, True)])
def test_copy_seed_rejects_bad_arguments(clip_id, copy):
    with pytest.raises(ValueError):
        copy_seed(clip_id, copy)


def test_same_copy_gives_identical_bytes_and_copies_differ():
    frames, mask = random_clip()
    config = AugmentConfig()

    first = augment_clip(frames, mask, copy_rng(CLIP_ID, 1), config)
    again = augment_clip(frames, mask, copy_rng(CLIP_ID, 1), config)
    other = augment_clip(frames, mask, copy_rng(CLIP_ID, 2), config)

    assert first[0].tobytes() == again[0].tobytes()
    assert first[1].tobytes() == again[1].tobytes()
    assert first[0].tobytes() != other[0].tobytes()


# --- spatial -----------------------------------------------------------------------------

def test_shift_moves_content_right_and_repeats_the_left_edge():
    frames = np.zeros((2, 4, 8), np.uint8)
    frames[:, :, 0] = 7    # left edge column
    frames[:, :, 3] = 200  # bright column

    shifted = shift(frames, 2, 0)

    expected = np.zeros_like(frames)
    expected[:, :, 0:3] = 7      # columns 0, 1 repeat the edge; old column 0 is now 2
    expected[:, :, 5] = 200      # 3 + 2
    np.testing.assert_array_equal(shifted, expected)


def test_shift_down_repeats_the_top_row():
    frames = np.arange(12, dtype=np.uint8).reshape(1, 4, 3)

    shifted = shift(frames, 0, 1)

    np.testing.assert_array_equal(shifted[0], [[0, 1, 2], [0, 1, 2], [3, 4, 5], [6, 7, 8]])


def test_hflip_mirrors_and_is_its_own_inverse():
    frames = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)

    np.testing.assert_array_equal(hflip(frames), [[[3, 2, 1], [6, 5, 4]]])
    np.testing.assert_array_equal(hflip(hflip(frames)), frames)


def test_rotate_by_zero_is_exact():
    frames, _ = random_clip(t=3)

    np.testing.assert_array_equal(rotate(frames, 0.0), frames)


def test_rotate_by_90_turns_counter_clockwise():
    # 9 x 9, centre (4, 4). cv2.getRotationMatrix2D at +90 degrees maps (x, y) to
    # (y + cx - cy, -x + cx + cy) = (y, 8 - x): the pixel at x=6, y=1 (up and right of
    # the centre) lands at x=1, y=2 (up and left), a quarter turn counter-clockwise.
    frames = np.zeros((1, 9, 9), np.uint8)
    frames[0, 1, 6] = 255

    rotated = rotate(frames, 90.0)

    y, x = np.unravel_index(np.argmax(rotated[0]), (9, 9))
    assert abs(y - 2) <= 1 and abs(x - 1) <= 1
    assert rotated.shape == frames.shape and rotated.dtype == np.uint8


# --- photometric -------------------------------------------------------------------------

def test_brightness_contrast_identity_and_offset():
    frames = np.array([[[0, 1, 100, 229, 230, 250]]], np.uint8)

    np.testing.assert_array_equal(brightness_contrast(frames, 0.0, 1.0), frames)
    # + 0.1 * 255 = 25.5, halves round up; 230 + 25.5 = 255.5 -> 256 clips to 255.
    np.testing.assert_array_equal(brightness_contrast(frames, 0.1, 1.0),
                                  [[[26, 27, 126, 255, 255, 255]]])
    np.testing.assert_array_equal(brightness_contrast(frames, -0.1, 1.0),
                                  [[[0, 0, 75, 204, 205, 225]]])


def test_contrast_scales_about_the_clip_mean():
    frames = np.array([[[100, 200]], [[100, 200]]], np.uint8)  # mean 150

    # (100 - 150) * 1.2 + 150 = 90, (200 - 150) * 1.2 + 150 = 210.
    np.testing.assert_array_equal(brightness_contrast(frames, 0.0, 1.2),
                                  [[[90, 210]], [[90, 210]]])


# --- temporal ----------------------------------------------------------------------------

def test_time_mask_replaces_exactly_the_span_with_the_mean_frame():
    frames = np.zeros((5, 1, 2), np.uint8)
    frames[:, 0, 0] = [0, 10, 20, 30, 41]   # mean 20.2 -> 20
    frames[:, 0, 1] = [1, 2, 3, 4, 5]       # mean 3

    masked = time_mask(frames, 1, 2)

    expected = frames.copy()
    expected[1:3, 0] = [20, 3]
    np.testing.assert_array_equal(masked, expected)
    np.testing.assert_array_equal(time_mask(frames, 3, 0), frames)


@pytest.mark.parametrize("start, length", [(-1, 1), (4, 2), (0, -1)])
def test_time_mask_rejects_a_span_outside_the_clip(start, length):
    with pytest.raises(ValueError):
        time_mask(np.zeros((5, 2, 2), np.uint8), start, length)


def test_time_warp_speed_one_is_identity():
    frames, mask = random_clip(t=29, size=4)

    warped, warped_mask = time_warp(frames, mask, 1.0)

    np.testing.assert_array_equal(warped, frames)
    np.testing.assert_array_equal(warped_mask, mask)


def test_time_warp_speed_two_by_hand():
    # T=5, c=2: j=0 -> 2-4=-2 -> 0; j=1 -> 0; j=2 -> 2; j=3 -> 4; j=4 -> 6 -> 4.
    frames = np.arange(5, dtype=np.uint8).reshape(5, 1, 1) * 10
    mask = np.array([0, 1, 1, 1, 0], np.uint8)

    warped, warped_mask = time_warp(frames, mask, 2.0)

    np.testing.assert_array_equal(warped[:, 0, 0], [0, 0, 20, 40, 40])
    np.testing.assert_array_equal(warped_mask, [0, 0, 1, 0, 0])


def test_time_warp_slow_repeats_frames_near_the_centre():
    # T=5, speed 0.5: 2 + (j - 2) / 2 = 1, 1.5, 2, 2.5, 3 -> halves up: 1, 2, 2, 3, 3.
    frames = np.arange(5, dtype=np.uint8).reshape(5, 1, 1)

    warped, _ = time_warp(frames, np.zeros(5, np.uint8), 0.5)

    np.testing.assert_array_equal(warped[:, 0, 0], [1, 2, 2, 3, 3])


# --- the whole augmentation --------------------------------------------------------------

def test_augment_clip_keeps_shapes_and_leaves_inputs_alone():
    frames, mask = random_clip()
    frames_before, mask_before = frames.copy(), mask.copy()

    out_frames, out_mask = augment_clip(frames, mask, copy_rng(CLIP_ID, 3), AugmentConfig())

    assert out_frames.shape == frames.shape and out_frames.dtype == np.uint8
    assert out_mask.shape == mask.shape and out_mask.dtype == np.uint8
    assert not np.shares_memory(out_frames, frames) and not np.shares_memory(out_mask, mask)
    np.testing.assert_array_equal(frames, frames_before)
    np.testing.assert_array_equal(mask, mask_before)


def test_augment_clip_with_zero_ranges_is_identity():
    frames, mask = random_clip()

    for copy in range(1, 4):
        out_frames, out_mask = augment_clip(frames, mask, copy_rng(CLIP_ID, copy), NO_AUGMENT)
        np.testing.assert_array_equal(out_frames, frames)
        np.testing.assert_array_equal(out_mask, mask)


def test_augment_clip_with_a_sure_flip_only_flips():
    frames, mask = random_clip(t=4, size=8)
    config = dataclasses.replace(NO_AUGMENT, flip_probability=1.0)

    out_frames, out_mask = augment_clip(frames, mask, copy_rng(CLIP_ID, 1), config)

    np.testing.assert_array_equal(out_frames, frames[:, :, ::-1])
    np.testing.assert_array_equal(out_mask, mask)


@pytest.mark.parametrize("frames, mask", [
    (np.zeros((29, 8, 8), np.float32), np.zeros(29, np.uint8)),
    (np.zeros((8, 8), np.uint8), np.zeros(8, np.uint8)),
    (np.zeros((29, 8, 8), np.uint8), np.zeros(28, np.uint8)),
    (np.zeros((29, 8, 8), np.uint8), np.zeros(29, bool)),
])
def test_augment_clip_rejects_bad_inputs(frames, mask):
    with pytest.raises(ValueError):
        augment_clip(frames, mask, copy_rng(CLIP_ID, 1), AugmentConfig())


# --- config ------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("max_shift", -1),
    ("max_shift", 1.5),
    ("flip_probability", -0.1),
    ("flip_probability", 1.5),
    ("flip_probability", float("nan")),
    ("max_rotation", -1.0),
    ("max_rotation", float("inf")),
    ("max_brightness", -0.1),
    ("max_contrast", 1.5),
    ("max_time_mask", -1),
    ("speed_range", (0.0, 1.1)),
    ("speed_range", (1.2, 1.1)),
    ("speed_range", (0.9,)),
    ("speed_range", [0.9, 1.1]),
])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(AugmentConfig(), **{field: value})


def test_config_accepts_the_defaults_and_zero_ranges():
    assert AugmentConfig().speed_range == (0.9, 1.1)
    assert NO_AUGMENT.max_shift == 0
