"""Fixed-length word windows over a constant-rate video.

Frame i of a video at `fps` frames per second shows time [i / fps, (i + 1) / fps)
seconds. A word spoken over [start, end) seconds gets a window of `length` frames
centred on the word's midpoint (LRW style: 29 frames at 25 fps); positions that fall
before the first or after the last frame repeat the edge frame, and a boundary mask
marks the positions that lie inside the word. Pure numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipelines.preprocess.errors import RecordError

# Slack for times that sit on a frame boundary but arrive a rounding error off it.
_BOUNDARY_EPS = 1e-6
_CENTRE_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class WordWindow:
    """Where a word's fixed-length window sits in its video.

    Attributes:
      frame_indices: int64 [T], the video frame to use at each window position,
        clamped into [0, n_frames - 1] (edge repetition is the padding).
      boundary_mask: uint8 [T], 1 where the position's unclamped frame lies inside the word.
      first_frame: unclamped video frame of window position 0 (may be negative).
      word_first_frame: first video frame inside the word.
      word_last_frame: last video frame inside the word (inclusive).
      padded_before: window positions before frame 0.
      padded_after: window positions after frame n_frames - 1.
    """

    frame_indices: np.ndarray
    boundary_mask: np.ndarray
    first_frame: int
    word_first_frame: int
    word_last_frame: int
    padded_before: int
    padded_after: int


def _check_video_args(n_frames: int, length: int, fps: float, end_tolerance: float) -> None:
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be an integer >= 1, got {n_frames!r}")
    if int(length) != length or length < 1:
        raise ValueError(f"length must be an integer >= 1 frame, got {length!r}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be finite and > 0, got {fps!r}")
    if not (math.isfinite(end_tolerance) and end_tolerance >= 0):
        raise ValueError(f"end_tolerance must be finite and >= 0 seconds, got {end_tolerance!r}")


def _checked_end(start: float, end: float, n_frames: int, fps: float,
                 end_tolerance: float) -> float:
    """The word's end in seconds, clamped to the video; RecordError if the times are bad."""
    times = f"start={start!r} s, end={end!r} s"
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RecordError("invalid_word_times", f"{times}: times must be finite")
    if start < 0:
        raise RecordError("invalid_word_times", f"{times}: start is negative")
    if end <= start:
        raise RecordError("invalid_word_times", f"{times}: end is not after start")
    duration = n_frames / fps
    if start >= duration or end > duration + end_tolerance:
        raise RecordError(
            "word_outside_video",
            f"{times} but the video lasts {duration!r} s ({n_frames} frames at {fps!r} fps, "
            f"end tolerance {end_tolerance!r} s)")
    return min(end, duration)


def _centre_frame(start: float, end: float, n_frames: int, fps: float) -> int:
    """Frame showing the word's midpoint, clamped into the video."""
    centre = math.floor((start + end) / 2.0 * fps + _CENTRE_EPS)
    return min(max(centre, 0), n_frames - 1)


def _word_frames(start: float, end: float, n_frames: int, fps: float) -> tuple[int, int]:
    """(first, last) inclusive frames whose start time lies in [start, end), clamped."""
    first = math.ceil(start * fps - _BOUNDARY_EPS)
    last = math.ceil(end * fps - _BOUNDARY_EPS) - 1
    if last < first:
        first = last = _centre_frame(start, end, n_frames, fps)
    return min(max(first, 0), n_frames - 1), min(max(last, 0), n_frames - 1)


def word_window(start: float, end: float, n_frames: int, length: int = 29,
                fps: float = 25.0, end_tolerance: float = 0.08) -> WordWindow:
    """Fixed-length window of frames centred on a word.

    Args:
      start, end: the word's times in seconds from the start of the video.
      n_frames: frames in the video.
      length: window length in frames.
      fps: video frame rate.
      end_tolerance: seconds the word may end past the end of the video (the end
        is then clamped to the video's duration).

    Returns:
      The WordWindow; see its attributes.

    Raises:
      RecordError: "invalid_word_times" (non-finite, negative start, end <= start)
        or "word_outside_video" (start at or past the end, end beyond tolerance).
      ValueError: n_frames < 1, length < 1, fps <= 0 (a caller's bug).
    """
    _check_video_args(n_frames, length, fps, end_tolerance)
    n_frames, length = int(n_frames), int(length)
    end = _checked_end(start, end, n_frames, fps, end_tolerance)
    word_first, word_last = _word_frames(start, end, n_frames, fps)
    first_frame = _centre_frame(start, end, n_frames, fps) - length // 2
    unclamped = first_frame + np.arange(length, dtype=np.int64)
    frame_indices = np.clip(unclamped, 0, n_frames - 1)
    boundary_mask = ((unclamped >= word_first) & (unclamped <= word_last)).astype(np.uint8)
    frame_indices.setflags(write=False)
    boundary_mask.setflags(write=False)
    return WordWindow(
        frame_indices=frame_indices,
        boundary_mask=boundary_mask,
        first_frame=int(first_frame),
        word_first_frame=int(word_first),
        word_last_frame=int(word_last),
        padded_before=int(np.count_nonzero(unclamped < 0)),
        padded_after=int(np.count_nonzero(unclamped > n_frames - 1)),
    )


def span_window(start: float, end: float, n_frames: int, margin: int, fps: float = 25.0,
                end_tolerance: float = 0.08) -> WordWindow:
    """A window over every frame of [start, end) seconds and `margin` frames either side.

    For spans of any length (a whole sentence): the window starts `margin` frames before
    the span's first frame and ends `margin` after its last; the boundary mask marks the
    span. Edges beyond the video repeat its edge frames, as for words. Raises RecordError
    as `word_window` does.
    """
    if int(margin) != margin or margin < 0:
        raise ValueError(f"margin must be an integer >= 0 frames, got {margin!r}")
    _check_video_args(n_frames, 1, fps, end_tolerance)
    n_frames, margin = int(n_frames), int(margin)
    end = _checked_end(start, end, n_frames, fps, end_tolerance)
    span_first, span_last = _word_frames(start, end, n_frames, fps)
    first_frame = span_first - margin
    unclamped = first_frame + np.arange(span_last - span_first + 1 + 2 * margin, dtype=np.int64)
    frame_indices = np.clip(unclamped, 0, n_frames - 1)
    boundary_mask = ((unclamped >= span_first) & (unclamped <= span_last)).astype(np.uint8)
    frame_indices.setflags(write=False)
    boundary_mask.setflags(write=False)
    return WordWindow(
        frame_indices=frame_indices, boundary_mask=boundary_mask, first_frame=int(first_frame),
        word_first_frame=int(span_first), word_last_frame=int(span_last),
        padded_before=int(np.count_nonzero(unclamped < 0)),
        padded_after=int(np.count_nonzero(unclamped > n_frames - 1)))


def clamp_to_shot(window: WordWindow, first: int, last: int) -> WordWindow:
    """The window with positions outside frames [first, last] (one shot) repeating its edges.

    Broadcast speech often starts right after a cut: the window is padded with the
    shot's edge frame exactly as at the ends of a video. The word's own frames must lie
    in the shot; a word spoken across a cut raises RecordError "word_crosses_cut".
    """
    if not 0 <= first <= last:
        raise ValueError(f"need 0 <= first <= last, got first={first!r}, last={last!r}")
    if window.word_first_frame < first or window.word_last_frame > last:
        raise RecordError(
            "word_crosses_cut",
            f"the word's frames {window.word_first_frame}-{window.word_last_frame} cross a "
            f"shot cut (its shot spans frames {first}-{last})")
    unclamped = window.first_frame + np.arange(window.frame_indices.shape[0], dtype=np.int64)
    frame_indices = np.clip(unclamped, first, last)
    frame_indices.setflags(write=False)
    return WordWindow(
        frame_indices=frame_indices, boundary_mask=window.boundary_mask,
        first_frame=window.first_frame, word_first_frame=window.word_first_frame,
        word_last_frame=window.word_last_frame,
        padded_before=int(np.count_nonzero(unclamped < first)),
        padded_after=int(np.count_nonzero(unclamped > last)))

