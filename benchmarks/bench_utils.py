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


def write_result(path: str, result: dict) -> None:
    """Writes `result` as indented JSON to `path` (folders made) and prints it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
        handle.write("\n")
    print(json.dumps(result, indent=1))


def add_output_argument(parser, default: str) -> None:
    """The --output flag every benchmark takes: the JSON file to write."""
    parser.add_argument("--output", default=None,
                        help=f"JSON file to write (default: {default})")


def output_path(value: str | None, repo: str, default: str) -> str:
    """The absolute path of --output: as given, or `default` inside the repository."""
    return os.path.abspath(value or os.path.join(repo, default))
