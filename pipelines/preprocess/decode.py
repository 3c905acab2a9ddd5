"""Streaming decode of a video into constant-rate grey frames with ffmpeg.

ffmpeg resamples the source to a constant frame rate on the source's own timestamps
(`fps=25`, frames passed through without padding), so output frame i shows time
i/fps seconds after the first video frame whatever the source rate (variable frame
rate included). Timestamps are not shifted: transcripts count from the start of the
container, and a video stream that starts later than its audio keeps that offset,
which `pipelines.preprocess.audio.probe_media` reads (`video_start`); a word at
container time t is at video frame (t - video_start) * fps. Frames come out as a stream of PGM images:
each carries its own size in its header, so no probe is needed before decoding,
rotation metadata (applied by ffmpeg) cannot desynchronise the reader, and only one
frame is held in memory at a time. Frames come out upright, deinterlaced and with square
pixels, as a viewer sees them, whatever the source stores.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import IO, Iterator

import ffmpeg
import numpy as np

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.ffmpeg_process import FfmpegRun

FFMPEG_ENV = "LIPFLOW_FFMPEG"
# The frame pipe's size: 1 MiB (Linux's limit for an unprivileged process) instead of
# 64 KiB, less than one 360x288 frame. ffmpeg then decodes several frames per turn on
# the core instead of switching with the reader at every frame; on 40 GRID recordings
# pinned to one core the job's decode-and-track pass ran about 9% faster.
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031  # from <linux/fcntl.h>; the fcntl module names it from Python 3.10 on Linux
_SEEK_LEAD_SECONDS = 3.0

# Non-square pixels (anamorphic 16:9 SD stores 720x576 for a 1024x576 picture) are made
# square by growing the short side, so faces keep their shape and no detail is dropped;
# a square-pixel source keeps its size and the scale passes its frames through untouched.
_SQUARE_WIDTH = "if(gt(sar,1),trunc(iw*sar/2+0.5)*2,iw)"
_SQUARE_HEIGHT = "if(lt(sar,1),trunc(ih/sar/2+0.5)*2,ih)"

_NO_VIDEO_MARKERS = ("matches no streams", "does not contain any stream")
_NOT_VIDEO_MARKERS = ("Invalid data found when processing input", "could not find codec parameters",
                      "Invalid argument")


def ffmpeg_executable() -> str:
    """Path of the ffmpeg to run: $LIPFLOW_FFMPEG, else the system's, else the wheel's."""
    configured = os.environ.get(FFMPEG_ENV)
    if configured:
        return configured
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as err:
        raise RuntimeError(
            "No ffmpeg found: install it on the PATH, set LIPFLOW_FFMPEG, "
            "or install the imageio-ffmpeg package that ships one") from err
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_version(executable: str | None = None) -> str:
    """First line of `ffmpeg -version`, for manifests."""
    out = subprocess.run([executable or ffmpeg_executable(), "-version"], capture_output=True,
                         text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


@dataclass
class DecodeReport:
    """What a finished decode said: frames delivered and what ffmpeg complained about."""

    frames: int = 0
    width: int = 0
    height: int = 0
    stderr: str = field(default="", repr=False)


@dataclass(frozen=True)
class FrameRange:
    """Frames first..end-1 of a video (numbered from its first frame at the output rate).

    `video_start`: container time of frame 0 (see audio.probe_media). `end` None: to the end.
    """

    first: int = 0
    end: int | None = None
    video_start: float = 0.0

    @property
    def whole(self) -> bool:
        return self.first == 0 and self.end is None


def _seek_args(frames: FrameRange, fps: float) -> dict:
    # Seek a little before the range on the container clock (fast, to a key frame), keep
    # the original timestamps, and let trim keep exactly the wanted frames of the fps grid.
    seconds = max(frames.video_start + frames.first / fps - _SEEK_LEAD_SECONDS, 0.0)
    return {"ss": f"{seconds:.6f}", "copyts": None, "start_at_zero": None} if seconds else {}


def _trim_args(frames: FrameRange, fps: float) -> dict:
    grid_start = int(round(frames.video_start * fps))
    trim = {"start_pts": grid_start + frames.first}
    if frames.end is not None:
        trim["end_pts"] = grid_start + frames.end
    return trim


def _ffmpeg_command(path: str, fps: float, max_side: int, threads: int,
                    frames: FrameRange = FrameRange()) -> list[str]:
    # "file:" keeps names with a leading '-' or a ':' from being read as options or protocols.
    seek = {} if frames.whole else _seek_args(frames, fps)
    source = ffmpeg.input("file:" + os.path.abspath(path), threads=threads, **seek)
    # Broadcast SD and HD are often interlaced: frames flagged so are deinterlaced (one
    # frame per frame, no doubling) before the rate changes; progressive frames pass as
    # they are.
    video = source["v:0"].filter("yadif", mode="send_frame", parity="auto", deint="interlaced")
    video = video.filter("fps", fps=fps)
    if not frames.whole:
        video = video.filter("trim", **_trim_args(frames, fps))
    video = (video
             .filter("scale", w=_SQUARE_WIDTH, h=_SQUARE_HEIGHT)
             .filter("setsar", "1")
             .filter("scale", w=f"min(iw,{max_side})", h=f"min(ih,{max_side})",
                     force_original_aspect_ratio="decrease", force_divisible_by=2)
             .filter("format", "gray"))
    # passthrough: no frames duplicated to pad the stream back to container time 0.
    out = video.output("pipe:", format="image2pipe", vcodec="pgm", threads=threads,
                       fps_mode="passthrough")
    return out.global_args("-nostdin", "-hide_banner", "-loglevel", "error").compile(
        cmd=ffmpeg_executable())


def _widen_pipe(stream: IO[bytes]) -> None:
    """Asks for a larger pipe behind `stream`; elsewhere than Linux, or refused, it stays."""
    try:
        import fcntl
        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", _F_SETPIPE_SZ), _PIPE_BYTES)
    except (ImportError, OSError):
        pass


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    return data if data is not None else b""


def _read_pgm(stream: IO[bytes]) -> np.ndarray | None:
    """One PGM frame from the pipe as uint8 [H, W], or None at the end of the stream."""
    magic = stream.readline()
    if not magic:
        return None
    size_line = stream.readline()
    stream.readline()  # maxval, always 255 for gray
    if magic.strip() != b"P5":
        raise RuntimeError(f"ffmpeg wrote an unexpected frame header {magic[:20]!r}")
    width, height = (int(v) for v in size_line.split())
    data = _read_exact(stream, width * height)
    if len(data) != width * height:
        return None
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width)


def _failure_reason(stderr: str) -> str:
    if any(marker in stderr for marker in _NO_VIDEO_MARKERS):
        return "no_video_stream"
    if any(marker in stderr for marker in _NOT_VIDEO_MARKERS):
        return "not_a_video"
    return "corrupt_video"


def check_video_file(path: str) -> None:
    """RecordError "missing_video" or "empty_file" before any ffmpeg runs on `path`."""
    if not os.path.isfile(path):
        raise RecordError("missing_video", f"{path!r} does not exist or is not a file")
    if os.path.getsize(path) == 0:
        raise RecordError("empty_file", f"{path!r} is zero bytes long")


def decode_frames(path: str, report: DecodeReport, fps: float = 25.0, max_side: int = 1280,
                  threads: int = 1, frames: FrameRange = FrameRange(),
                  media_seconds: float | None = None) -> Iterator[np.ndarray]:
    """Yields the video's frames as uint8 [H, W] grey at `fps`, one at a time.

    `frames` limits the decode to a range of frames (numbered as a whole decode numbers
    them), reached by seeking: a chunk of a long programme costs its own length only.
    `media_seconds`: the length decoded, for ffmpeg's deadline (default: the range's, or
    none for a whole video of unknown length, which only the stall watchdog limits).

    Frames larger than `max_side` on either side are scaled down keeping the aspect.
    `report` is filled as frames go and completed when the stream ends. Raises
    RecordError (reasons: missing_video, empty_file, no_video_stream, not_a_video,
    corrupt_video, no_frames, ffmpeg_timeout) for a video that cannot be decoded.
    """
    check_video_file(path)
    command = _ffmpeg_command(path, fps, max_side, threads, frames)
    with FfmpegRun(command, _media_seconds(frames, fps, media_seconds)) as run:
        _widen_pipe(run.stdout)
        while (frame := _read_pgm(run.stdout)) is not None:
            run.progress()
            report.frames += 1
            report.height, report.width = frame.shape
            yield frame
    report.stderr = run.stderr
    if run.timed_out:
        raise RecordError("ffmpeg_timeout", f"after {report.frames} frames: "
                                            f"{run.timeout_detail()}")
    if run.returncode != 0 or report.frames == 0:
        reason = _failure_reason(report.stderr) if run.returncode != 0 else "no_frames"
        raise RecordError(reason, f"ffmpeg exited {run.returncode} after {report.frames} "
                                  f"frames: {report.stderr.strip()[-500:] or 'no message'}")
    if report.stderr.strip():
        logging.getLogger(__name__).info("ffmpeg reported problems in %s: %s", path,
                                         report.stderr.strip()[-300:])


def _media_seconds(frames: FrameRange, fps: float, given: float | None) -> float | None:
    """The media a decode covers, in seconds: as given, else its frame range's (plus the
    lead decoded before a seek), else unknown."""
    if given is not None:
        return given
    if frames.end is None:
        return None
    return (frames.end - frames.first) / fps + _SEEK_LEAD_SECONDS


THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT = 32, 24


def _thumbnail_command(path: str, fps: float, frames: FrameRange) -> list[str]:
    seek = [] if frames.whole else [
        arg for key, value in _seek_args(frames, fps).items()
        for arg in (f"-{key}",) + (() if value is None else (value,))]
    trim = "" if frames.whole else ",trim=" + ":".join(
        f"{key}={value}" for key, value in _trim_args(frames, fps).items())
    # No deblocking (H.264, HEVC): less decode time for the scan, and miniatures that move
    # by a fraction of a grey level (the cut rule needs jumps of 3); benchmarks/scan_decode.py.
    return [ffmpeg_executable(), "-nostdin", "-hide_banner", "-loglevel", "error", *seek,
            "-skip_loop_filter", "all", "-i", "file:" + os.path.abspath(path), "-map", "0:v:0",
            "-vf", f"fps={fps}{trim},scale={THUMBNAIL_WIDTH}:{THUMBNAIL_HEIGHT}:flags=area,"
                   "format=gray",
            "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:"]


def decode_thumbnails(path: str, fps: float = 25.0, frames: FrameRange = FrameRange(),
                      media_seconds: float | None = None) -> Iterator[np.ndarray]:
    """Yields every frame at `fps` as a uint8 [24, 32] grey miniature (area-averaged by ffmpeg).

    About 768 bytes a frame through the pipe: a whole programme is scanned for cuts at
    little more than the cost of decoding it. `frames` limits the scan to a range, reached
    by seeking as in `decode_frames`; a range past the end of the video yields nothing.
    Raises RecordError as `decode_frames` does (a whole video without frames included).
    """
    check_video_file(path)
    size = THUMBNAIL_WIDTH * THUMBNAIL_HEIGHT
    count = 0
    with FfmpegRun(_thumbnail_command(path, fps, frames),
                   _media_seconds(frames, fps, media_seconds)) as run:
        while len(data := _read_exact(run.stdout, size)) == size:
            run.progress()
            count += 1
            yield np.frombuffer(data, np.uint8).reshape(THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH)
    if run.timed_out:
        raise RecordError("ffmpeg_timeout", f"after {count} frames: {run.timeout_detail()}")
    if run.returncode != 0 or (count == 0 and frames.whole):
        reason = _failure_reason(run.stderr) if run.returncode != 0 else "no_frames"
        raise RecordError(reason, f"ffmpeg exited {run.returncode} after {count} frames: "
                                  f"{run.stderr.strip()[-500:] or 'no message'}")
