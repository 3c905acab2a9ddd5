"""Progress of a local Beam job, seen from the process that launched it.

Beam's local runner may do the work in other processes (`--direct_running_mode
multi_processing`), so a worker cannot tell the launcher anything through memory. Each
`RecordProgressFn` instance appends small JSON lines of event counts to a file of its
own in a temporary folder; the launcher reads the folder every few seconds from a
thread (`watch`) and logs a line when something moved. Events are batched in the
worker and written at most once a second (and at the end of each bundle), so the work
itself does not wait on them.

Only for runners whose workers share the launcher's disk; elsewhere (Dataflow) the
job page shows the progress.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from typing import Callable, Iterable

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

# An event: (name, key, amount), e.g. ("finished_frames", "video/clip1", 75). A line of a
# progress file: [name, key, amount summed, wall time of the batch's first event].
Event = tuple[str, str, float]
Counts = dict[tuple[str, str], float]
_FLUSH_SECONDS = 1.0
POLL_SECONDS = 5.0
_LOCAL_RUNNERS = (None, "DirectRunner", "direct", "SwitchingDirectRunner",
                  "BundleBasedDirectRunner")


def runs_locally(options: PipelineOptions) -> bool:
    """True when the runner's workers run on this machine (they can write its temp folder)."""
    return options.view_as(StandardOptions).runner in _LOCAL_RUNNERS


class RecordProgressFn(beam.DoFn):
    """Element -> nothing; appends the element's events, summed, to this instance's file."""

    def __init__(self, folder: str, events: Callable[[object], Iterable[Event]]):
        self._folder, self._events = folder, events
        self._pending: Counts = collections.Counter()
        self._since = 0.0  # wall time of the first pending event
        self._handle = None
        self._flushed = 0.0

    def setup(self):
        name = f"{os.getpid()}-{uuid.uuid4().hex}.jsonl"
        self._handle = open(os.path.join(self._folder, name), "a", encoding="utf-8")

    def process(self, element):
        if not self._pending:
            self._since = time.time()
        for name, key, amount in self._events(element):
            self._pending[(name, key)] += amount
        if time.monotonic() - self._flushed >= _FLUSH_SECONDS:
            self._flush()
        return ()

    def finish_bundle(self):
        self._flush()

    def teardown(self):
        if self._handle is not None:
            self._flush()
            self._handle.close()
            self._handle = None

    def _flush(self):
        if self._pending:
            self._handle.write("".join(json.dumps([name, key, amount, self._since]) + "\n"
                                       for (name, key), amount in self._pending.items()))
            self._handle.flush()
            self._pending.clear()
        self._flushed = time.monotonic()


class RecordProgress(beam.PTransform):
    """PCollection -> nothing; records `events(element)` for the launcher to read."""

    def __init__(self, folder: str, events: Callable[[object], Iterable[Event]]):
        super().__init__()
        self._folder, self._events = folder, events

    def expand(self, items):
        return items | "Record" >> beam.ParDo(RecordProgressFn(self._folder, self._events))


class ProgressReader:
    """Sums the events written into a progress folder so far (reads only what is new)."""

    def __init__(self, folder: str):
        self._folder = folder
        self._offsets: dict[str, int] = {}
        self.counts: Counts = collections.Counter()
        self.first_event: float | None = None  # wall time (time.time()) of the first event

    def read(self) -> Counts:
        for name in sorted(os.listdir(self._folder)):
            self._read_file(os.path.join(self._folder, name))
        return self.counts

    def seconds(self) -> float:
        """Time since the first event: the work's, without the workers' start-up."""
        return 0.0 if self.first_event is None else time.time() - self.first_event

    def _read_file(self, path: str) -> None:
        with open(path, "rb") as handle:
            handle.seek(self._offsets.get(path, 0))
            data = handle.read()
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
        self._offsets[path] = self._offsets.get(path, 0) + len(complete)
        for line in complete.decode("utf-8").splitlines():
            name, key, amount, since = json.loads(line)
            self.counts[(name, key)] += amount
            self.first_event = min(since, self.first_event or since)


@contextlib.contextmanager
def reported(options: PipelineOptions, describe: Callable[[Counts, float], str],
             logger: logging.Logger):
    """`watch` for a local run; for any other runner, one line saying where progress is
    shown, and "" (no folder: the job adds no progress taps)."""
    if not runs_locally(options):
        logger.info("progress of this job is shown on its page in the runner's console "
                    "(the Dataflow console for DataflowRunner)")
        yield ""
        return
    with watch(describe, logger) as folder:
        yield folder


class _Poller(threading.Thread):
    """Logs a line every `interval` s when the counts moved, and a last one if they moved
    after that."""

    def __init__(self, reader: ProgressReader, describe: Callable[[Counts, float], str],
                 logger: logging.Logger, interval: float):
        super().__init__(name="progress", daemon=True)
        self._reader, self._describe, self._log = reader, describe, logger
        self._interval, self.stopped = interval, threading.Event()
        self._last: Counts = {}

    def run(self):
        while not self.stopped.wait(self._interval):
            self.log_if_moved()

    def log_if_moved(self) -> None:
        counts = dict(self._reader.read())
        if counts != self._last:
            self._log.info("%s", self._describe(counts, self._reader.seconds()))
            self._last = counts


@contextlib.contextmanager
def watch(describe: Callable[[Counts, float], str], logger: logging.Logger,
          interval: float = POLL_SECONDS):
    """Yields a fresh temporary folder for `RecordProgress`; meanwhile logs
    `describe(counts, seconds since the first counts)` every `interval` s when the counts
    moved, and a final line when the block ends without an error (unless the last line
    already said it all). The folder is removed afterwards."""
    folder = tempfile.mkdtemp(prefix="lipflow-progress-")
    poller = _Poller(ProgressReader(folder), describe, logger, interval)
    poller.start()
    try:
        yield folder
        poller.stopped.set()
        poller.join()
        poller.log_if_moved()
    finally:
        poller.stopped.set()
        poller.join()
        shutil.rmtree(folder, ignore_errors=True)
