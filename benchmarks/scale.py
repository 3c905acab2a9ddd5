"""Local scale: source frames/s of the preprocess job with 1 and 2 DirectRunner worker
processes, in one run, on the same input.

    python benchmarks/scale.py [--copies 8] [--programme-minutes 8]
        [--placements shared per_core] [--output benchmarks/results/scale.json]

Two inputs, each run with 1 and with 2 worker processes (`lipflow preprocess` as a user
runs it: a fresh process, multi_processing mode):

- many short videos: the 20 GRID sample recordings, and `--copies` times as many in all
  (copies of the files under other names: the job does not know they repeat). Each worker
  count runs on the small input (the 20) and on the large one; the figures are the
  end-to-end rate of the large run and the marginal rate (extra frames over extra seconds
  between the two), which leaves out the fixed start-up (interpreter, TensorFlow, worker
  processes, tf.Transform).
- one long programme (`--programme-minutes`, 0 to skip): the broadcast benchmark's
  1280x720 programme of sample recordings repeated to that length, with a word-timed
  JSON transcript, so that the job cuts it into chunks (`--chunk_seconds`, the default
  60 s) that the workers share. The figure is the end-to-end rate.

Each input runs in two placements (`--placements`):

- `shared`: the job may use every core of the machine, as a user runs it. One worker is
  then more than one core's work: ffmpeg decodes in its own process beside the worker's
  Python, and the cut scan decodes on several threads, so on a 2-core machine one worker
  already keeps more than one core busy and 2 workers cannot reach 2x (the CPU seconds
  of each run are recorded to show it).
- `per_core`: the job (its processes and their ffmpeg children) is confined to as many
  cores as it has workers (Linux CPU affinity): one worker on one core against two on
  two, the way workers scale out on machines of their own.

One run on the small input comes first and is not counted (a cold file cache made the
first measured run a third slower). Target: 2 workers at least 1.8x one worker. The
machine's load is recorded before and after each run: other work on a 2-core machine
takes cores the second worker needs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)  # broadcast.py imports bench_utils by its bare name

from benchmarks import broadcast  # noqa: E402
from benchmarks.bench_utils import cpu_model, load_average, write_result  # noqa: E402

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


PLACEMENTS = ("shared", "per_core")


def _confine_to(cores: int):
    """A child-process hook that confines the job to the machine's first `cores` cores."""
    def confine():
        os.sched_setaffinity(0, range(cores))
    return confine


def run_job(source: str, output: str, workers: int, extra: tuple[str, ...] = (),
            placement: str = "shared") -> dict:
    """One `lipflow preprocess` run: wall and CPU seconds, clips written, load before/after.

    `placement` "per_core" confines the job to `workers` cores (see the module docstring).
    """
    before = load_average()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "lipflow", "preprocess", "--input", source, "--output", output,
         "--split_by", "video", "--direct_running_mode", "multi_processing",
         "--direct_num_workers", str(workers), *extra], capture_output=True, text=True,
        check=False, preexec_fn=_confine_to(workers) if placement == "per_core" else None)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    if result.returncode != 0:
        raise RuntimeError(f"preprocess with {workers} workers failed: {result.stderr[-2000:]}")
    with open(os.path.join(output, "manifest.json"), encoding="utf-8") as handle:
        written = json.load(handle)["words"]["written"]
    # Each work item (a video, or a chunk of a long one) logs one "landmarks ..." line.
    items = sum(" landmarks " in line and "(frames " in line
                for line in result.stderr.splitlines())
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 1),
            "cores": workers if placement == "per_core" else os.cpu_count(),
            "clips_written": written,
            "landmark_work_items_logged": items,
            "load_average_1min": {"before": before, "after": load_average()}}


def measure(workers: int, small: str, large: str, videos: dict, scratch: str,
            placement: str) -> dict:
    runs = {name: run_job(source, os.path.join(scratch, f"out_{placement}_{workers}_{name}"),
                          workers, placement=placement)
            for name, source in (("small", small), ("large", large))}
    frames = {name: videos[name] * FRAMES_PER_VIDEO for name in runs}
    extra_seconds = runs["large"]["seconds"] - runs["small"]["seconds"]
    return {
        "runs": runs,
        "end_to_end_frames_per_s": round(frames["large"] / runs["large"]["seconds"], 1),
        "marginal_frames_per_s": (round((frames["large"] - frames["small"]) / extra_seconds, 1)
                                  if extra_seconds > 0 else None),
    }


def make_programme(root: str, minutes: float) -> tuple[str, int]:
    """(folder holding programme.mp4 and its word-timed programme.json, source frames)."""
    from pipelines.preprocess.decode import ffmpeg_executable

    ffmpeg = ffmpeg_executable()
    segments = broadcast.plan_segments(broadcast.recordings(SAMPLE), 16)
    os.makedirs(root)
    once = os.path.join(root, "once.mp4")
    broadcast.render_programme(segments, once, ffmpeg)
    seconds = len(segments) * broadcast.SEGMENT_SECONDS
    repeats = max(1, round(minutes * 60 / seconds))
    folder = os.path.join(root, "programme")
    os.makedirs(folder)
    broadcast.repeat_programme(once, repeats, os.path.join(folder, "programme.mp4"), ffmpeg,
                               seconds)
    words = [{key: word[key] for key in ("word", "start", "end")}
             for word in broadcast.truth(segments, repeats)]
    with open(os.path.join(folder, "programme.json"), "w", encoding="utf-8") as handle:
        json.dump(words, handle)
    return folder, round(repeats * seconds * broadcast.JOB_FPS)


def measure_programme(folder: str, frames: int, scratch: str, placement: str) -> dict:
    """One long programme, 1 and 2 workers: end-to-end source frames/s and chunks."""
    # One video is one group: all of it goes to train (the split rule keeps videos whole).
    extra = ("--train_fraction", "1.0", "--val_fraction", "0.0")
    runs = {workers: run_job(folder, os.path.join(scratch, f"programme_{placement}_{workers}"),
                             workers, extra, placement) for workers in (1, 2)}
    rates = {workers: round(frames / run["seconds"], 1) for workers, run in runs.items()}
    return {"minutes": round(frames / broadcast.JOB_FPS / 60, 2), "source_frames": frames,
            "size": f"{broadcast.WIDTH}x{broadcast.HEIGHT}", "transcript": "JSON word times",
            "workers": {str(w): {**runs[w], "end_to_end_frames_per_s": rates[w]}
                        for w in runs},
            "speedup_2_over_1": round(rates[2] / rates[1], 2)}


def placement_results(placement: str, inputs: dict, programme: tuple | None,
                      scratch: str) -> dict:
    """Both inputs with 1 and 2 workers in one placement, speedups and targets."""
    small, large, videos = inputs["small"], inputs["large"], inputs["videos"]
    results = {workers: measure(workers, small, large, videos, scratch, placement)
               for workers in (1, 2)}
    long = measure_programme(*programme, scratch, placement) if programme else None
    speedups = {key: (round(results[2][key] / results[1][key], 2)
                      if results[1][key] and results[2][key] else None)
                for key in ("end_to_end_frames_per_s", "marginal_frames_per_s")}
    return {
        "workers": {str(k): v for k, v in results.items()},
        "speedup_2_over_1": speedups,
        "long_programme": long,
        "target": {"speedup": TARGET,
                   "met_marginal": (speedups["marginal_frames_per_s"] or 0) >= TARGET,
                   "met_end_to_end": (speedups["end_to_end_frames_per_s"] or 0) >= TARGET,
                   "met_long_programme": (long["speedup_2_over_1"] >= TARGET
                                          if long else None)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--programme-minutes", type=float, default=8.0,
                        help="length of the long programme (0: skip it)")
    parser.add_argument("--placements", nargs="+", choices=PLACEMENTS, default=list(PLACEMENTS),
                        help="shared: the job may use every core; per_core: one core per "
                             "worker (see the module docstring)")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "scale.json"))
    args = parser.parse_args(argv)
    if "per_core" in args.placements and (os.cpu_count() or 1) < 2:
        parser.error("per_core needs a machine with at least 2 cores")
    scratch = tempfile.mkdtemp(prefix="lipflow_scale_")
    try:
        small, large = os.path.join(scratch, "small"), os.path.join(scratch, "large")
        videos = {"small": make_input(small, 1), "large": make_input(large, args.copies)}
        inputs = {"small": small, "large": large, "videos": videos}
        programme = (make_programme(os.path.join(scratch, "long"), args.programme_minutes)
                     if args.programme_minutes > 0 else None)
        # A first run pays for a cold file cache (the interpreter's and TensorFlow's files):
        # one run on the small input, not counted, so that no measured run pays it.
        warm_up = run_job(small, os.path.join(scratch, "warm_up"), 1)
        placements = {placement: placement_results(placement, inputs, programme, scratch)
                      for placement in args.placements}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = {
        "benchmark": "preprocess job, 1 vs 2 DirectRunner worker processes (multi_processing)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": {"videos": inputs["videos"], "frames_per_video": FRAMES_PER_VIDEO,
                  "source": "data/sample/grid_s1, copied under other names"},
        "units": "source frames per second of wall time",
        "warm_up_run_not_counted": warm_up,
        "placements": placements,
        "machine": {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
                    "note": "a shared machine: the load averages show other work during runs"},
    }
    write_result(args.output, report, indent=2, echo=False)
    print(json.dumps({name: {"speedup_2_over_1": result["speedup_2_over_1"],
                             "long_programme": result["long_programme"]
                             and result["long_programme"]["speedup_2_over_1"],
                             "target": result["target"]}
                      for name, result in placements.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
