"""Local scale: source frames/s of the preprocess job with 1 and 2 DirectRunner worker
processes, in one run, on the same input.

    python benchmarks/scale.py [--copies 3] [--output benchmarks/results/scale.json]

The input is the 20 GRID sample recordings, and `--copies` times as many in all (copies
of the files under other names: the job does not know they repeat). Each configuration runs
`lipflow preprocess` as a user does (a fresh process, multi_processing mode) on the small
input (the 20) and on the large one; the figures are the end-to-end rate of the large run
and the marginal rate (extra frames over extra seconds between the two), which leaves out
the fixed start-up (interpreter, TensorFlow, worker processes, tf.Transform). Target: 2
workers at least 1.8x one worker. The machine's load is recorded before and after each run:
other work on a 2-core machine takes cores the second worker needs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.bench_utils import cpu_model, load_average  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(HERE), "data", "sample", "grid_s1")
FRAMES_PER_VIDEO = 75  # every GRID sample recording: 3 s at 25 fps
TARGET = 1.8


def make_input(root: str, copies: int) -> int:
    """GRID's video/ and align/ folders with `copies` copies of each recording; videos made."""
    for kind in ("video", "align"):
        os.makedirs(os.path.join(root, kind))
    made = 0
    for name in sorted(os.listdir(os.path.join(SAMPLE, "video"))):
        stem = os.path.splitext(name)[0]
        for copy in range(copies):
            shutil.copyfile(os.path.join(SAMPLE, "video", name),
                            os.path.join(root, "video", f"{stem}_{copy}.mpg"))
            shutil.copyfile(os.path.join(SAMPLE, "align", f"{stem}.align"),
                            os.path.join(root, "align", f"{stem}_{copy}.align"))
            made += 1
    return made


def run_job(source: str, output: str, workers: int) -> dict:
    """One `lipflow preprocess` run: wall seconds, clips written, load before and after."""
    before = load_average()
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "lipflow", "preprocess", "--input", source, "--output", output,
         "--split_by", "video", "--direct_running_mode", "multi_processing",
         "--direct_num_workers", str(workers)], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"preprocess with {workers} workers failed: {result.stderr[-2000:]}")
    with open(os.path.join(output, "manifest.json"), encoding="utf-8") as handle:
        written = json.load(handle)["words"]["written"]
    return {"seconds": round(seconds, 2), "clips_written": written,
            "load_average_1min": {"before": before, "after": load_average()}}


def measure(workers: int, small: str, large: str, videos: dict, scratch: str) -> dict:
    runs = {name: run_job(source, os.path.join(scratch, f"out_{workers}_{name}"), workers)
            for name, source in (("small", small), ("large", large))}
    frames = {name: videos[name] * FRAMES_PER_VIDEO for name in runs}
    extra_seconds = runs["large"]["seconds"] - runs["small"]["seconds"]
    return {
        "runs": runs,
        "end_to_end_frames_per_s": round(frames["large"] / runs["large"]["seconds"], 1),
        "marginal_frames_per_s": (round((frames["large"] - frames["small"]) / extra_seconds, 1)
                                  if extra_seconds > 0 else None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "scale.json"))
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="lipflow_scale_")
    try:
        small, large = os.path.join(scratch, "small"), os.path.join(scratch, "large")
        videos = {"small": make_input(small, 1), "large": make_input(large, args.copies)}
        results = {workers: measure(workers, small, large, videos, scratch)
                   for workers in (1, 2)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    speedups = {key: (round(results[2][key] / results[1][key], 2)
                      if results[1][key] and results[2][key] else None)
                for key in ("end_to_end_frames_per_s", "marginal_frames_per_s")}
    report = {
        "benchmark": "preprocess job, 1 vs 2 DirectRunner worker processes (multi_processing)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": {"videos": videos, "frames_per_video": FRAMES_PER_VIDEO,
                  "source": "data/sample/grid_s1, copied under other names"},
        "units": "source frames per second of wall time",
        "workers": {str(k): v for k, v in results.items()},
        "speedup_2_over_1": speedups,
        "target": {"speedup": TARGET, "met_marginal": (speedups["marginal_frames_per_s"] or 0)
                   >= TARGET, "met_end_to_end": (speedups["end_to_end_frames_per_s"] or 0)
                   >= TARGET},
        "machine": {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
                    "note": "a shared machine: the load averages show other work during runs"},
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps({"speedup_2_over_1": speedups, "target": report["target"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
