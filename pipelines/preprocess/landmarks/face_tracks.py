"""Every face on screen, followed through a shot as a track of 68-point landmarks.

The detector runs every `detect_every` frames and whenever a followed face drifts; in
between, each track's points are fitted inside the box implied by its previous points
(the offset between detector box and landmark extent is learnt at each detection, so
the fitter always sees detector-shaped boxes). A detection searches the whole frame (a
copy scaled to `detect_max_side`) when no face is followed and at least every
`search_every` frames, for faces that come into view; the others search only a region
around each followed face (`roi_margin` box widths on each side), scaled so the face is
about `roi_face_side` pixels wide: HOG's cost grows with the pixels searched, and a
followed face needs re-anchoring, not finding (on the GRID and broadcast frames of
`benchmarks/face_search.py` this cuts detection cost by half or more; its drift from
whole-frame searches is reported there).

Real footage adds three cases. A face that fills or overflows the frame (the tight face
crops LRS2, LRS3 and LRW ship) has no margin around it for a detector: a whole-frame
search that finds nothing tries again with a border of `search_padding` of the frame's
long side around it, and regions and fits that reach past the frame are padded the same
way (`padded_region`). A face too small for the scaled frame (a wide shot) is looked for
in `tile_side` tiles of the frame at full size, when the frame holds no other face, at
most every `search_every` frames. A face lost for a moment (a hand, a turn) and found
again within `rejoin_gap` frames, near where it was, continues its track instead of
starting a new one, so its words' windows can bridge the gap.

At a detection, boxes are matched to tracks greedily by overlap with each track's
predicted box (IoU >= `min_match_iou`), and a match must also keep the landmarks
continuous (mean point displacement under `max_jump` face widths): two people never
share a track. Unmatched boxes start new tracks; a track the detector misses is kept
by fitting alone (a face turning to profile) for at most `max_misses` detections, and
ends at once if its fit drifts off its box or the landmark model sees no face in it.
Every track ends at a cut and at a frame the caller skips, so no track spans two shots.
Pure numpy and OpenCV around the backend; no Beam, no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pipelines.preprocess.landmarks.base import LandmarkBackend
from pipelines.preprocess.landmarks.tracker import (box_from_extent, box_iou, box_offsets,
                                                      points_box)

_MIN_DRIFT_IOU = 0.5
# A box whose pixels vary less than this (grey levels, standard deviation) holds no face:
# the fitter still places points on a blacked-out or flat region.
_MIN_FACE_CONTRAST = 6.0


@dataclass(frozen=True)
class TrackingRule:
    """How faces are detected and associated into tracks."""

    detect_every: int = 5
    detect_max_side: int = 640
    search_every: int = 25
    roi_margin: float = 0.5
    roi_face_side: int = 100
    min_match_iou: float = 0.3
    max_jump: float = 0.5
    max_misses: int = 2
    max_faces: int = 8
    search_padding: float = 0.25
    rejoin_gap: int = 12
    tile_side: int = 320

    def __post_init__(self):
        if self.detect_every < 1 or self.max_faces < 1 or self.max_misses < 0:
            raise ValueError(f"need detect_every >= 1, max_faces >= 1, max_misses >= 0: {self!r}")
        if self.detect_max_side < 32:
            raise ValueError(f"detect_max_side must be >= 32, got {self.detect_max_side!r}")
        if self.tile_side != 0 and self.tile_side < 64:
            raise ValueError(f"tile_side must be 0 (no tiled search) or >= 64, got "
                             f"{self.tile_side!r}")
        if self.rejoin_gap < 0:
            raise ValueError(f"rejoin_gap must be >= 0, got {self.rejoin_gap!r}")
        if not 0 <= self.search_padding <= 1:
            raise ValueError(f"search_padding must be in [0, 1], got {self.search_padding!r}")
        if self.search_every < 1 or self.roi_margin < 0 or self.roi_face_side < 32:
            raise ValueError(f"need search_every >= 1, roi_margin >= 0, roi_face_side >= 32: "
                             f"{self!r}")


@dataclass
class FaceTrack:
    """One face through consecutive frames of one shot.

    `points` float32 [L, 68, 2] (pixels, NaN where not fitted) and `fitted` bool [L]
    cover frames first_frame .. first_frame + L - 1 of the video.
    """

    track_id: int
    shot: int
    first_frame: int
    points: np.ndarray
    fitted: np.ndarray

    @property
    def last_frame(self) -> int:
        return self.first_frame + int(self.fitted.shape[0]) - 1


@dataclass
class _OpenTrack:
    track_id: int
    shot: int
    first_frame: int
    offsets: np.ndarray
    last: np.ndarray
    misses: int = 0
    points: list = field(default_factory=list)

    def predicted_box(self) -> np.ndarray:
        return box_from_extent(points_box(self.last), self.offsets)

    @property
    def last_frame(self) -> int:
        """The last frame this track holds points for (or a gap, when it was resumed)."""
        return self.first_frame + len(self.points) - 1

    def add(self, points: np.ndarray | None) -> None:
        self.points.append(points)
        if points is not None:
            self.last = points

    def resume(self, frame_index: int, points: np.ndarray, offsets: np.ndarray) -> None:
        """Continues the track at `frame_index` after a gap (frames without points)."""
        while self.last_frame < frame_index - 1:
            self.points.append(None)
        self.offsets = offsets
        self.misses = 0
        self.add(points)

    def closed(self) -> FaceTrack:
        empty = np.full((68, 2), np.nan, np.float32)
        stacked = np.stack([p if p is not None else empty for p in self.points])
        fitted = np.array([p is not None for p in self.points], dtype=bool)
        return FaceTrack(self.track_id, self.shot, self.first_frame,
                         stacked.astype(np.float32), fitted)


def _contrast(frame: np.ndarray, box: np.ndarray) -> float:
    """Standard deviation of the grey levels inside `box` (clipped to the frame)."""
    height, width = frame.shape
    x0, y0 = int(max(box[0], 0)), int(max(box[1], 0))
    x1, y1 = int(min(box[2], width)), int(min(box[3], height))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    return float(frame[y0:y1:2, x0:x1:2].std())


def padded_region(frame: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """frame[y0:y1, x0:x1] for a region that may reach past the frame's edges, the part
    outside filled with the mean grey of the part inside: a face that fills or overflows
    the frame (the tight face crops LRS2, LRS3 and LRW ship) then has the margin around it
    that detectors and landmark models need."""
    height, width = frame.shape
    inside = frame[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    if inside.size == 0:
        return np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if inside.shape == (y1 - y0, x1 - x0):
        return inside
    return cv2.copyMakeBorder(inside, max(-y0, 0), max(y1 - height, 0), max(-x0, 0),
                              max(x1 - width, 0), cv2.BORDER_CONSTANT,
                              value=int(round(float(inside.mean()))))


def _tile_starts(length: int, side: int) -> list[int]:
    """Starts of tiles `side` long covering `length`, overlapping by a quarter or more."""
    if length <= side:
        return [0]
    count = int(np.ceil((length - side) / (side * 3 // 4))) + 1
    return [int(round(k * (length - side) / (count - 1))) for k in range(count)]


def _distinct(boxes: np.ndarray, overlap: float = 0.4) -> np.ndarray:
    """The boxes less those overlapping a larger one by more than `overlap` (the same face
    found in two overlapping tiles)."""
    kept: list[np.ndarray] = []
    for box in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        if all(box_iou(box, other) <= overlap for other in kept):
            kept.append(box)
    return np.asarray(kept, dtype=np.float64).reshape(-1, 4)


def _overflows(frame: np.ndarray, box: np.ndarray) -> bool:
    height, width = frame.shape
    return bool(box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height)


def _region_scale(size: float, face_side: int) -> float:
    """Scale bringing a face `size` pixels wide to about `face_side`, never below it: 1/k for
    a whole k once the face is twice as wide (OpenCV's area resize is several times faster
    by a whole factor than by any other)."""
    ratio = size / face_side
    return 1.0 / int(ratio) if ratio >= 2 else min(1.0, 1.0 / ratio)


def _jump(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean point displacement in face widths (landmark extent width of `previous`)."""
    width = max(float(np.ptp(previous[:, 0])), 1.0)
    return float(np.linalg.norm(current - previous, axis=1).mean() / width)


class FaceTracks:
    """Follows every face through the frames it is given, in order; `finish` returns tracks."""

    def __init__(self, backend: LandmarkBackend, rule: TrackingRule = TrackingRule()):
        self._backend = backend
        self._rule = rule
        self._open: list[_OpenTrack] = []
        self._ended: list[_OpenTrack] = []
        self._done: list[FaceTrack] = []
        self._next_id = 0
        self._last_frame = -2
        self._since_detection = 0
        self._since_search = 0
        self.detections = 0
        self.searches = 0
        self.padded_searches = 0
        self.tiled_searches = 0
        self.rejoins = 0
        self._since_tiles = rule.search_every

    def _close_all(self) -> None:
        self._done.extend(t.closed() for t in self._open + self._ended)
        self._open, self._ended = [], []

    def _end(self, track: _OpenTrack) -> None:
        """A track the detector and the fitter lost: kept `rejoin_gap` frames in case the
        same face is found again, so a short loss does not split one face in two tracks."""
        self._ended.append(track)

    def _retire_ended(self, frame_index: int) -> None:
        keep = []
        for track in self._ended:
            if frame_index - track.last_frame > self._rule.rejoin_gap:
                self._done.append(track.closed())
            else:
                keep.append(track)
        self._ended = keep

    def _rejoined(self, frame_index: int, box: np.ndarray, points: np.ndarray) -> bool:
        """Whether a recently ended track whose last points lie within `max_jump` of these
        continues here (it then holds them, its frames in between left unfitted)."""
        near = [t for t in self._ended if _jump(t.last, points) <= self._rule.max_jump]
        if not near:
            return False
        track = min(near, key=lambda t: _jump(t.last, points))
        self._ended.remove(track)
        track.resume(frame_index, points, box_offsets(box, points_box(points)))
        self._open.append(track)
        self.rejoins += 1
        return True

    def _detect_scaled(self, image: np.ndarray, scale: float) -> np.ndarray:
        """Boxes found in `image` scaled by `scale` (<= 1), in `image`'s pixels."""
        if scale >= 1.0:
            return self._backend.detect_faces(image).astype(np.float64)
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return self._backend.detect_faces(small).astype(np.float64) / scale

    def _search_frame(self, frame: np.ndarray) -> np.ndarray:
        """Boxes in the whole frame; where there are none, in the frame with a border of
        `search_padding` of its long side around it (a face that overflows the frame), then
        in tiles of it at full size (faces too small for the scaled frame)."""
        self.searches += 1
        self._since_search = 0
        boxes = self._detect_scaled(frame, self._rule.detect_max_side / max(frame.shape))
        if len(boxes):
            return boxes
        if self._rule.search_padding > 0:
            self.padded_searches += 1
            pad = int(round(self._rule.search_padding * max(frame.shape)))
            height, width = frame.shape
            padded = padded_region(frame, -pad, -pad, width + pad, height + pad)
            boxes = self._detect_scaled(padded, self._rule.detect_max_side / max(padded.shape))
            if len(boxes):
                return boxes - pad
        return self._search_tiles(frame)

    def _search_tiles(self, frame: np.ndarray) -> np.ndarray:
        """Boxes found in overlapping `tile_side` tiles of a frame larger than the detector's
        view, at most once every `search_every` frames (the cost of a faceless picture)."""
        side = self._rule.tile_side
        if side == 0 or max(frame.shape) <= self._rule.detect_max_side or (
                self._since_tiles < self._rule.search_every):
            return np.zeros((0, 4))
        self.tiled_searches += 1
        self._since_tiles = 0
        height, width = frame.shape
        found = [self._detect_scaled(np.ascontiguousarray(frame[y:y + side, x:x + side]), 1.0)
                 + np.array([x, y, x, y], dtype=np.float64)
                 for y in _tile_starts(height, side) for x in _tile_starts(width, side)]
        return _distinct(np.concatenate(found).reshape(-1, 4))

    def _search_around(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Boxes found in the region around a followed face's predicted `box`."""
        size = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
        pad = self._rule.roi_margin * size
        x0, y0 = int(np.floor(box[0] - pad)), int(np.floor(box[1] - pad))
        x1, y1 = int(np.ceil(box[2] + pad)), int(np.ceil(box[3] + pad))
        if x1 - x0 < 32 or y1 - y0 < 32:
            return np.zeros((0, 4))
        region = np.ascontiguousarray(padded_region(frame, x0, y0, x1, y1))
        boxes = self._detect_scaled(region, _region_scale(size, self._rule.roi_face_side))
        return boxes + np.array([x0, y0, x0, y0], dtype=np.float64)

    def _detect_boxes(self, frame: np.ndarray, whole: bool) -> np.ndarray:
        self.detections += 1
        if whole or not self._open or self._since_search >= self._rule.search_every:
            return self._search_frame(frame)
        found = [self._search_around(frame, t.predicted_box()) for t in self._open]
        return np.concatenate(found).reshape(-1, 4)

    def _fit(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Points fitted in `box`, or None where the backend sees no face in it. A box past
        the frame's edges is fitted in the frame padded as for detection (`padded_region`)."""
        if not _overflows(frame, box):
            return self._backend.fit_landmarks(frame, box)
        height, width = frame.shape
        margin = 0.25 * max(float(box[2] - box[0]), float(box[3] - box[1]))
        x0, y0 = min(0, int(np.floor(box[0] - margin))), min(0, int(np.floor(box[1] - margin)))
        x1 = max(width, int(np.ceil(box[2] + margin)))
        y1 = max(height, int(np.ceil(box[3] + margin)))
        shift = np.array([x0, y0, x0, y0], dtype=np.float64)
        points = self._backend.fit_landmarks(padded_region(frame, x0, y0, x1, y1), box - shift)
        return None if points is None else points + shift[:2].astype(np.float32)

    def _fit_in(self, frame: np.ndarray, box: np.ndarray, offsets: np.ndarray):
        """Points fitted in `box`, or None when they drift off it or the box is featureless."""
        if _contrast(frame, box) < _MIN_FACE_CONTRAST:
            return None
        points = self._fit(frame, box)
        if points is None:
            return None
        if box_iou(box, box_from_extent(points_box(points), offsets)) < _MIN_DRIFT_IOU:
            return None
        return points

    def _matches(self, boxes: np.ndarray) -> list[tuple[int, int]]:
        """(track position, box position) pairs, greedy by overlap with the predicted box."""
        pairs = [(box_iou(track.predicted_box(), box), t, b)
                 for t, track in enumerate(self._open) for b, box in enumerate(boxes)]
        pairs.sort(reverse=True)
        used_tracks, used_boxes, matched = set(), set(), []
        for iou, t, b in pairs:
            if iou < self._rule.min_match_iou or t in used_tracks or b in used_boxes:
                continue
            used_tracks.add(t)
            used_boxes.add(b)
            matched.append((t, b))
        return matched

    def _is_followed(self, box: np.ndarray) -> bool:
        return any(box_iou(t.predicted_box(), box) >= self._rule.min_match_iou
                   for t in self._open)

    def _start_track(self, frame_index: int, shot: int, box: np.ndarray,
                     points: np.ndarray) -> None:
        track = _OpenTrack(self._next_id, shot, frame_index,
                           box_offsets(box, points_box(points)), points)
        track.add(points)
        self._next_id += 1
        self._open.append(track)

    def _detect_and_associate(self, frame_index: int, frame: np.ndarray, shot: int,
                              whole: bool = False) -> None:
        """Detects (`whole`: in the whole frame), then matches, keeps, ends and starts tracks."""
        boxes = self._detect_boxes(frame, whole)
        self._since_detection = 0
        matched = dict(self._matches(boxes))
        keep, new_boxes = [], set(range(len(boxes))) - set(matched.values())
        for position, track in enumerate(self._open):
            if position in matched:
                box = boxes[matched[position]]
                points = self._fit(frame, box)
                if points is not None and _jump(track.last, points) <= self._rule.max_jump:
                    track.offsets = box_offsets(box, points_box(points))
                    track.misses = 0
                    track.add(points)
                    keep.append(track)
                    continue
                new_boxes.add(matched[position])  # another face took this place
            elif track.misses < self._rule.max_misses:
                points = self._fit_in(frame, track.predicted_box(), track.offsets)
                if points is not None:
                    track.misses += 1
                    track.add(points)
                    keep.append(track)
                    continue
            self._end(track)
        self._open = keep
        for b in sorted(new_boxes, key=lambda i: -(boxes[i][2] - boxes[i][0])):
            if len(self._open) >= self._rule.max_faces:
                break
            if self._is_followed(boxes[b]):
                continue  # a second box on a face a track already holds
            points = self._fit(frame, boxes[b])
            if points is None:
                continue  # the landmark model sees no face in the detector's box
            if self._rejoined(frame_index, boxes[b], points):
                continue
            self._start_track(frame_index, shot, boxes[b], points)

    def update(self, frame_index: int, frame: np.ndarray, shot: int, new_shot: bool) -> int:
        """Fits every face in this frame (uint8 [H, W]); returns how many tracks hold a face.

        Frames must come in increasing order; a gap since the previous call, or
        `new_shot`, ends every open track first.
        """
        if new_shot or frame_index != self._last_frame + 1:
            self._close_all()
        self._retire_ended(frame_index)
        self._last_frame = frame_index
        self._since_detection += 1
        self._since_search += 1
        self._since_tiles += 1
        if not self._open or self._since_detection >= self._rule.detect_every:
            self._detect_and_associate(frame_index, frame, shot)
            return len(self._open)
        fits = [self._fit_in(frame, t.predicted_box(), t.offsets) for t in self._open]
        if any(points is None for points in fits):
            # A face that drifted off its box may have moved beyond the region around it.
            self._detect_and_associate(frame_index, frame, shot, whole=True)
            return len(self._open)
        for track, points in zip(self._open, fits):
            track.add(points)
        return len(self._open)

    def fitted_now(self) -> list[tuple[int, np.ndarray]]:
        """(track id, float [68, 2] points) of every face fitted on the last frame given:
        after `update`, every open track holds that frame's points."""
        return [(track.track_id, track.last) for track in self._open]

    def finish(self) -> list[FaceTrack]:
        """All tracks, ordered by id; tracks end here."""
        self._close_all()
        return sorted(self._done, key=lambda t: t.track_id)
