"""Readable logs for the command line: lipflow's progress and everyone's warnings.

Beam's local multi-process runner relays each worker log line as a dump of its log
proto; this keeps the lines that lipflow's own stages wrote (and any warning or
error), shortened to their message, and drops the runner's own chatter.
"""

from __future__ import annotations

import logging
import os
import re

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
