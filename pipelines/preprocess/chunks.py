"""Long programmes in chunks: whole shots grouped up to a length, long shots split with overlap.

A chunk decodes frames `first`..`end - 1` and owns the words whose centre frame lies in
its core `core_first`..`core_end - 1`. Shots are never split unless one is longer than
a chunk: nothing is tracked, smoothed or windowed across a cut anyway, so a chunk made
of whole shots needs no overlap. A shot longer than `max_frames` is cut into cores of
`max_frames` frames, each decoded with `margin` frames more on both sides (inside the
shot), enough for a word window and the landmark context around it. Chunks are
independent work items: memory per chunk is bounded by `max_frames + 2 * margin`
frames of landmarks whatever the programme's length, and Beam spreads them over
workers. Pure numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Chunk:
    """Frames to decode (first..end-1) and the core (core_first..core_end-1) whose words it owns."""

    first: int
    end: int
    core_first: int
    core_end: int

    def __post_init__(self):
        if not self.first <= self.core_first < self.core_end <= self.end:
            raise ValueError(f"need first <= core_first < core_end <= end, got {self!r}")

    @property
    def frames(self) -> int:
        return self.end - self.first


def _split_shot(start: int, stop: int, max_frames: int, margin: int) -> list[Chunk]:
    pieces = math.ceil((stop - start) / max_frames)
    cores = [start + k * max_frames for k in range(pieces)] + [stop]
    return [Chunk(max(lo - margin, start), min(hi + margin, stop), lo, hi)
            for lo, hi in zip(cores[:-1], cores[1:])]


def plan_chunks(shot_starts: np.ndarray, num_frames: int, max_frames: int,
                margin: int) -> list[Chunk]:
    """Chunks covering frames 0..num_frames-1, in order, cores disjoint and complete.

    `shot_starts`: int [S] first frame of each shot, starting with 0.
    """
    if num_frames < 1 or max_frames < 1 or margin < 0:
        raise ValueError(f"need num_frames >= 1, max_frames >= 1, margin >= 0; got "
                         f"{num_frames!r}, {max_frames!r}, {margin!r}")
    bounds = [int(s) for s in shot_starts if 0 <= s < num_frames]
    if not bounds or bounds[0] != 0:
        bounds = [0] + bounds
    shots = list(zip(bounds, bounds[1:] + [num_frames]))
    chunks: list[Chunk] = []
    group: list[tuple[int, int]] = []
    for start, stop in shots:
        if group and stop - group[0][0] > max_frames:
            chunks.append(Chunk(group[0][0], group[-1][1], group[0][0], group[-1][1]))
            group = []
        if stop - start > max_frames:
            chunks.extend(_split_shot(start, stop, max_frames, margin))
            continue
        group.append((start, stop))
    if group:
        chunks.append(Chunk(group[0][0], group[-1][1], group[0][0], group[-1][1]))
    return chunks


def centre_frames(times: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """int64 [W]: the frame showing each word's midpoint, clamped into the video.

    `times`: float [W, 2] (start, end) seconds from the first video frame.
    """
    times = np.asarray(times, dtype=np.float64).reshape(-1, 2)
    centre = np.floor((times[:, 0] + times[:, 1]) / 2.0 * fps + 1e-9)
    centre = np.nan_to_num(centre, nan=0.0, posinf=num_frames - 1, neginf=0.0)
    return np.clip(centre, 0, num_frames - 1).astype(np.int64)


def assign_words(centres: np.ndarray, chunks: list[Chunk]) -> list[np.ndarray]:
    """For each chunk, the indices of the words whose centre frame lies in its core."""
    core_starts = np.array([c.core_first for c in chunks], dtype=np.int64)
    owner = np.searchsorted(core_starts, np.asarray(centres), side="right") - 1
    return [np.flatnonzero(owner == k) for k in range(len(chunks))]
