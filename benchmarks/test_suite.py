"""Wall time of the whole test suite as `make test` runs it (pytest on TEST_WORKERS
processes, files shared out whole), with the counts pytest reports.

    .venv/bin/python benchmarks/test_suite.py [--workers 2]
        [--output benchmarks/results/test_suite.json]

Run it on a checkout with nothing else running: the figure is the machine's as much as
the suite's. The schedulers' environments (`make schedulers`) must exist, or their two
tests fail.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
from bench_utils import cpu_model, result_text, write_result  # noqa: E402

_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


def counts(summary: str) -> dict[str, int]:
    """pytest's last line ("942 passed, 2 skipped in ...") as {outcome: count}."""
    return {outcome.rstrip("s") if outcome.startswith("error") else outcome: int(number)
            for number, outcome in _COUNT.findall(summary)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", help="write the result JSON here as well")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-n", str(args.workers), "--dist", "loadfile", "tests"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    found = {"command": "python -m pytest -q -n %d --dist loadfile tests" % args.workers,
             "wall_seconds": round(wall, 1), "wall_minutes": round(wall / 60, 2),
             "exit_status": result.returncode, "counts": counts(last), "summary": last,
             "machine": {"cpu_count": os.cpu_count(), "cpu": cpu_model()}}
    if args.output:
        write_result(args.output, found, indent=2, sort_keys=True)
    else:
        print(result_text(found, indent=2, sort_keys=True))
    if result.returncode != 0:
        print(result.stdout[-5000:], file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
