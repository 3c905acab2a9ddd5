"""Where each word is cut: its window inside its shot, and whose face.

A word's window is centred on it (see windows.py) and kept inside the word's shot:
positions beyond the shot repeat the shot's edge frame, as at the ends of a video; a
word spoken across a cut is dropped. The face is a track of that shot whose landmarks
are usable on every window frame. With several such faces, the one whose mouth moves
with the audio is chosen (active_speaker.py); an unclear choice is a dead letter,
never a crop of the wrong person. Pure numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipelines.preprocess.active_speaker import SpeakerConfig, choose_speaker, mouth_opening
from pipelines.preprocess.av_offset import NO_OFFSET, AvOffset, OffsetRule, delayed, \
    estimate_offset
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.landmarks.face_tracks import FaceTrack
from pipelines.preprocess.shots import shot_of, shot_range
from pipelines.preprocess.tracking import interpolate_missing, smooth_track
from pipelines.preprocess.video_tracks import VideoFaces, video_times
from pipelines.preprocess.windows import WordWindow, clamp_to_shot, word_window


@dataclass
class PreparedFace:
    """A face track with short gaps filled and its landmarks smoothed (never across shots).

    `filled` (gaps interpolated, not smoothed) and `smoothed` float32 [L, 68, 2] and
    `usable` bool [L] share the track's frames. Crops use the smoothed points; the
    speaker's sync score uses the filled ones, since smoothing (as over 12 frames, 0.5 s)
    averages away the mouth movements it measures.
    """

    track: FaceTrack
    filled: np.ndarray
    smoothed: np.ndarray
    usable: np.ndarray

    def uncovered(self, frames: np.ndarray) -> int:
        """How many of these video frames have no usable landmarks in this track."""
        local = np.asarray(frames) - self.track.first_frame
        inside = (local >= 0) & (local < self.usable.shape[0])
        usable = np.zeros(local.shape, dtype=bool)
        usable[inside] = self.usable[local[inside]]
        return int(np.count_nonzero(~usable))

    def points(self, frames: np.ndarray, kind: str = "smoothed") -> np.ndarray:
        """float32 [len(frames), 68, 2] for video frames inside the track.

        `kind`: "smoothed" (crops), "filled" (sync) or "fitted" (as the model gave them).
        """
        source = {"smoothed": self.smoothed, "filled": self.filled,
                  "fitted": self.track.points}[kind]
        return source[np.asarray(frames) - self.track.first_frame]

    def points_or_nan(self, frames: np.ndarray, kind: str = "filled") -> np.ndarray:
        """As `points`, for any video frames: NaN where the track has no usable landmarks."""
        local = np.asarray(frames) - self.track.first_frame
        inside = (local >= 0) & (local < self.usable.shape[0])
        inside[inside] = self.usable[local[inside]]
        out = np.full((local.shape[0], 68, 2), np.nan, np.float32)
        out[inside] = self.points(np.asarray(frames)[inside], kind)
        return out

    def fitted(self, frames: np.ndarray) -> np.ndarray:
        return self.track.fitted[np.asarray(frames) - self.track.first_frame]


def face_offsets(faces: list[PreparedFace], energy: np.ndarray | None, energy_first: int,
                 rule: OffsetRule | None = OffsetRule()) -> dict[int, AvOffset]:
    """Track id -> the offset of its sound from its mouth (av_offset.py) over the whole
    track, from its gap-filled points and the energy per frame from `energy_first` on;
    empty without audio or without a rule (offsets off)."""
    if energy is None or rule is None:
        return {}
    found = {}
    for face in faces:
        frames = face.track.first_frame + np.arange(face.usable.shape[0])
        inside = (frames >= energy_first) & (frames < energy_first + energy.shape[0])
        frames = frames[inside]
        opening = mouth_opening(face.points_or_nan(frames, "filled"))
        found[face.track.track_id] = estimate_offset(opening, energy[frames - energy_first],
                                                     rule)
    return found


def prepare_faces(faces: list[FaceTrack], max_gap: int, smooth_window: int) -> list[PreparedFace]:
    """Each track gap-filled (up to `max_gap` frames) and smoothed (`smooth_window` frames)."""
    prepared = []
    for face in faces:
        filled, usable = interpolate_missing(face.points, face.fitted, max_gap)
        prepared.append(PreparedFace(face, filled, smooth_track(filled, usable, smooth_window),
                                     usable))
    return prepared


@dataclass
class PlacedWord:
    """A word that can be cut: its window in the video, its shot, its face and why that face.

    `start`, `end`: seconds from the first video frame. Speaker fields are NaN where
    they do not apply (no audio; `speaker_margin` also with one face).
    """

    index: int
    word: str
    start: float
    end: float
    window: WordWindow
    shot: int
    face: PreparedFace
    candidate_faces: int
    speaker_score: float = math.nan
    speaker_margin: float = math.nan
    av_offset: AvOffset = NO_OFFSET   # the chosen face's sound-to-picture offset estimate
    shift_frames: int = 0             # frames the window was moved earlier to meet the mouth

    @property
    def first_frame(self) -> int:
        return int(self.window.frame_indices.min())

    @property
    def last_frame(self) -> int:
        return int(self.window.frame_indices.max())


def video_word_times(start: float, end: float, anchor: str, video: VideoFaces,
                     fps: float) -> tuple[float, float]:
    """Word times in seconds from the first video frame; LRW times count from the centre."""
    if anchor == "centre":
        duration = video.num_frames / fps
        return start + duration / 2.0, end + duration / 2.0
    return video_times(start, end, video.video_start)


def window_in_shot(window: WordWindow, video: VideoFaces) -> tuple[WordWindow, int]:
    """The window kept inside the shot of its span's first frame, and that shot's index.

    Raises RecordError "word_crosses_cut" when the span's own frames cross a cut.
    """
    shot = int(shot_of(window.word_first_frame, video.shot_starts))
    first, last = shot_range(shot, video.shot_starts, video.num_frames)
    return clamp_to_shot(window, first, last), shot


def speaker_span(window: WordWindow, shot: int, video: VideoFaces, span: int) -> np.ndarray:
    """Frames the sync score is measured over: `span` frames centred as the window is,
    inside the word's shot and the decoded frames (a chunk's), in order."""
    shot_first, shot_last = shot_range(shot, video.shot_starts, video.num_frames)
    centre = window.first_frame + window.frame_indices.shape[0] // 2
    first = max(centre - span // 2, shot_first, video.first)
    last = min(centre - span // 2 + span - 1, shot_last, video.first + video.decoded_frames - 1)
    return np.arange(first, last + 1)


def _sync(candidates: list[PreparedFace], frames: np.ndarray, energy: np.ndarray,
          energy_first: int, rule: SpeakerConfig, shifts: dict[int, int]):
    # Unsmoothed (gap-filled) points: smoothing averages away the movement. A face whose
    # sound follows its mouth by k frames is scored with its mouth moved k frames later.
    openings = {str(face.track.track_id): delayed(
        mouth_opening(face.points_or_nan(frames, "filled")), shifts.get(face.track.track_id, 0))
        for face in candidates}
    return choose_speaker(openings, energy[frames - energy_first], rule.max_lag,
                          rule.min_margin)


def _refusal_detail(choice, candidates: int, rule: SpeakerConfig) -> str:
    scores = ", ".join(f"face {k}: {v:.3f}" for k, v in sorted(choice.scores.items()))
    if not math.isfinite(choice.margin):
        return (f"{candidates} faces in the window and no sync score for any of them "
                f"(silent or flat audio, or too few frames with a face): {scores}")
    return (f"{candidates} faces in the window; sync scores {scores}; margin "
            f"{choice.margin:.3f} is under {rule.min_margin}")


def place_word(index: int, word: str, start: float, end: float, video: VideoFaces,
               faces: list[PreparedFace], energy: np.ndarray | None, length: int, fps: float,
               end_tolerance: float, max_gap: int, rule: SpeakerConfig,
               offsets: dict[int, AvOffset] | None = None,
               offset_rule: OffsetRule | None = OffsetRule(),
               min_face_size: float = 0.0) -> PlacedWord:
    """The word's window, shot and face; RecordError says why a word cannot be cut.

    `start`, `end`: seconds from the first video frame. `energy`: float log speech
    energy per frame from frame `video.first` on (the decoded range), or None when the
    video has no audio. `offsets`: each track's sound-to-picture offset (`face_offsets`);
    where the chosen face's is trusted (`AvOffset.applied`), the window is moved to meet
    its mouth (`PlacedWord.shift_frames`), unless the moved window leaves its shot or its
    face. Reasons: invalid_word_times, word_outside_video, word_crosses_cut, no_face,
    face_too_small, ambiguous_speaker, no_sync_signal.
    """
    window = word_window(start, end, video.num_frames, length, fps, end_tolerance)
    placed = place_window(index, word, start, end, window, video, faces, energy, max_gap, rule,
                          offsets, offset_rule, min_face_size)
    if placed.shift_frames:
        try:
            moved = word_window(start - placed.shift_frames / fps, end - placed.shift_frames / fps,
                                video.num_frames, length, fps, end_tolerance)
            moved, shot = window_in_shot(moved, video)
        except RecordError:
            placed.shift_frames = 0
            return placed
        if shot != placed.shot or placed.face.uncovered(moved.frame_indices):
            placed.shift_frames = 0
        else:
            placed.window = moved
    return placed


def _too_small(face: PreparedFace, frames: np.ndarray, min_face_size: float) -> str | None:
    """Why the face is too small to read (its median eye-corner distance), or None."""
    if min_face_size <= 0:
        return None
    points = face.points(frames)
    size = float(np.median(np.linalg.norm(points[:, 45] - points[:, 36], axis=-1)))
    if size >= min_face_size:
        return None
    return (f"face size {size:.1f} px (outer eye corners; the mouth about {0.6 * size:.0f} px "
            f"wide) < min_face_size {min_face_size:.1f} px")


def place_window(index: int, word: str, start: float, end: float, window: WordWindow,
                 video: VideoFaces, faces: list[PreparedFace], energy: np.ndarray | None,
                 max_gap: int, rule: SpeakerConfig, offsets: dict[int, AvOffset] | None = None,
                 offset_rule: OffsetRule | None = OffsetRule(),
                 min_face_size: float = 0.0) -> PlacedWord:
    """As `place_word`, for a window already laid over the video (any length); the window
    itself is not moved by the offset (the caller moves it: `shift_frames`)."""
    window, shot = window_in_shot(window, video)
    length = int(window.frame_indices.shape[0])
    in_shot = [face for face in faces if face.track.shot == shot]
    frames = window.frame_indices
    candidates = [face for face in in_shot if face.uncovered(frames) == 0]
    if not candidates:
        faceless = min((face.uncovered(frames) for face in in_shot), default=length)
        raise RecordError("no_face", f"{faceless} of {length} window frames have no face within "
                                     f"{max_gap} frames")
    placed = PlacedWord(index, word, start, end, window, shot, candidates[0], len(candidates))
    offsets = offsets if offset_rule is not None else {}
    shifts = {track: found.applied(offset_rule) for track, found in (offsets or {}).items()}
    if energy is None:
        if len(candidates) > 1:
            raise RecordError("ambiguous_speaker", f"{len(candidates)} faces in the window and "
                                                   "no audio to tell which one speaks")
    else:
        choice = _sync(candidates, speaker_span(window, shot, video, rule.span), energy,
                       video.first, rule, shifts)
        if choice.track_id is None:
            raise RecordError(choice.reason, _refusal_detail(choice, len(candidates), rule))
        placed.face = next(f for f in candidates if str(f.track.track_id) == choice.track_id)
        placed.speaker_score = float(choice.score)
        placed.speaker_margin = float(choice.margin) if len(candidates) > 1 else math.nan
    too_small = _too_small(placed.face, frames, min_face_size)
    if too_small:
        raise RecordError("face_too_small", too_small)
    track = placed.face.track.track_id
    placed.av_offset = (offsets or {}).get(track, NO_OFFSET)
    placed.shift_frames = shifts.get(track, 0)
    return placed
