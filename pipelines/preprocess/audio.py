"""Audio on the container's clock: probe the streams, decode 16 kHz mono, speech energy.

Transcript and subtitle times count from the start of the container. ffmpeg shifts
every stream by the container's start time, so inside ffmpeg time 0 is the container
start; a video stream may start later (or earlier) than its audio. `probe_media` reads
the first video frame's time so that frame k of a decode shows time
`video_start + k / fps`, and audio is padded or trimmed to start at exactly 0
(`aresample=first_pts=0`), so sample n is time `start + n / sample_rate`.
Pure numpy plus an ffmpeg subprocess; no Beam, no TensorFlow.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from pipelines.preprocess.decode import ffmpeg_executable
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.ffmpeg_process import BASE_SECONDS, FfmpegRun

SAMPLE_RATE = 16000
# framemd5 lines: "#tb 0: 1/25", then "stream, dts, pts, duration, size, md5" per frame.
_FRAMEMD5_TIME_BASE = re.compile(r"^#tb 0: (?P<num>\d+)/(?P<den>\d+)$", re.MULTILINE)
_FRAMEMD5_FRAME = re.compile(r"^0,\s*-?\d+,\s*(?P<pts>-?\d+),", re.MULTILINE)
_CHUNK_SAMPLES = 16000
PROBE_SECONDS = BASE_SECONDS  # the probe decodes one frame
_ENERGY_FLOOR = 1e-10


@dataclass(frozen=True)
class MediaInfo:
    """What a file holds: the video's start on the container clock (s), audio, duration (s)."""

    video_start: float
    has_audio: bool
    duration: float


def _input_args(path: str) -> list[str]:
    # "file:" keeps names with a leading '-' or a ':' from being read as options or protocols.
    return ["-i", "file:" + os.path.abspath(path)]


def probe_media(path: str, fps: float = 25.0) -> MediaInfo:
    """Reads the first video frame's time, whether there is audio, and the duration.

    Only structured output is read, never text a file can write into (a title tag that
    says "Duration: ..." or "pts_time:4.0" once made a 2-second clip probe as 5 seconds
    long, starting at 4 s): the duration and the streams come from the container's own
    fields (PyAV, which wraps FFmpeg's libraries), and `video_start`, the time of the first
    frame that the decode at `fps` delivers on the container clock (a multiple of 1 / fps),
    from the frame list ffmpeg's framemd5 muxer writes to stdout for that same decode
    (about 20 ms). A file that cannot be opened gives video_start 0, no audio and duration
    0 (the decode reports the problem); a probe that hangs is RecordError ffmpeg_timeout.
    """
    duration, has_audio = _container_facts(path)
    return MediaInfo(video_start=_first_frame_time(path, fps), has_audio=has_audio,
                     duration=duration)


def _container_facts(path: str) -> tuple[float, bool]:
    """(duration in seconds, whether there is an audio stream) from the container's fields."""
    import av

    try:
        with av.open(path) as container:
            duration = container.duration / 1e6 if container.duration else 0.0
            return duration, any(s.type == "audio" for s in container.streams)
    except (av.FFmpegError, OSError, ValueError):
        return 0.0, False


def _first_frame_time(path: str, fps: float) -> float:
    """Container time of the first frame a decode at `fps` delivers (0 without video)."""
    command = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "error",
               *_input_args(path), "-map", "0:v:0?", "-frames:v", "1", "-vf", f"fps={fps}",
               "-f", "framemd5", "pipe:1"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                check=False, timeout=PROBE_SECONDS)
    except subprocess.TimeoutExpired as err:
        raise RecordError("ffmpeg_timeout", f"probing {path!r} (one frame) took over "
                                            f"{PROBE_SECONDS:.0f} s") from err
    base = _FRAMEMD5_TIME_BASE.search(result.stdout)
    frame = _FRAMEMD5_FRAME.search(result.stdout)
    if base is None or frame is None:
        return 0.0
    return int(frame["pts"]) * int(base["num"]) / int(base["den"])


def _audio_command(path: str, sample_rate: int, start: float, duration: float | None) -> list:
    seek = ["-ss", f"{start:.6f}"] if start > 0 else []
    limit = ["-t", f"{duration:.6f}"] if duration is not None else []
    return [ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "error", *seek,
            *_input_args(path), *limit, "-map", "0:a:0", "-vn",
            "-af", f"aresample={sample_rate}:first_pts=0", "-ac", "1",
            "-f", "s16le", "-acodec", "pcm_s16le", "pipe:"]


def stream_audio(path: str, sample_rate: int = SAMPLE_RATE, start: float = 0.0,
                 duration: float | None = None,
                 chunk_samples: int = _CHUNK_SAMPLES) -> Iterator[np.ndarray]:
    """Yields int16 [<= chunk_samples] blocks of mono audio from container time `start` (s).

    Sample n of the concatenated blocks is time start + n / sample_rate. Raises
    RecordError "no_audio_stream" when the file has no audio, "corrupt_audio" when
    ffmpeg fails, "ffmpeg_timeout" when it runs past its deadline (ffmpeg_process.py).
    """
    if start < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start!r}")
    with FfmpegRun(_audio_command(path, sample_rate, start, duration), duration) as run:
        while block := run.stdout.read(2 * chunk_samples):
            run.progress()
            usable = len(block) - len(block) % 2
            yield np.frombuffer(block[:usable], dtype="<i2")
    stderr, code = run.stderr, run.returncode
    if run.timed_out:
        raise RecordError("ffmpeg_timeout", run.timeout_detail())
    if code != 0:
        if "matches no streams" in stderr or "does not contain any stream" in stderr:
            raise RecordError("no_audio_stream", f"{path!r} has no audio stream")
        raise RecordError("corrupt_audio", f"ffmpeg exited {code}: {stderr.strip()[-300:]}")


def decode_audio(path: str, sample_rate: int = SAMPLE_RATE, start: float = 0.0,
                 duration: float | None = None) -> np.ndarray:
    """int16 [S] mono samples from container time `start` for `duration` seconds (or to the end)."""
    blocks = list(stream_audio(path, sample_rate, start, duration))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)


def frame_log_energy(samples: np.ndarray, sample_rate: int, fps: float,
                     first_frame: int, num_frames: int) -> np.ndarray:
    """float64 [num_frames]: log mean square of the audio under each video frame.

    `samples` start at container time 0; frame j covers container time
    [(first_frame + j) / fps, (first_frame + j + 1) / fps). Frames past the audio's end
    get the log of a floor value (silence).
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames!r}")
    edges = np.round((first_frame + np.arange(num_frames + 1)) * sample_rate / fps).astype(np.int64)
    edges = np.clip(edges, 0, samples.shape[0])
    squares = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    mean_square = (squares[edges[1:]] - squares[edges[:-1]]) / counts / (32768.0 ** 2)
    return np.log(np.maximum(mean_square, _ENERGY_FLOOR))
