"""The per-video clip-cutting flow, as plain functions: track, place, cut.

One video goes through four steps, used alike by the preprocess job's DoFns, by
`lipflow predict` and by the benchmarks:

1. `track_video`: decode the frames (or a chunk of them) once, find the shots and
   follow every face (landmarks only on the frames some window can use), keeping the
   pixels around each fitted face that its mouth crops need (crop_sources.py).
2. `speech_audio`: the audio under the decoded frames and its log energy per frame, for
   telling speakers apart (`speech_energy`) and, in predict, for finding speech.
3. `place_words`: each span (a word, or any stretch of speech) gets its window inside
   its shot and the face that speaks it, or the reason it cannot be cut.
4. `cut_video_crops`: warps only the (frame, face) pairs that some request uses, from
   the kept pixels, and hands each request its crops as soon as its last frame has gone
   by (`cut_crops`). The video is decoded a second time only for requests whose crops
   the kept pixels do not hold (a face moving further than the kept margin), which the
   outcome says (`SecondDecode`), so the decode passes per video can be counted.

A crop request is any list of frame indices with one face track: a fixed word window
as the preprocess job cuts, or a longer window over a sentence. Frame k of a decode
shows container time `video_start + k / fps`. Pure numpy plus ffmpeg subprocesses;
no Beam, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from pipelines.preprocess.active_speaker import SpeakerConfig
from pipelines.preprocess.alignment import mouth_crop_transform, warp_crop
from pipelines.preprocess.audio import SAMPLE_RATE, MediaInfo, decode_audio, frame_log_energy, \
    probe_media
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.crop_sources import CropSources, KeptFrame
from pipelines.preprocess.decode import DecodeReport, FrameRange, decode_frames
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.landmarks.base import LandmarkBackend
from pipelines.preprocess.video_tracks import VideoFaces, track_faces
from pipelines.preprocess.word_placement import PlacedWord, PreparedFace, face_offsets, \
    place_word, prepare_faces

_LOG = logging.getLogger(__name__)


@dataclass
class TrackedVideo:
    """What the landmark pass found (see VideoFaces), whether there is audio, ffmpeg's words,
    and the pixels it kept for the crops (None: none kept, the crops need a decode)."""

    faces: VideoFaces
    has_audio: bool
    decode_warnings: str = ""
    sources: CropSources | None = None


def track_video(path: str, config: PreprocessConfig, backend: LandmarkBackend,
                ranges: list[tuple[int, int]] | None, media: MediaInfo | None = None,
                frames: FrameRange | None = None, known_shots: Sequence[int] | None = None,
                num_frames: int | None = None,
                sources: CropSources | None = None) -> TrackedVideo:
    """Decodes `frames` of a local video (default: all) and tracks its faces.

    `ranges`: inclusive frame ranges worth landmarks (None: every frame). `media`: the
    probe, when the caller has one. `known_shots` and `num_frames`: a cut scan's shot
    starts and the video's length, for a chunk of a long programme. `sources`, when
    given, is filled with the pixels the crops need (TrackedVideo.sources), so
    `cut_video_crops` needs no second decode. Raises RecordError for a video that cannot
    be decoded ("decode_mismatch" when a chunk's decode ends early).
    """
    media = media if media is not None else probe_media(path, config.fps)
    frames = frames if frames is not None else FrameRange(video_start=media.video_start)
    report = DecodeReport()
    decoded = decode_frames(path, report, config.fps, config.max_side, frames=frames,
                            media_seconds=None if frames.end is not None else media.duration or None)
    faces = track_faces(decoded, backend, config.tracking_rule, ranges, media.video_start,
                        frames.first, None if known_shots is None else np.asarray(known_shots),
                        num_frames, sources)
    if frames.end is not None and faces.end != frames.end:
        raise RecordError("decode_mismatch", f"decoding frames {frames.first}-{frames.end - 1} "
                                             f"gave {faces.decoded_frames} frames")
    return TrackedVideo(faces=faces, has_audio=media.has_audio,
                        decode_warnings=report.stderr.strip(), sources=sources)


@dataclass(frozen=True)
class SpeechAudio:
    """The audio under the decoded frames: int16 [S] mono `samples` at SAMPLE_RATE from the
    time of frame `video.first` on, and their log `energy` float64 [decoded frames]."""

    samples: np.ndarray
    energy: np.ndarray


def speech_audio(path: str, video: VideoFaces, fps: float,
                 has_audio: bool = True) -> SpeechAudio | None:
    """The audio of the decoded frames (SpeechAudio), or None when the video has no audio or
    its audio cannot be decoded (faces then cannot be told apart by sync; logged)."""
    if not has_audio:
        return None
    start = video.video_start + video.first / fps
    try:
        samples = decode_audio(path, SAMPLE_RATE, start=max(start, 0.0),
                               duration=video.decoded_frames / fps)
    except RecordError as err:
        _LOG.warning("no usable audio in %s (%s): faces cannot be told apart by sync", path, err)
        return None
    return SpeechAudio(samples, frame_log_energy(samples, SAMPLE_RATE, fps, 0,
                                                 video.decoded_frames))


def speech_energy(path: str, video: VideoFaces, fps: float,
                  has_audio: bool = True) -> np.ndarray | None:
    """float64 [video.decoded_frames]: log speech energy per decoded frame (index 0 is frame
    `video.first`), or None without usable audio (see `speech_audio`)."""
    audio = speech_audio(path, video, fps, has_audio)
    return None if audio is None else audio.energy


@dataclass(frozen=True)
class SpeechSpan:
    """A stretch of speech to place: a word of a transcript, or a segment found otherwise.

    `index`: the caller's number for it. `start`, `end`: seconds from the first video frame.
    """

    index: int
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Unplaced:
    """A span that cannot be cut, and why (a dead-letter reason and its detail)."""

    index: int
    reason: str
    detail: str


def place_words(spans: Iterable[SpeechSpan], video: VideoFaces, energy: np.ndarray | None,
                config: PreprocessConfig,
                speaker: SpeakerConfig = SpeakerConfig()) -> Iterator[PlacedWord | Unplaced]:
    """Yields, per span in order, its PlacedWord (window, shot, face) or why it cannot be cut.

    Each face track is gap-filled and smoothed once (`prepare_faces`) and its sound's offset
    from its mouth estimated once (`face_offsets`); each window is `config.window_length`
    frames centred on its span, moved by the chosen face's trusted offset (see
    word_placement.place_word).
    """
    faces = prepare_faces(video.faces, config.max_gap, config.smooth_window)
    offsets = face_offsets(faces, energy, video.first, config.offset_rule)
    for span in spans:
        try:
            yield place_word(span.index, span.word, span.start, span.end, video, faces, energy,
                             config.window_length, config.fps, config.end_tolerance,
                             config.max_gap, speaker, offsets, config.offset_rule,
                             config.min_face_size)
        except RecordError as err:
            yield Unplaced(span.index, err.reason, err.detail)


@dataclass(frozen=True, eq=False)
class CropRequest:
    """Crops wanted: one face track over video frames `frame_indices` (int64 [T], any order,
    repeats allowed, as a padded window repeats its edge frames)."""

    frame_indices: np.ndarray
    face: PreparedFace

    @property
    def first_frame(self) -> int:
        return int(np.min(self.frame_indices))

    @property
    def last_frame(self) -> int:
        return int(np.max(self.frame_indices))


def crop_requests(placed: Iterable[PlacedWord]) -> list[CropRequest]:
    """A request per placed word: its window's frames, with its chosen face."""
    return [CropRequest(word.window.frame_indices, word.face) for word in placed]


@dataclass(eq=False)
class CutCrops:
    """The crops of `requests[request]`: `frames` uint8 [T, S, S] and `transforms` float
    [T, 2, 3] (frame pixel -> crop pixel), position t from video frame frame_indices[t]."""

    request: int
    frames: np.ndarray
    transforms: np.ndarray


@dataclass(frozen=True)
class Uncut:
    """A request whose frames the decode never delivered; `redecode`: whose crops the kept
    pixels do not hold (a decode of its frames would)."""

    request: int
    detail: str
    redecode: bool = False


@dataclass(frozen=True)
class SecondDecode:
    """The video's frames were decoded again for `requests` requests (see cut_video_crops)."""

    requests: int


def _warped(frame: np.ndarray | KeptFrame, track_id: int, transform: np.ndarray,
            crop_size: int) -> np.ndarray | None:
    if isinstance(frame, KeptFrame):
        return frame.crop(track_id, transform, crop_size)
    return warp_crop(frame, transform, crop_size)


def cut_crops(frames: Iterable[np.ndarray | KeptFrame], requests: Sequence[CropRequest],
              reference: np.ndarray, crop_size: int,
              first: int = 0) -> Iterator[CutCrops | Uncut]:
    """Warps each (frame, face) pair the requests use once; yields each request's crops.

    `frames`: in order, the first being video frame `first`: uint8 [H, W] grey frames,
    or what the landmark pass kept of them (KeptFrame). `reference`: the mean face the
    mouth is aligned to. Requests come out in order of their last frame, as soon as it
    has gone by; requests whose frames the stream never reached come out as Uncut once
    it ends, and so do (with `redecode`) those with a crop the kept pixels do not hold.
    Holds only the crops of requests still open.
    """
    needed: dict[int, dict[int, PreparedFace]] = {}
    for request in requests:
        for frame in request.frame_indices:
            needed.setdefault(int(frame), {})[request.face.track.track_id] = request.face
    pending = sorted(range(len(requests)), key=lambda n: requests[n].last_frame)
    oldest = [(requests[n].first_frame, n) for n in pending]
    heapq.heapify(oldest)
    done: set[int] = set()
    crops: dict[tuple[int, int], np.ndarray] = {}
    transforms: dict[tuple[int, int], np.ndarray] = {}
    next_request = 0
    for index, frame in enumerate(frames, start=first):
        for track_id, face in needed.get(index, {}).items():
            transform = mouth_crop_transform(face.points(np.array([index]))[0], reference,
                                             crop_size)
            transforms[(index, track_id)] = transform
            crops[(index, track_id)] = _warped(frame, track_id, transform, crop_size)
        while next_request < len(pending) and requests[pending[next_request]].last_frame <= index:
            number = pending[next_request]
            yield _cut_of(number, requests[number], crops, transforms)
            done.add(number)
            next_request += 1
        while oldest and oldest[0][1] in done:
            heapq.heappop(oldest)
        keep_from = oldest[0][0] if oldest else index + 1
        for stale in [key for key in crops if key[0] < keep_from]:
            del crops[stale], transforms[stale]
    for number in pending[next_request:]:
        yield Uncut(number, f"the decode ended before frame {requests[number].last_frame}")


def _cut_of(number: int, request: CropRequest, crops: dict,
            transforms: dict) -> CutCrops | Uncut:
    track_id = request.face.track.track_id
    keys = [(int(i), track_id) for i in request.frame_indices]
    missing = [k[0] for k in keys if crops[k] is None]
    if missing:
        return Uncut(number, f"frame {missing[0]} of face {track_id}: the kept pixels do not "
                             "hold its crop", redecode=True)
    return CutCrops(number, np.stack([crops[k] for k in keys]),
                    np.stack([transforms[k] for k in keys]))


def decode_for_cut(path: str, video: VideoFaces, config: PreprocessConfig) -> Iterator[np.ndarray]:
    """A second decode: the same frames the landmark pass decoded, as `cut_crops` takes them."""
    return decode_frames(path, DecodeReport(), config.fps, config.max_side,
                         frames=FrameRange(video.first, video.end, video.video_start),
                         media_seconds=video.decoded_frames / config.fps)


def cut_video_crops(path: str, tracked: TrackedVideo, requests: Sequence[CropRequest],
                    reference: np.ndarray,
                    config: PreprocessConfig) -> Iterator[CutCrops | Uncut | SecondDecode]:
    """Each request's crops (or why not), from the pixels the landmark pass kept.

    Requests whose crops those pixels do not hold, or every request when none were kept,
    are cut from a second decode of the same frames, announced by a SecondDecode first.
    """
    video = tracked.faces
    again: list[int] = []
    if tracked.sources is None:
        again = list(range(len(requests)))
    else:
        kept = tracked.sources.frames(video.first, video.first + video.decoded_frames)
        for outcome in cut_crops(kept, requests, reference, config.crop_size, video.first):
            if isinstance(outcome, Uncut) and outcome.redecode:
                again.append(outcome.request)
            else:
                yield outcome
    if not again:
        return
    yield SecondDecode(len(again))
    _LOG.info("decoding frames %d-%d again for %d crop requests", video.first,
              video.first + video.decoded_frames - 1, len(again))
    for outcome in cut_crops(decode_for_cut(path, video, config), [requests[n] for n in again],
                             reference, config.crop_size, video.first):
        yield dataclasses.replace(outcome, request=again[outcome.request])
