"""One video's faces: the frames worth fitting, then shots and face tracks in one pass.

Only frames that some word window can use (plus context for smoothing and gap filling)
go through the landmark model; every frame goes through the (cheap) cut detector, so
the shot list covers the whole video. Word times are on the container clock and frame
k shows container time `video_start + k / fps`. Pure numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from pipelines.preprocess.crop_sources import CropSources
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.landmarks.base import LandmarkBackend
from pipelines.preprocess.landmarks.face_tracks import FaceTrack, FaceTracks, TrackingRule
from pipelines.preprocess.shots import ShotDetector, shot_starts, with_cut_flags
from pipelines.preprocess.windows import word_window

_UNBOUNDED_FRAMES = 10**9


@dataclass
class VideoFaces:
    """What the landmark pass found in one video, or in frames first..end-1 of it.

    `num_frames`: frames in the whole video. `shot_starts` int64 [S]: first frame of
    each shot. `faces`: every face track, each inside one shot. Frame k shows container
    time video_start + k / fps.
    """

    num_frames: int
    height: int
    width: int
    video_start: float
    shot_starts: np.ndarray
    faces: list[FaceTrack]
    detections: int = 0  # face detector runs
    fitted_frames: int = 0  # frames given to the landmark model
    first: int = 0
    end: int | None = None
    searches: int = 0  # detector runs over the whole frame (the others: around faces)

    @property
    def decoded_frames(self) -> int:
        return (self.num_frames if self.end is None else self.end) - self.first

    @property
    def frames_with_face(self) -> int:
        covered = np.zeros(self.decoded_frames, dtype=bool)
        for face in self.faces:
            lo = face.first_frame - self.first
            covered[lo:lo + face.fitted.shape[0]] |= face.fitted
        return int(covered.sum())


def video_times(start: float, end: float, video_start: float) -> tuple[float, float]:
    """A word's (start, end) in seconds from the video's first frame."""
    return start - video_start, end - video_start


def frames_of_interest(words: Iterable[tuple[float, float]], video_start: float, fps: float,
                       window_length: int, end_tolerance: float,
                       context: int) -> list[tuple[int, int]]:
    """Sorted, merged inclusive frame ranges whose landmarks a word window may use.

    `words`: (start, end) in container seconds. Words whose times cannot be windowed
    are left out here; the crop stage reports them.
    """
    ranges = []
    for start, end in words:
        start, end = video_times(start, end, video_start)
        try:
            window = word_window(start, end, _UNBOUNDED_FRAMES, window_length, fps, end_tolerance)
        except RecordError:
            continue
        ranges.append((max(window.first_frame - context, 0),
                       window.first_frame + window_length - 1 + context))
    return merged_ranges(ranges)


def merged_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive frame ranges sorted, with overlapping or touching ones joined."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


class _RangeCursor:
    """Walks sorted ranges alongside increasing frame indices: O(1) amortised per frame."""

    def __init__(self, ranges: list[tuple[int, int]] | None):
        self._ranges = ranges
        self._at = 0

    def wanted(self, index: int) -> bool:
        if self._ranges is None:
            return True
        while self._at < len(self._ranges) and self._ranges[self._at][1] < index:
            self._at += 1
        return self._at < len(self._ranges) and self._ranges[self._at][0] <= index


def _known_shots(shots: np.ndarray | None, first: int) -> tuple[set[int], np.ndarray | None]:
    if shots is None:
        return set(), None
    starts = np.asarray(shots, dtype=np.int64)
    return {int(s) for s in starts if s > first}, starts


def track_faces(frames: Iterable[np.ndarray], backend: LandmarkBackend, rule: TrackingRule,
                ranges: list[tuple[int, int]] | None, video_start: float = 0.0,
                first: int = 0, known_shots: np.ndarray | None = None,
                num_frames: int | None = None,
                sources: CropSources | None = None) -> VideoFaces:
    """Shots over every frame and face tracks over the wanted ones (`ranges`; None: all).

    `frames`: uint8 [H, W] grey frames in order, the first being frame `first` of the
    video. `known_shots`: the video's shot starts when a cut scan found them already
    (then `num_frames`, the video's length, is known too); otherwise cuts are detected
    here. `sources`, when given, keeps the pixels around each fitted face for its crops.
    Raises RecordError "no_frames" for an empty stream.
    """
    shots = ShotDetector()
    cut_frames, starts = _known_shots(known_shots, first)
    tracks = FaceTracks(backend, rule)
    cursor = _RangeCursor(ranges)
    count, height, width, fitted = 0, 0, 0, 0
    flagged = with_cut_flags(frames, shots) if starts is None else ((f, False) for f in frames)
    for offset, (frame, is_cut) in enumerate(flagged):
        index = first + offset
        if starts is None:
            new_shot, shot = is_cut, len(shots.cuts)
        else:
            new_shot = index in cut_frames
            shot = int(np.searchsorted(starts, index, side="right")) - 1
        if cursor.wanted(index):
            tracks.update(index, frame, shot, new_shot)
            fitted += 1
            if sources is not None:
                sources.keep(index, frame, tracks.fitted_now())
        count, (height, width) = offset + 1, frame.shape
    if count == 0:
        raise RecordError("no_frames", "the video holds no frames")
    if starts is None:
        starts = shot_starts(shots.cuts)
    end = None if num_frames is None else first + count
    return VideoFaces(num_frames or count, height, width, video_start, starts, tracks.finish(),
                      tracks.detections, fitted, first, end, tracks.searches)
