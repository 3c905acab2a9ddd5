"""Where a long programme's time goes with 1 and 2 DirectRunner workers, stage by stage.

    python benchmarks/stage_times.py [--programme-minutes 8]
        [--output benchmarks/results/stage_times.json]

`benchmarks/scale.py` measures how much faster 2 workers process one long programme than
one; this script says why the figure falls short of 2x. It runs `lipflow preprocess` on
the same programme (scale.py's: the broadcast benchmark's 1280x720 programme repeated to
`--programme-minutes`, a word-timed JSON transcript) in a fresh interpreter with 1 worker
on one core and with 2 workers on two (CPU affinity, scale.py's `per_core` placement),
and times each stage the local runner executes. That runner executes the fused stages of
the graph one after another, each stage's bundles spread over the workers, so the wall
time of a run is the sum of its stages plus what lies outside them (imports, building the
graph, starting the workers, the dataset card after the run). Per stage: seconds with 1
and with 2 workers and their ratio; stages under 0.1 s are summed as one line. The timing
wraps the runner's private `FnApiRunner._execute_bundle` (one call per stage), in the
child process only. Prints JSON and writes it to --output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)  # broadcast.py imports bench_utils by its bare name

SMALL_STAGE_SECONDS = 0.1


def stage_label(name: str) -> str:
    """The first transform of a fused stage's name, which says which step it starts with."""
    first = re.sub(r"^\(+", "", name).split(")")[0]
    return first.replace("ref_AppliedPTransform_", "")


def child(argv: list[str]) -> int:
    """Runs lipflow with the runner's stage calls timed; writes {stages, total} to argv[0]."""
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    times: list[list] = []
    execute = fn_runner.FnApiRunner._execute_bundle

    def timed(self, context, bundle_context_manager, bundle_input):
        started = time.perf_counter()
        result = execute(self, context, bundle_context_manager, bundle_input)
        times.append([bundle_context_manager.stage.name, time.perf_counter() - started])
        return result

    fn_runner.FnApiRunner._execute_bundle = timed
    from lipflow.cli import main

    started = time.perf_counter()
    sys.argv = ["lipflow", *argv[1:]]
    code = main()
    with open(argv[0], "w", encoding="utf-8") as handle:
        json.dump({"stages": times, "seconds_after_imports": time.perf_counter() - started},
                  handle)
    sys.stdout.flush()
    os._exit(code)  # as lipflow's own entry point: no interpreter teardown after tf.Transform


def run_timed(folder: str, scratch: str, workers: int) -> dict:
    """One job run, confined to `workers` cores: wall seconds and seconds per stage."""
    from benchmarks.scale import _confine_to

    output = os.path.join(scratch, f"out_{workers}")
    times_file = os.path.join(scratch, f"stages_{workers}.json")
    command = [sys.executable, os.path.abspath(__file__), "--child", times_file, "preprocess",
               "--input", folder, "--output", output, "--split_by", "video",
               "--direct_running_mode", "multi_processing", "--direct_num_workers", str(workers),
               "--train_fraction", "1.0", "--val_fraction", "0.0"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            preexec_fn=_confine_to(workers))
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"preprocess with {workers} workers failed: {result.stderr[-2000:]}")
    with open(times_file, encoding="utf-8") as handle:
        timed = json.load(handle)
    # Keyed by the stage's first transform: the fused names' inner order differs between runs.
    per_stage: dict[str, float] = {}
    for name, seconds in timed["stages"]:
        label = stage_label(name)
        per_stage[label] = per_stage.get(label, 0.0) + seconds
    return {"wall_seconds": wall, "stages": per_stage}


def compare(one: dict, two: dict) -> dict:
    """Stage by stage, 1 worker against 2, the largest first; small stages summed."""
    rows, small = [], {"stages": 0, "seconds_1_worker": 0.0, "seconds_2_workers": 0.0}
    names = set(one["stages"]) | set(two["stages"])
    for name in sorted(names, key=lambda n: -one["stages"].get(n, 0.0)):
        first, second = one["stages"].get(name, 0.0), two["stages"].get(name, 0.0)
        if max(first, second) < SMALL_STAGE_SECONDS:
            small["stages"] += 1
            small["seconds_1_worker"] += first
            small["seconds_2_workers"] += second
            continue
        rows.append({"stage": name, "seconds_1_worker": round(first, 2),
                     "seconds_2_workers": round(second, 2),
                     "ratio_1_over_2": round(first / second, 2) if second > 0 else None})
    small = {k: round(v, 2) if isinstance(v, float) else v for k, v in small.items()}
    outside = {workers: run["wall_seconds"] - sum(run["stages"].values())
               for workers, run in (("1", one), ("2", two))}
    return {"stages": rows, "small_stages": small,
            "outside_stages_seconds": {k: round(v, 2) for k, v in outside.items()},
            "wall_seconds": {"1": round(one["wall_seconds"], 2),
                             "2": round(two["wall_seconds"], 2)},
            "speedup_2_over_1": round(one["wall_seconds"] / two["wall_seconds"], 2)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programme-minutes", type=float, default=8.0)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "stage_times.json"))
    args = parser.parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("stage_times.py needs 2 cores")
    from benchmarks import broadcast, scale
    from benchmarks.bench_utils import cpu_model, load_average, write_result

    with tempfile.TemporaryDirectory() as scratch:
        folder, frames = scale.make_programme(os.path.join(scratch, "programme"),
                                              args.programme_minutes)
        runs, loads = {}, {}
        for workers in (1, 2):
            before = load_average()
            runs[workers] = run_timed(folder, scratch, workers)
            loads[str(workers)] = {"before": before, "after": load_average()}
    result = {
        "benchmark": "preprocess job stage by stage, 1 vs 2 DirectRunner workers, one core each",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "programme": {"minutes": round(frames / broadcast.JOB_FPS / 60, 2),
                      "source_frames": frames,
                      "size": "1280x720", "transcript": "JSON word times"},
        **compare(runs[1], runs[2]),
        "load_average_1min": loads,
        "machine": {"cpu_count": os.cpu_count(), "cpu_model": cpu_model()},
        "note": "the local runner executes stages one after another; a stage's bundles are "
                "spread over the workers. Outside the stages: interpreter and imports, "
                "building the graph, starting workers, the dataset card after the run",
    }
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
