"""Landmark tracks over time: fill short detection gaps, then smooth.

A track is `points: float [T, K, 2]` (K landmarks, (x, y) in pixels, one row per
video frame) with a per-frame flag. `interpolate_missing` turns raw detections into a
track that is usable wherever a gap is short enough to bridge; `smooth_track` removes
frame-to-frame jitter without ever averaging across a frame that is not usable.
Pure numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

import numpy as np


def _check_track(points: np.ndarray, flags: np.ndarray, flag_name: str) -> None:
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape [T, K, 2], got {points.shape!r}")
    if flags.ndim != 1 or flags.shape[0] != points.shape[0]:
        raise ValueError(
            f"{flag_name} must have shape [T] matching points [T, K, 2]; "
            f"got {flag_name} {flags.shape!r} and points {points.shape!r}")
    if flags.dtype != np.bool_:
        raise ValueError(f"{flag_name} must be a bool array, got dtype {flags.dtype!r}")


def _previous_true(flags: np.ndarray) -> np.ndarray:
    """int64 [T]: index of the last True at or before each frame, -1 where there is none."""
    index = np.where(flags, np.arange(flags.shape[0]), -1)
    return np.maximum.accumulate(index) if flags.size else index


def _next_true(flags: np.ndarray) -> np.ndarray:
    """int64 [T]: index of the first True at or after each frame, T where there is none."""
    length = flags.shape[0]
    index = np.where(flags, np.arange(length), length)
    return np.minimum.accumulate(index[::-1])[::-1] if flags.size else index


def interpolate_missing(points: np.ndarray, detected: np.ndarray,
                        max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill detection gaps of at most `max_gap` frames.

    Args:
      points: float [T, K, 2], landmark (x, y) in pixels per frame; rows where
        `detected` is False are ignored and may be NaN.
      detected: bool [T], True where the landmark model found the face.
      max_gap: longest run of missing frames (in frames, >= 0) that may be bridged.

    Returns:
      (filled, usable): filled float32 [T, K, 2] and usable bool [T].
      An interior gap (between two detections) of at most `max_gap` frames is
      linearly interpolated per coordinate; a longer one is NaN and not usable.
      Frames before the first / after the last detection hold that detection's
      value when within `max_gap` frames of it, else are NaN and not usable.
      With no detection at all everything is NaN and not usable.
    """
    points = np.asarray(points)
    detected = np.asarray(detected)
    _check_track(points, detected, "detected")
    if int(max_gap) != max_gap or max_gap < 0:
        raise ValueError(f"max_gap must be an integer >= 0 frames, got {max_gap!r}")
    if not np.all(np.isfinite(points[detected])):
        raise ValueError("points must be finite at every frame where detected is True")

    length = detected.shape[0]
    if not detected.any():
        return np.full(points.shape, np.nan, dtype=np.float32), np.zeros(length, dtype=bool)
    before, after = _previous_true(detected), _next_true(detected)
    usable = _bridgeable(detected, before, after, max_gap)
    lo = np.where(before >= 0, before, after)
    hi = np.where(after < length, after, before)
    frame = np.arange(length)
    weight = np.where(hi > lo, (frame - lo) / np.maximum(hi - lo, 1), 0.0)[:, None, None]
    source = np.asarray(points, dtype=np.float64)
    values = (1.0 - weight) * source[lo] + weight * source[hi]
    filled = np.where(usable[:, None, None], values, np.nan).astype(np.float32)
    return filled, usable


def _bridgeable(detected: np.ndarray, before: np.ndarray, after: np.ndarray,
                max_gap: int) -> np.ndarray:
    """bool [T]: detected frames plus the missing frames that a gap of <= max_gap covers."""
    length = detected.shape[0]
    frame = np.arange(length)
    has_before, has_after = before >= 0, after < length
    interior = has_before & has_after & (after - before - 1 <= max_gap)
    leading = ~has_before & has_after & (after - frame <= max_gap)
    trailing = has_before & ~has_after & (frame - before <= max_gap)
    return detected | interior | leading | trailing


def _run_bounds(usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) int64 [T]: bounds of the contiguous usable run holding each usable frame."""
    length = usable.shape[0]
    shifted_before = np.concatenate([[False], usable[:-1]])
    shifted_after = np.concatenate([usable[1:], [False]])
    run_first = _previous_true(usable & ~shifted_before)
    run_last = _next_true(usable & ~shifted_after)
    return np.clip(run_first, 0, length - 1), np.clip(run_last, 0, length - 1)


def smooth_track(points: np.ndarray, usable: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of a track that never crosses an unusable frame.

    Frame t averages the taps t - h .. t + h, h = window // 2. An odd window weighs every
    tap 1; an even window weighs the two end taps (t - h and t + h) 1/2 and the others 1,
    so its weights still add up to `window` frames and it is centred on t, without the
    half-frame shift of averaging t - h .. t + h - 1 (window 12: t - 6 and t + 6 count
    half, t - 5 .. t + 5 fully). Taps outside the contiguous usable run holding t are left
    out and the remaining weights renormalised: the window is cut short on that side
    only, so near a run's first and last frames the mean leans towards the run's interior
    (smoothing keeps its strength there instead of leaving edge frames raw).

    Args:
      points: float [T, K, 2], landmark (x, y) in pixels per frame.
      usable: bool [T], frames whose points may be used.
      window: averaging window in frames (>= 1).

    Returns:
      float32 [T, K, 2]: smoothed points; NaN at every unusable frame (also for
      window 1, which otherwise returns the points unchanged).
    """
    points = np.asarray(points)
    usable = np.asarray(usable)
    _check_track(points, usable, "usable")
    if int(window) != window or window < 1:
        raise ValueError(f"window must be an integer >= 1 frame, got {window!r}")
    if usable.size == 0 or window == 1:
        return np.where(usable[:, None, None], points, np.nan).astype(np.float32)

    masked = np.where(usable[:, None, None], np.asarray(points, dtype=np.float64), 0.0)
    cumulative = np.concatenate([np.zeros((1,) + masked.shape[1:]), np.cumsum(masked, axis=0)])
    run_first, run_last = _run_bounds(usable)
    frame = np.arange(usable.shape[0])
    half = int(window) // 2
    lo = np.maximum(frame - half, run_first)
    hi = np.minimum(frame + half, run_last)
    total = cumulative[hi + 1] - cumulative[lo]
    weight = (hi - lo + 1).astype(np.float64)
    if window % 2 == 0:
        for tap in (frame - half, frame + half):  # the two end taps weigh 1/2
            inside = usable & (tap >= run_first) & (tap <= run_last)
            end_points = masked[np.clip(tap, 0, frame.size - 1)]
            total -= 0.5 * inside[:, None, None] * end_points
            weight -= 0.5 * inside
    weight = np.where(usable, weight, 1.0)[:, None, None]
    return np.where(usable[:, None, None], total / weight, np.nan).astype(np.float32)
