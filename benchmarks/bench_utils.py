"""Helpers the benchmark scripts share: the machine they ran on, a clean stdout, the
result file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> float | None:
    """The 1-minute load average: a sign of other work on the machine during the run."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


@contextlib.contextmanager
def stdout_to_stderr():
    """Sends everything written to stdout (by Python or by native code) to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def result_text(result: dict, indent: int = 1, sort_keys: bool = False) -> str:
    return json.dumps(result, indent=indent, sort_keys=sort_keys)


def write_result(path: str, result: dict, indent: int = 1, sort_keys: bool = False,
                 echo: bool = True) -> None:
    """Writes `result` as indented JSON to `path` (folders made) and, with `echo`, prints it."""
    text = result_text(result, indent, sort_keys)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    if echo:
        print(text)


def add_output_argument(parser, default: str) -> None:
    """The --output flag every benchmark takes: the JSON file to write."""
    parser.add_argument("--output", default=None,
                        help=f"JSON file to write (default: {default})")


def output_path(value: str | None, repo: str, default: str) -> str:
    """The absolute path of --output: as given, or `default` inside the repository."""
    return os.path.abspath(value or os.path.join(repo, default))


def pin_to_one_core() -> int | None:
    """Pins this process, and so a job and its ffmpeg children, to one CPU; which one
    (None where the platform cannot pin)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    return cpu
