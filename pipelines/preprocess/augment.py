"""Reproducible augmentation of word clips.

A clip is `frames`, uint8 [T, H, W] grey mouth crops (x to the right, y down), and
`boundary_mask`, uint8 [T], 1 where the frame lies inside the spoken word. The dataset
job writes extra augmented copies of each training clip; copy k of a clip takes all of
its randomness from `copy_rng(clip_id, k)`, so a rerun writes the same bytes on any
machine with the pinned numpy and OpenCV.

Every function returns new arrays and leaves its inputs untouched. Rounding to whole
pixels, frames or grey levels is half-up (floor(v + 0.5)), so ties do not depend on
banker's rounding. Pure numpy plus cv2 for the rotation; no Beam, no TensorFlow.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import cv2
import numpy as np

_SEED_BYTES = 8  # copy seeds are 64-bit unsigned integers


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentations; an all-zero config leaves clips unchanged.

    Sizes are in pixels, angles in degrees, brightness in fractions of 255, lengths in frames.
    """

    max_shift: int = 4              # translation in x and y, uniform in [-max, max] pixels
    flip_probability: float = 0.5   # chance of a horizontal flip
    max_rotation: float = 5.0       # degrees, uniform in [-max, max], about the crop centre
    max_brightness: float = 0.1     # additive, fraction of 255, uniform in [-max, max]
    max_contrast: float = 0.1       # factor around the clip mean, uniform in [1 - max, 1 + max]
    max_time_mask: int = 5          # a span of 0..max frames replaced by the clip's mean frame
    speed_range: tuple[float, float] = (0.9, 1.1)  # temporal speed factor, uniform in [lo, hi]

    def __post_init__(self):
        for name in ("max_shift", "max_time_mask"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("flip_probability", "max_brightness", "max_contrast"):
            value = getattr(self, name)
            if not (_is_real(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if not (_is_real(self.max_rotation) and 0.0 <= self.max_rotation <= 180.0):
            raise ValueError(
                f"max_rotation must be in [0, 180] degrees, got {self.max_rotation!r}")
        _check_speed_range(self.speed_range)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    """True for a finite int or float (not a bool)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(value))


def _check_speed_range(speed_range: object) -> None:
    if not (isinstance(speed_range, tuple) and len(speed_range) == 2
            and all(_is_real(v) for v in speed_range)):
        raise ValueError(
            f"speed_range must be a tuple (lo, hi) of two finite numbers, got {speed_range!r}")
    lo, hi = speed_range
    if not 0.0 < lo <= hi:
        raise ValueError(f"speed_range must satisfy 0 < lo <= hi, got {speed_range!r}")


def _check_frames(frames: object) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 3:
        described = (f"{frames.dtype} array of shape {frames.shape}"
                     if isinstance(frames, np.ndarray) else type(frames).__name__)
        raise ValueError(f"frames must be a uint8 array [T, H, W], got a {described}")
    if 0 in frames.shape:
        raise ValueError(f"frames must not be empty, got shape {frames.shape!r}")


def _check_mask(mask: object, n_frames: int) -> None:
    if (not isinstance(mask, np.ndarray) or mask.dtype != np.uint8
            or mask.shape != (n_frames,)):
        described = (f"{mask.dtype} array of shape {mask.shape}"
                     if isinstance(mask, np.ndarray) else type(mask).__name__)
        raise ValueError(
            f"boundary mask must be a uint8 array [T] with T={n_frames}, got a {described}")


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(values + 0.5)


def copy_seed(clip_id: str, copy: int) -> int:
    """64-bit seed of augmented copy `copy` of a clip, the same in every process and machine.

    The first 8 bytes (big-endian) of sha256 over the UTF-8 of f"{clip_id}\\x00{copy}";
    Python's hash() is salted per process and is not used.
    """
    if not isinstance(clip_id, str) or not clip_id:
        raise ValueError(f"clip_id must be a non-empty string, got {clip_id!r}")
    if not _is_int(copy) or copy < 0:
        raise ValueError(f"copy must be an integer >= 0, got {copy!r}")
    digest = hashlib.sha256(f"{clip_id}\x00{int(copy)}".encode("utf-8")).digest()
    return int.from_bytes(digest[:_SEED_BYTES], "big")


def copy_rng(clip_id: str, copy: int) -> np.random.Generator:
    """A fresh PCG64 generator seeded with copy_seed(clip_id, copy)."""
    return np.random.default_rng(copy_seed(clip_id, copy))


def shift(frames: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """uint8 [T, H, W]: every frame translated so content moves by (+dx, +dy) pixels.

    Output pixel (y, x) shows input pixel (y - dy, x - dx) clamped into the frame, so the
    vacated border repeats the edge row or column.
    """
    _check_frames(frames)
    if not (_is_int(dx) and _is_int(dy)):
        raise ValueError(f"dx and dy must be integers (pixels), got {dx!r}, {dy!r}")
    _, height, width = frames.shape
    rows = np.clip(np.arange(height) - dy, 0, height - 1)
    cols = np.clip(np.arange(width) - dx, 0, width - 1)
    return frames[:, rows[:, None], cols[None, :]]


def hflip(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W]: every frame mirrored left to right."""
    _check_frames(frames)
    return frames[:, :, ::-1].copy()


def rotate(frames: np.ndarray, degrees: float) -> np.ndarray:
    """uint8 [T, H, W]: every frame rotated by `degrees` about ((W-1)/2, (H-1)/2).

    Positive angles turn the picture counter-clockwise as seen on screen (OpenCV's
    getRotationMatrix2D convention); bilinear interpolation, edge pixels repeated
    outside the frame. A zero angle returns an exact copy.
    """
    _check_frames(frames)
    if not _is_real(degrees):
        raise ValueError(f"degrees must be a finite number, got {degrees!r}")
    if degrees == 0:
        return frames.copy()
    _, height, width = frames.shape
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, float(degrees), 1.0)
    rotated = [cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
               for frame in frames]
    return np.stack(rotated)


def brightness_contrast(frames: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    """uint8 [T, H, W]: clip((x - m) * contrast + m + brightness * 255) rounded half-up.

    m is the mean grey level of the whole clip; brightness is a fraction of 255.
    Computed as x * contrast + ((1 - contrast) * m + brightness * 255), so (0, 1) is
    exactly the identity.
    """
    _check_frames(frames)
    if not (_is_real(brightness) and _is_real(contrast)):
        raise ValueError(
            f"brightness and contrast must be finite numbers, got {brightness!r}, {contrast!r}")
    if contrast < 0:
        raise ValueError(f"contrast must be >= 0, got {contrast!r}")
    clip_mean = int(frames.sum(dtype=np.int64)) / frames.size  # exact sum, one division
    offset = (1.0 - contrast) * clip_mean + brightness * 255.0
    adjusted = frames.astype(np.float64) * contrast + offset
    return np.clip(_round_half_up(adjusted), 0, 255).astype(np.uint8)


def mean_frame(frames: np.ndarray) -> np.ndarray:
    """uint8 [H, W]: the per-pixel mean over time, rounded half-up (exact integer arithmetic)."""
    _check_frames(frames)
    n_frames = frames.shape[0]
    total = frames.sum(axis=0, dtype=np.int64)
    return ((2 * total + n_frames) // (2 * n_frames)).astype(np.uint8)


def time_mask(frames: np.ndarray, start: int, length: int) -> np.ndarray:
    """uint8 [T, H, W]: frames[start:start + length] replaced by the clip's mean frame.

    The span must lie inside the clip; length 0 returns an unchanged copy.
    """
    _check_frames(frames)
    n_frames = frames.shape[0]
    if not (_is_int(start) and _is_int(length)):
        raise ValueError(f"start and length must be integers (frames), got {start!r}, {length!r}")
    if start < 0 or length < 0 or start + length > n_frames:
        raise ValueError(
            f"time mask [start={start!r}, start+length={start + length!r}) must lie "
            f"inside the clip's {n_frames} frames")
    masked = frames.copy()
    if length > 0:
        masked[start:start + length] = mean_frame(frames)
    return masked


def time_warp_indices(n_frames: int, speed: float) -> np.ndarray:
    """int64 [n_frames]: source frame of each position after a speed change.

    Position j takes frame round(c + (j - c) * speed), c = (n_frames - 1) / 2, halves
    rounded up, clamped into [0, n_frames - 1]. speed > 1 plays faster (the ends repeat
    the edge frames), speed < 1 slower (frames near the centre repeat).
    """
    if not _is_int(n_frames) or n_frames < 1:
        raise ValueError(f"n_frames must be an integer >= 1, got {n_frames!r}")
    if not (_is_real(speed) and speed > 0):
        raise ValueError(f"speed must be a finite number > 0, got {speed!r}")
    centre = (n_frames - 1) / 2.0
    positions = centre + (np.arange(n_frames) - centre) * float(speed)
    return np.clip(_round_half_up(positions), 0, n_frames - 1).astype(np.int64)


def time_warp(frames: np.ndarray, mask: np.ndarray,
              speed: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample a clip in time about its centre frame, keeping T.

    Args:
      frames: uint8 [T, H, W].
      mask: uint8 [T] boundary mask, resampled with the same frame indices.
      speed: temporal speed factor > 0 (see time_warp_indices); 1 is the identity.

    Returns:
      (uint8 [T, H, W], uint8 [T]), new arrays.
    """
    _check_frames(frames)
    _check_mask(mask, frames.shape[0])
    indices = time_warp_indices(frames.shape[0], speed)
    return frames[indices], mask[indices]


def augment_clip(frames: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                 config: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """One random augmentation of a clip.

    Draws from `rng`, always all of them and in this order: speed ~ U[lo, hi];
    dx, dy ~ integers in [-max_shift, max_shift]; flip = U[0, 1) < flip_probability;
    rotation ~ U[-max_rotation, max_rotation] degrees; brightness ~ U[-max_brightness,
    max_brightness]; contrast ~ U[1 - max_contrast, 1 + max_contrast]; mask length ~
    integers in [0, min(max_time_mask, T)]; mask start ~ integers in [0, T - length].
    Then applies time_warp, shift, hflip (if drawn), rotate, brightness_contrast and
    time_mask, in that order.

    Args:
      frames: uint8 [T, H, W] grey crops; not modified.
      mask: uint8 [T] boundary mask; not modified.
      rng: the copy's generator, normally copy_rng(clip_id, copy).
      config: ranges of the augmentations.

    Returns:
      (uint8 [T, H, W], uint8 [T]), new arrays.
    """
    _check_frames(frames)
    _check_mask(mask, frames.shape[0])
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    if not isinstance(config, AugmentConfig):
        raise ValueError(f"config must be an AugmentConfig, got {type(config).__name__}")
    n_frames = frames.shape[0]
    speed = float(rng.uniform(*config.speed_range))
    dx = int(rng.integers(-config.max_shift, config.max_shift, endpoint=True))
    dy = int(rng.integers(-config.max_shift, config.max_shift, endpoint=True))
    flip = bool(rng.random() < config.flip_probability)
    rotation = float(rng.uniform(-config.max_rotation, config.max_rotation))
    brightness = float(rng.uniform(-config.max_brightness, config.max_brightness))
    contrast = float(rng.uniform(1.0 - config.max_contrast, 1.0 + config.max_contrast))
    mask_length = int(rng.integers(0, min(config.max_time_mask, n_frames), endpoint=True))
    mask_start = int(rng.integers(0, n_frames - mask_length, endpoint=True))

    out_frames, out_mask = time_warp(frames, mask, speed)
    out_frames = shift(out_frames, dx, dy)
    if flip:
        out_frames = hflip(out_frames)
    out_frames = rotate(out_frames, rotation)
    out_frames = brightness_contrast(out_frames, brightness, contrast)
    out_frames = time_mask(out_frames, mask_start, mask_length)
    return out_frames, out_mask
