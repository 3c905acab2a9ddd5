"""The pixels the mouth crops are cut from, kept by the one decode that fits the landmarks.

Crops can only be placed once a video (or chunk) has been tracked to its end: a crop
follows the smoothed track, and which face a word gets depends on its whole window. So
that the video is not decoded a second time, the landmark pass keeps, for every face it
fits on a frame, the part of that frame around the face's mouth crop: the crop's
footprint under the fitted points, widened on each side by `margin` of its size, which
covers how far smoothing moves the crop. A crop is cut from the kept region only when
the region holds its footprint under the smoothed points; the warp then reads the same
pixels it reads in the whole frame (see alignment.warp_crop_from_region), so the crop is
the same to the byte. Otherwise `crop` says so (None) and the caller decodes the frames.

A region is about (1 + 2 * margin)^2 times the crop's footprint, so what a chunk keeps
grows with the faces on its fitted frames and their size on screen, not with the frame's
size. Pure numpy plus cv2; no Beam, no TensorFlow.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from pipelines.preprocess.alignment import crop_footprint, mouth_crop_transform, \
    warp_crop_from_region

KEEP_MARGIN = 0.25  # share of the crop's footprint kept beyond it on each side


@dataclass(frozen=True, eq=False)
class Region:
    """`pixels` uint8 [h, w]: frame pixels from column `left` and row `top` of a frame of
    `frame_width` x `frame_height` pixels."""

    left: int
    top: int
    pixels: np.ndarray
    frame_width: int
    frame_height: int

    def holds(self, footprint: tuple[int, int, int, int]) -> bool:
        """Whether every pixel of the footprint (inclusive left, top, right, bottom) is here,
        or lies past a frame edge that this region reaches (the warp repeats that edge)."""
        left, top, right, bottom = footprint
        height, width = self.pixels.shape
        return ((left >= self.left or self.left == 0)
                and (top >= self.top or self.top == 0)
                and (right < self.left + width or self.left + width == self.frame_width)
                and (bottom < self.top + height or self.top + height == self.frame_height))


def kept_region(frame: np.ndarray, footprint: tuple[int, int, int, int],
                margin: float) -> Region:
    """A copy of the frame's pixels around `footprint`, widened by `margin` of its size."""
    left, top, right, bottom = footprint
    height, width = frame.shape
    pad_x = int(np.ceil(margin * (right - left + 1)))
    pad_y = int(np.ceil(margin * (bottom - top + 1)))
    x0, y0 = min(max(left - pad_x, 0), width - 1), min(max(top - pad_y, 0), height - 1)
    x1, y1 = max(min(right + pad_x, width - 1), x0), max(min(bottom + pad_y, height - 1), y0)
    return Region(x0, y0, frame[y0:y1 + 1, x0:x1 + 1].copy(), width, height)


@dataclass(eq=False)
class KeptFrame:
    """What was kept of one frame: a Region per face track fitted on it (by track id)."""

    regions: dict[int, Region] = field(default_factory=dict)

    def crop(self, track_id: int, matrix: np.ndarray, crop_size: int) -> np.ndarray | None:
        """uint8 [crop_size, crop_size] as warp_crop cuts it from the whole frame, or None
        when this frame's region of that face does not hold the crop."""
        region = self.regions.get(track_id)
        if region is None or not region.holds(crop_footprint(matrix, crop_size)):
            return None
        return warp_crop_from_region(region.pixels, region.left, region.top, matrix, crop_size)


class CropSources:
    """The regions kept of a video's frames for its crops, filled frame by frame.

    `ranges`: sorted, merged inclusive frame ranges that crops can use (None: every frame);
    frames outside them are not kept. `reference`: the mean face the crops align to.
    """

    def __init__(self, reference: np.ndarray, crop_size: int,
                 ranges: list[tuple[int, int]] | None = None, margin: float = KEEP_MARGIN):
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin!r}")
        self._reference = np.asarray(reference, dtype=np.float64)
        self._crop_size = int(crop_size)
        self._margin = float(margin)
        self._ranges = ranges
        self._starts = None if ranges is None else [lo for lo, _ in ranges]
        self._frames: dict[int, KeptFrame] = {}

    def wanted(self, index: int) -> bool:
        if self._ranges is None:
            return True
        at = bisect.bisect_right(self._starts, index) - 1
        return at >= 0 and index <= self._ranges[at][1]

    def keep(self, index: int, frame: np.ndarray,
             faces: Iterable[tuple[int, np.ndarray]]) -> None:
        """Keeps, of frame `index` (uint8 [H, W]) if crops can use it, a region per (track
        id, float [68, 2] fitted points) around that face's mouth crop."""
        if not self.wanted(index):
            return
        kept = KeptFrame()
        for track_id, points in faces:
            matrix = mouth_crop_transform(points, self._reference, self._crop_size)
            kept.regions[track_id] = kept_region(
                frame, crop_footprint(matrix, self._crop_size), self._margin)
        if kept.regions:
            self._frames[index] = kept

    def frames(self, first: int, end: int) -> Iterator[KeptFrame]:
        """What was kept of frames first..end-1, in order (empty where nothing was)."""
        for index in range(first, end):
            yield self._frames.get(index, KeptFrame())

    @property
    def nbytes(self) -> int:
        return sum(r.pixels.nbytes for kept in self._frames.values()
                   for r in kept.regions.values())
