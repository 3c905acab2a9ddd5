"""Running ffmpeg on a file we do not trust: bounded error text, a deadline, no hang.

`FfmpegRun` starts one ffmpeg whose output is read through a pipe. While it runs, a
thread reads its stderr and keeps only the last `STDERR_TAIL_BYTES` (a damaged track can
print megabytes of errors, and an unread stderr pipe that fills, 64 KiB, stops ffmpeg
and the reader with it), and a watchdog kills it when it runs past its deadline
(`deadline_seconds`: scaled to the media it was asked to decode) or sends nothing for
`STALL_SECONDS` (a hung decode). `timed_out` then says so, and the caller turns it into
the dead letter `ffmpeg_timeout`. Plain Python; no Beam, no TensorFlow.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import deque

STDERR_TAIL_BYTES = 4000
STALL_SECONDS = 120.0
# ffmpeg decodes (and scales, and resamples) far faster than real time; the deadline
# allows a minute to start plus two seconds for each second of media, for a loaded or
# slow machine.
BASE_SECONDS = 60.0
SECONDS_PER_MEDIA_SECOND = 2.0


def deadline_seconds(media_seconds: float | None) -> float | None:
    """How long an ffmpeg run over `media_seconds` of media may take (None: unknown length,
    only the stall watchdog applies)."""
    if media_seconds is None:
        return None
    return BASE_SECONDS + SECONDS_PER_MEDIA_SECOND * max(float(media_seconds), 0.0)


class FfmpegRun:
    """One ffmpeg process, read from `stdout`; use as a context manager.

    `progress()` is called by the reader whenever output arrives (it resets the stall
    clock). On exit the process is waited for; `returncode`, `stderr` (its last bytes,
    decoded) and `timed_out` are then set.
    """

    def __init__(self, command: list[str], media_seconds: float | None = None,
                 stall_seconds: float | None = None):
        self._command = command
        self._deadline = deadline_seconds(media_seconds)
        self._stall = STALL_SECONDS if stall_seconds is None else stall_seconds
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self._last_progress = time.monotonic()
        self._done = threading.Event()
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.stderr = ""
        self.timed_out = False

    @property
    def stdout(self):
        return self.process.stdout

    def progress(self) -> None:
        self._last_progress = time.monotonic()

    def __enter__(self) -> FfmpegRun:
        self.process = subprocess.Popen(self._command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._started = time.monotonic()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._drainer.start()
        self._watchdog.start()
        return self

    def _drain(self) -> None:
        for chunk in iter(lambda: self.process.stderr.read(4096), b""):
            self._tail.append(chunk)
            self._tail_bytes += len(chunk)
            while self._tail_bytes - len(self._tail[0]) >= STDERR_TAIL_BYTES:
                self._tail_bytes -= len(self._tail.popleft())

    def _watch(self) -> None:
        while not self._done.wait(0.25):
            now = time.monotonic()
            late = self._deadline is not None and now - self._started > self._deadline
            if late or now - self._last_progress > self._stall:
                self.timed_out = True
                self.process.kill()
                return

    def __exit__(self, *exc) -> None:
        self.process.stdout.close()
        self.returncode = self.process.wait()
        self._done.set()
        self._drainer.join()
        self._watchdog.join()
        self.process.stderr.close()
        self.stderr = b"".join(self._tail).decode("utf-8", "replace")[-STDERR_TAIL_BYTES:]

    def timeout_detail(self) -> str:
        limit = (f"its deadline of {self._deadline:.0f} s" if self._deadline is not None
                 else "its deadline")
        return (f"ffmpeg was stopped: it ran past {limit} or sent nothing for "
                f"{self._stall:.0f} s; last messages: {self.stderr.strip()[-300:] or 'none'}")
