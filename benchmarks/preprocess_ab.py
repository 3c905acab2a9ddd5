"""The preprocess job of this checkout against an earlier commit's, timed side by side.

    .venv/bin/python benchmarks/preprocess_ab.py --before CHECKOUT [--input DIR]
        [--videos 40] [--rounds 3] [--output benchmarks/results/preprocess_ab.json]

CHECKOUT is a second working tree of the repository at the commit to compare against
(`git worktree add <folder> <commit>`). Each round runs the real job end to end
(`benchmarks/preprocess.py --run-job-into`: a fresh interpreter, the DirectRunner in
memory, one worker, pinned to one core with one thread per pool, as the throughput
benchmark's end-to-end run) once for each tree, the order alternating between rounds, so
that both see the same machine; other work on a shared machine moves both figures, their
ratio much less. Each tree's job imports its own code (PYTHONPATH set to the tree). Reported:
wall seconds of every run, the median per tree, source frames/s per core from the
medians, the ratio, and each tree's commit. Prints JSON and writes it to --output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench_utils import cpu_model, load_average, write_result  # noqa: E402  (beside this script)
from preprocess import ONE_THREAD_ENV, SAMPLE_DIR  # noqa: E402

FRAMES_PER_GRID_VIDEO = 75


def commit_of(tree: str) -> str:
    described = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                               capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no",
                            "--", ".", ":!benchmarks/results"],
                           capture_output=True, text=True, check=False)
    commit = described.stdout.strip() or "unknown"
    return commit + (" with uncommitted changes" if dirty.stdout.strip() else "")


def time_job(tree: str, source: str, videos: int) -> dict:
    """One end-to-end job of `tree` over `videos` videos: wall seconds and clips written."""
    env = {**os.environ, **ONE_THREAD_ENV, "PYTHONPATH": tree}
    with tempfile.TemporaryDirectory() as output:
        command = [sys.executable, os.path.join(tree, "benchmarks", "preprocess.py"),
                   "--videos", str(videos), "--input", source, "--run-job-into", output]
        started = time.perf_counter()
        child = subprocess.run(command, cwd=tree, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"the job of {tree} failed: {child.stderr[-2000:]}")
    result = json.loads(child.stdout)
    return {"wall_seconds": round(wall, 3), "clips": result["words"]["written"],
            "videos_processed": result["videos"]["processed"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="a checkout of the earlier commit")
    parser.add_argument("--input", default=SAMPLE_DIR, help="GRID folder (video/, align/)")
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "preprocess_ab.json"))
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.before, "benchmarks", "preprocess.py")):
        parser.error(f"--before {args.before!r} is not a checkout of this repository")
    source = os.path.abspath(args.input)
    trees = {"before": os.path.abspath(args.before), "after": REPO}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    load_before = load_average()
    for round_index in range(args.rounds):
        order = ("before", "after") if round_index % 2 == 0 else ("after", "before")
        for name in order:
            runs[name].append(time_job(trees[name], source, args.videos))
            print(f"round {round_index + 1}/{args.rounds} {name}: "
                  f"{runs[name][-1]['wall_seconds']} s", file=sys.stderr)
    if runs["before"][0]["clips"] != runs["after"][0]["clips"]:
        print("note: the two trees wrote different numbers of clips", file=sys.stderr)
    frames = args.videos * FRAMES_PER_GRID_VIDEO
    medians = {name: statistics.median(r["wall_seconds"] for r in runs[name]) for name in runs}
    result = {
        "benchmark": "preprocess_ab",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": (os.path.relpath(source, REPO) if source.startswith(REPO + os.sep)
                  else os.path.basename(source.rstrip("/"))),
        "videos": args.videos, "source_frames": frames,
        "commits": {name: commit_of(tree) for name, tree in trees.items()},
        "runs": runs,
        "median_wall_seconds": medians,
        "frames_per_second_per_core": {name: round(frames / s, 1) for name, s in medians.items()},
        "speed_up_after_over_before": round(medians["before"] / medians["after"], 3),
        "machine": {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
                    "load_average_1min": {"before": load_before, "after": load_average()}},
    }
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
