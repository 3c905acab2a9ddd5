"""Detect on a subset of frames, track in between: one face (the job follows every face
with face_tracks.FaceTracks and finds cuts with shots.py; this single-face tracker serves
the landmark and active-speaker benchmarks, whose recorded figures it produced).

Face detection is the slow step (a HOG or CNN detector over the whole frame); fitting
68 points inside a known box is fast. The tracker runs the detector every
`detect_every` frames (on a copy scaled down to `detect_max_side`) and, in between,
fits the points inside the box implied by the previous frame's points. The box is
derived with the offset between detector box and landmark extent learnt at the last
detection, so the fitter always sees boxes shaped like its detector's. A fit whose
extent no longer overlaps the box it was given (the face moved fast or left) triggers
a fresh detection on the same frame, and so does a shot cut: between detections the
fitter would otherwise place points on whatever now fills the old box. A cut shows as a
jump in a 32x24 thumbnail: on the sample clips consecutive frames differ by at most
1.2 grey levels on average, unrelated pictures by 70 or more.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.preprocess.landmarks.base import LandmarkBackend

_MIN_TRACK_IOU = 0.5
_THUMBNAIL_SIZE = (32, 24)
_CUT_THRESHOLD = 20.0  # mean absolute thumbnail difference, grey levels


def points_box(points: np.ndarray) -> np.ndarray:
    """Extent of points [K, 2] as float64 [4] (x0, y0, x1, y1)."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, _THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)


def box_offsets(box: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """A detector box relative to the landmark extent it holds, in extent widths/heights."""
    size = np.maximum(extent[2:] - extent[:2], 1.0)
    return (box - extent) / np.tile(size, 2)


def box_from_extent(extent: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The detector-shaped box around a landmark extent, given `box_offsets`."""
    size = np.maximum(extent[2:] - extent[:2], 1.0)
    return extent + offsets * np.tile(size, 2)


class FaceTracker:
    """Landmarks of one face through consecutive frames of a video."""

    def __init__(self, backend: LandmarkBackend, detect_every: int = 5, detect_max_side: int = 640):
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every!r}")
        if detect_max_side < 32:
            raise ValueError(f"detect_max_side must be >= 32, got {detect_max_side!r}")
        self._backend = backend
        self._detect_every = detect_every
        self._detect_max_side = detect_max_side
        self.detections = 0
        self.reset()

    def reset(self) -> None:
        """Forgets the face: the next frame runs the detector (after a cut or a skipped frame)."""
        self._points: np.ndarray | None = None
        self._offsets = np.zeros(4)
        self._since_detection = 0
        self._last_thumbnail: np.ndarray | None = None

    def _is_cut(self, frame: np.ndarray) -> bool:
        """Whether this frame starts a new shot (and remembers it for the next call)."""
        thumbnail = _thumbnail(frame)
        previous, self._last_thumbnail = self._last_thumbnail, thumbnail
        return previous is not None and float(np.abs(thumbnail - previous).mean()) > _CUT_THRESHOLD

    def _detect_boxes(self, frame: np.ndarray) -> np.ndarray:
        self.detections += 1
        scale = min(1.0, self._detect_max_side / max(frame.shape))
        if scale == 1.0:
            return self._backend.detect_faces(frame)
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return self._backend.detect_faces(small) / scale

    def _pick_box(self, boxes: np.ndarray) -> np.ndarray:
        # Stay with the face we were following; otherwise take the largest (the speaker).
        if self._points is not None:
            previous = box_from_extent(points_box(self._points), self._offsets)
            overlaps = [box_iou(previous, box) for box in boxes]
            if max(overlaps) > 0:
                return boxes[int(np.argmax(overlaps))]
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        return boxes[int(np.argmax(areas))]

    def _detect_and_fit(self, frame: np.ndarray) -> np.ndarray | None:
        boxes = self._detect_boxes(frame)
        if len(boxes) == 0:
            self.reset()
            return None
        box = self._pick_box(boxes).astype(np.float64)
        points = self._backend.fit_landmarks(frame, box)
        if points is None:  # the landmark model sees no face in the detector's box
            self.reset()
            return None
        self._offsets = box_offsets(box, points_box(points))
        self._since_detection = 1
        self._points = points
        return points

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        """Landmarks float32 [68, 2] of the followed face in this frame, or None if none found."""
        if self._is_cut(frame) or self._points is None or self._since_detection >= self._detect_every:
            return self._detect_and_fit(frame)
        box = box_from_extent(points_box(self._points), self._offsets)
        points = self._backend.fit_landmarks(frame, box)
        if points is None or box_iou(box, box_from_extent(points_box(points),
                                                          self._offsets)) < _MIN_TRACK_IOU:
            return self._detect_and_fit(frame)
        self._points = points
        self._since_detection += 1
        return points
