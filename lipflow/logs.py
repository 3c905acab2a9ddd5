"""Readable logs for the command line: lipflow's progress and everyone's warnings.

Beam's local multi-process runner relays each worker log line as a dump of its log
proto; this keeps the lines that lipflow's own stages wrote (and any warning or
error), shortened to their message, and drops the runner's own chatter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import time

_WORKER_LOGGER = "apache_beam.runners.portability.local_job_service"
_MESSAGE = re.compile(r'message: "(?P<message>.*?)"\s+(?:instruction_id|transform_id|log_location)',
                      re.S)
_SEVERITY = re.compile(r"severity: (?P<severity>[A-Z]+)")
# Worker warnings that say nothing a user can act on (runner set-up, a memory probe
# that RunInference makes where the `resource` module is missing).
_BENIGN = ("No semi_persistent_directory found", "Discarding unparseable args",
           "Resource module is not available")
_OWN_CODE = (f"{os.sep}pipelines{os.sep}", f"{os.sep}schemas{os.sep}", f"{os.sep}trainer{os.sep}")


class WorkerLogFilter(logging.Filter):
    """Keeps relayed worker lines from lipflow's code or at warning level and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        severity = _SEVERITY.search(text)
        serious = severity is not None and severity["severity"] in ("WARN", "WARNING", "ERROR",
                                                                     "CRITICAL")
        if not serious and not any(part in text for part in _OWN_CODE):
            return False
        if any(phrase in text for phrase in _BENIGN):
            return False
        message = _MESSAGE.search(text)
        if message:
            record.msg, record.args, record.name = message["message"], (), "lipflow.worker"
        return True


def configure(level: str) -> None:
    """Root logging at `level`; Beam's own INFO chatter hidden; worker lines filtered."""
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    for noisy in ("tensorflow", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    worker = logging.getLogger(_WORKER_LOGGER)
    worker.setLevel(level.upper())
    worker.addFilter(WorkerLogFilter())


# Lines TensorFlow and its CUDA stubs print straight to a process's stderr (not through
# Python logging, and before absl's logging starts, so TF_CPP_MIN_LOG_LEVEL does not
# hold them back) while starting, and the line the LiteRT interpreter prints each time it
# loads a model on the CPU; on a machine without a GPU they say nothing a user can act
# on. Anything else printed is passed on untouched.
_NATIVE_NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|Could not find cuda drivers|"
    r"cpu_feature_guard|To enable the following instructions|rebuild TensorFlow with|"
    r"failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning|"
    r"computation placer already registered|cuda_executor|cuda_diagnostics|"
    r"Attempting to register factory|Created TensorFlow Lite XNNPACK delegate for CPU")
# How long a command waits, at its end, for the filter to pass on the last lines: a
# worker process the runner has not reaped yet may still hold the pipe open.
_DRAIN_SECONDS = 5.0


def is_native_noise(line: str) -> bool:
    return _NATIVE_NOISE.search(line) is not None


def copy_without_native_noise(source: int, sink: int) -> None:
    """Copies lines from file descriptor `source` to `sink` until end of file, leaving
    out start-up noise. A line is passed on as soon as it is complete."""
    pending = b""
    while chunk := os.read(source, 65536):
        pending += chunk
        complete, newline, pending = pending.rpartition(b"\n")
        if newline:
            lines = (complete + newline).splitlines(keepends=True)
            kept = [line for line in lines
                    if not is_native_noise(line.decode("utf-8", "replace"))]
            if kept:
                os.write(sink, b"".join(kept))
    if pending and not is_native_noise(pending.decode("utf-8", "replace")):
        os.write(sink, pending)


@contextlib.contextmanager
def native_noise_filtered():
    """Sends file descriptor 2 through a filter process for the block, so that the
    start-up noise of this process and of every process it starts meanwhile (Beam's
    local workers inherit the descriptor) is dropped and everything else shown live."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    # A process of its own, so that it never waits on this one's GIL; this file run as a
    # script in isolated mode needs nothing but the standard library, wherever lipflow is.
    copier = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__)],
                              stdin=read_end, stdout=saved, stderr=saved, close_fds=True)
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        with contextlib.suppress(subprocess.TimeoutExpired):
            copier.wait(timeout=_DRAIN_SECONDS)


class Progress:
    """Logs after each item of long work: items done, frames per second, time left."""

    def __init__(self, total: int, noun: str, logger: logging.Logger):
        self._total, self._noun, self._log = total, noun, logger
        self._done, self._frames = 0, 0
        self._started = time.perf_counter()

    def step(self, frames: int, name: str = "") -> str:
        """Counts one item of `frames` frames; logs and returns the progress line."""
        self._done += 1
        self._frames += frames
        from pipelines.human_time import duration

        elapsed = max(time.perf_counter() - self._started, 1e-9)
        left = elapsed / self._done * (self._total - self._done)
        line = (f"{self._done}/{self._total} {self._noun} done"
                + (f" ({name})" if name else "")
                + f", {self._frames / elapsed:.0f} frames/s"
                + (f", about {duration(left)} left" if self._done < self._total else ""))
        self._log.info("%s", line)
        return line


if __name__ == "__main__":
    # Deaf to Ctrl-C, so that the traceback of an interrupted command still gets through.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    copy_without_native_noise(0, 1)
