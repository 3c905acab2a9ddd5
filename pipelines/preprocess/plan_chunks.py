"""Stage 2: probe each video and cut long programmes into chunks that workers share.

A video no longer than `chunk_seconds` stays one work item. A longer one is scanned
for cuts on 32x24 miniatures (decode cost only), in pieces of `chunk_seconds` that
workers share, each decoded by seeking with a lead-in of frames that gives the cut
detector the history a whole scan would have, so the pieces find exactly the cuts of
one scan. The cuts are then gathered per video and the programme is split into chunks
of whole shots (chunks.py) that the landmark and crop stages decode by seeking, each
on its own, so that a one-hour programme spreads over workers and no worker holds
more than a chunk. Each chunk carries the words whose centre falls in it.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipelines.preprocess.audio import MediaInfo, probe_media
from pipelines.preprocess.chunks import assign_words, centre_frames, plan_chunks
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.decode import FrameRange, check_video_file, decode_thumbnails
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.video_job import VideoJob, VideoPlan
from pipelines.preprocess.shots import CutRule, ShotDetector, shot_starts
from pipelines.storage import local_copy

STAGE = "plan_chunks"
SCANS = "scans"
_LOG = logging.getLogger(__name__)
# Frames decoded before a scan piece: the cut rule compares a jump with the median of
# the last `history` jumps that were not cuts, so a lead-in this long gives a piece the
# history a whole scan has there unless cuts come every frame or two for seconds.
SCAN_LEAD = 4 * CutRule().history + 1


@dataclasses.dataclass(frozen=True)
class ScanPiece:
    """Frames first..end-1 of a video to scan for cuts (end None: to the end of the video).

    Piece 0 carries the job and its probe, which the chunk planning needs once.
    """

    index: int
    first: int
    end: int | None
    video_start: float
    path: str
    job: VideoJob | None = None
    media: MediaInfo | None = None


@dataclasses.dataclass(frozen=True)
class PieceCuts:
    """The cuts one scan piece found in its frames, and how far into the video it saw.

    `seen_to`: one past the last frame decoded (0 when none was); `error`: (reason,
    detail) when the piece could not be decoded.
    """

    piece: ScanPiece
    cuts: tuple[int, ...]
    seen_to: int
    error: tuple[str, str] | None = None


def scan_pieces(job: VideoJob, media: MediaInfo, fps: float, piece_frames: int) -> list[ScanPiece]:
    """Pieces of `piece_frames` frames covering the video, the last open to its end."""
    pieces = max(1, math.ceil(media.duration * fps / piece_frames))
    return [ScanPiece(k, k * piece_frames, None if k == pieces - 1 else (k + 1) * piece_frames,
                      media.video_start, job.input.video,
                      job if k == 0 else None, media if k == 0 else None)
            for k in range(pieces)]


def scan_piece(path: str, piece: ScanPiece, fps: float) -> PieceCuts:
    """The cuts in the piece's frames, decided as a scan of the whole video decides them.

    The decode starts SCAN_LEAD frames early (history for the cut rule) and runs one
    frame past the piece (a cut is decided on the frame after it); the video's last
    frame is decided at its end, as `ShotDetector.finish` does.
    """
    lead_first = max(piece.first - SCAN_LEAD, 0)
    decode_end = None if piece.end is None else piece.end + 1
    detector, count = ShotDetector(), 0
    for thumb in decode_thumbnails(path, fps, FrameRange(lead_first, decode_end,
                                                         piece.video_start)):
        detector.update(thumb)
        count += 1
    if decode_end is None or lead_first + count < decode_end:
        detector.finish()  # the video ended inside this piece
    end = piece.end if piece.end is not None else lead_first + count
    cuts = tuple(lead_first + c for c in detector.cuts if piece.first <= lead_first + c < end)
    return PieceCuts(piece, cuts, lead_first + count if count else 0)


def word_centres(job: VideoJob, video_start: float, fps: float, num_frames: int) -> np.ndarray:
    """Centre frame of each transcript word (clamped into the video)."""
    times = np.array([(w.start - video_start, w.end - video_start)
                      for w in job.transcript.words], dtype=np.float64).reshape(-1, 2)
    return centre_frames(times, fps, num_frames)


class PlanChunksFn(beam.DoFn):
    """VideoJob -> main: a planned VideoJob for a short video; scans: (video_id, ScanPiece)
    for a long one; dead_letter: unreadable videos."""

    def __init__(self, config: PreprocessConfig):
        self._config = config
        self._long = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.videos_chunked")
        self._items = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.chunks")  # work items
        self._pieces = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.scan_pieces")

    def process(self, job: VideoJob):
        words = len(job.transcript.words)
        # No word left: every one already failed upstream (e.g. subtitle alignment). A bare
        # return on its own line, which Beam's check of process() does not take for a value.
        if words == 0:
            return
        video = job.input
        try:
            with local_copy(video.video) as path:
                check_video_file(path)
                media = probe_media(path, self._config.fps)
        except RecordError as err:
            yield dead_letter(failure(video.video, STAGE, err.reason, err.detail,
                                      video_id=video.video_id, words_affected=words))
            return
        if 0 < media.duration <= self._config.chunk_seconds:
            self._items.inc()
            yield dataclasses.replace(job, plan=VideoPlan(media, job.word_indices))
            return
        self._long.inc()
        pieces = scan_pieces(job, media, self._config.fps, self._config.chunk_frames)
        self._pieces.inc(len(pieces))
        for piece in pieces:
            yield beam.pvalue.TaggedOutput(SCANS, (video.video_id, piece))


class ScanPieceFn(beam.DoFn):
    """(video_id, ScanPiece) -> (video_id, PieceCuts); a decoding failure travels in it."""

    def __init__(self, config: PreprocessConfig):
        self._config = config

    def process(self, keyed):
        video_id, piece = keyed
        try:
            with local_copy(piece.path) as path:
                found = scan_piece(path, piece, self._config.fps)
        except RecordError as err:
            found = PieceCuts(piece, (), 0, (err.reason, err.detail))
        yield video_id, found


class ChunkVideoFn(beam.DoFn):
    """(video_id, [PieceCuts]) -> VideoJob with a plan, one per chunk; dead_letter: a
    video that a piece could not decode, or without frames."""

    def __init__(self, config: PreprocessConfig):
        self._config = config
        self._chunks = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.chunks")

    def process(self, keyed):
        _, found = keyed
        found = sorted(found, key=lambda part: part.piece.index)
        job, media = found[0].piece.job, found[0].piece.media
        video = job.input
        error = next((part.error for part in found if part.error), None)
        count = max(part.seen_to for part in found)
        if error is None and count == 0:
            error = ("no_frames", "the cut scan decoded no frame of the video")
        if error is not None:
            yield dead_letter(failure(video.video, STAGE, error[0], error[1],
                                      video_id=video.video_id,
                                      words_affected=len(job.transcript.words)))
            return
        starts = shot_starts([cut for part in found for cut in part.cuts])
        config = self._config
        chunks = plan_chunks(starts, count, config.chunk_frames, config.chunk_margin)
        owners = assign_words(word_centres(job, media.video_start, config.fps, count), chunks)
        plans = [VideoPlan(media, tuple(int(i) for i in owned), count,
                           tuple(int(s) for s in starts), chunk)
                 for chunk, owned in zip(chunks, owners) if len(owned)]
        _LOG.info("%s: %d frames, %d shots (scanned in %d pieces), %d chunks with words",
                  video.video_id, count, len(starts), len(found), len(plans))
        self._chunks.inc(len(plans))
        for plan in plans:
            yield dataclasses.replace(job, plan=plan)


def plan_in_one_process(fns: tuple[PlanChunksFn, ScanPieceFn, ChunkVideoFn], job: VideoJob):
    """The planning steps for one job, one after another as one worker would run them:
    yields planned VideoJobs and dead letters (for tests and the memory benchmark)."""
    pieces = []
    for out in fns[0].process(job):
        if isinstance(out, beam.pvalue.TaggedOutput) and out.tag == SCANS:
            pieces.append(out.value)
        else:
            yield out
    if pieces:
        found = [next(iter(fns[1].process(keyed)))[1] for keyed in pieces]
        yield from fns[2].process((pieces[0][0], found))


class PlanChunks(beam.PTransform):
    """PCollection[VideoJob] -> {"jobs": planned VideoJob, one per chunk; dead_letter: failures}."""

    def __init__(self, config: PreprocessConfig):
        super().__init__()
        self._config = config

    def expand(self, jobs):
        probed = jobs | "Probe" >> beam.ParDo(PlanChunksFn(self._config)).with_outputs(
            DEAD_LETTER, SCANS, main="jobs")
        chunked = (probed[SCANS]
                   | "SpreadScanPieces" >> beam.Reshuffle()
                   | "ScanForCuts" >> beam.ParDo(ScanPieceFn(self._config))
                   | "GatherCutsByVideo" >> beam.GroupByKey()
                   | "CutIntoChunks" >> beam.ParDo(ChunkVideoFn(self._config)).with_outputs(
                       DEAD_LETTER, main="jobs"))
        return {"jobs": (probed.jobs, chunked.jobs) | "AllWorkItems" >> beam.Flatten(),
                DEAD_LETTER: ((probed[DEAD_LETTER], chunked[DEAD_LETTER])
                              | "PlanningFailures" >> beam.Flatten())}
