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
import sys
import tempfile
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


# Lines TensorFlow and its CUDA stubs print straight to the process's stderr (not
# through Python logging) while starting; on a machine without a GPU they say nothing
# a user can act on. Anything else printed meanwhile is passed on untouched.
_NATIVE_NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|Could not find cuda drivers|"
    r"cpu_feature_guard|To enable the following instructions|rebuild TensorFlow with|"
    r"failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning|"
    r"computation placer already registered|cuda_executor|cuda_diagnostics|"
    r"Attempting to register factory")


def is_native_noise(line: str) -> bool:
    return _NATIVE_NOISE.search(line) is not None


@contextlib.contextmanager
def native_noise_filtered():
    """Captures file descriptor 2 for the block; replays its lines except start-up noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_native_noise(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def start_tensorflow_quietly() -> None:
    """Imports TensorFlow and looks for GPUs (when CUDA prints its complaints) quietly."""
    with native_noise_filtered():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")


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
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        left = elapsed / self._done * (self._total - self._done)
        line = (f"{self._done}/{self._total} {self._noun} done"
                + (f" ({name})" if name else "")
                + f", {self._frames / elapsed:.0f} frames/s"
                + (f", about {_duration(left)} left" if self._done < self._total else ""))
        self._log.info("%s", line)
        return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
