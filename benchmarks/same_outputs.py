"""Same outputs before and after a change of code layout: runs the commands with the code
of an earlier revision and with this checkout, on the same inputs, and compares what they
wrote.

    .venv/bin/python benchmarks/same_outputs.py --before REV [--model EXPORT]
        [--segments 6] [--work out/same_outputs]
        [--output benchmarks/results/same_outputs.json]

Three runs per tree, each a real `lipflow` process with that tree's code (its folder
first on PYTHONPATH) and this checkout's `.venv`:
- `preprocess` on the sample recordings (data/sample/grid_s1);
- `preprocess` on the broadcast benchmark's programme (benchmarks/broadcast.py: cuts,
  split screens, subtitles aligned by the job), built once from the same recordings;
- `predict --annotate` on a sample video, with --model (default: the shipped GRID model).

Compared: every clip record's bytes, keyed by clip id (Beam puts records into shards at
random); dead_letters.jsonl, shots.jsonl and predictions.jsonl line for line as sorted
sets; manifest.json and dataset_info.json without the fields that name the run (start
time, output folder); the vocabulary. A difference is listed with its file; the exit
status is 1 if there is any.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up lines are noise here
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
from bench_utils import result_text, write_result  # noqa: E402

SAMPLE = os.path.join(REPO, "data", "sample", "grid_s1")
SHIPPED_MODEL = os.path.join(REPO, "data", "models", "grid_s1_words")
PREDICT_VIDEO = os.path.join(SAMPLE, "video", "bbaf3s.mpg")
PREPROCESS_FLAGS = ("--direct_running_mode", "in_memory", "--direct_num_workers", "1",
                    "--max_failure_fraction", "1.0")
# Fields that name the run rather than its data.
RUN_FIELDS = {"manifest.json": ("started_at", "output"), "dataset_info.json": ("created_at",)}
LINE_FILES = ("dead_letters.jsonl", "shots.jsonl", "predictions.jsonl")


def lipflow(tree: str, *args: str) -> None:
    env = dict(os.environ, PYTHONPATH=tree)
    result = subprocess.run([sys.executable, "-m", "lipflow", *args], cwd=tree, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"lipflow {args[0]} in {tree} failed ({result.returncode}): "
                           f"{result.stderr[-3000:]}")


def checkout(revision: str, folder: str) -> str:
    """A detached worktree of `revision` at `folder` (made again if it exists)."""
    if os.path.exists(folder):
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", folder],
                       check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", folder, revision],
                   check=True, capture_output=True)
    return folder


def build_programme(root: str, segments: int) -> str:
    """The broadcast benchmark's programme and subtitles, in a folder of their own."""
    import broadcast
    from pipelines.preprocess.decode import ffmpeg_executable

    plan = broadcast.plan_segments(broadcast.recordings(SAMPLE), segments)
    os.makedirs(root, exist_ok=True)
    video = os.path.join(root, "programme.mp4")
    broadcast.render_programme(plan, video, ffmpeg_executable())
    return broadcast.programme_folder(root, "programme", video, broadcast.truth(plan))


def run_all(tree: str, out: str, programme: str | None, model: str) -> None:
    lipflow(tree, "preprocess", "--input", SAMPLE, "--output", os.path.join(out, "sample"),
            *PREPROCESS_FLAGS)
    if programme:
        lipflow(tree, "preprocess", "--input", programme,
                "--output", os.path.join(out, "programme"), *PREPROCESS_FLAGS)
    lipflow(tree, "predict", PREDICT_VIDEO, "--model", model,
            "--output", os.path.join(out, "predict"), "--annotate")


def records(folder: str) -> dict[str, bytes]:
    """{split/clip id: the record's raw bytes} over every clip file of a dataset folder."""
    import tensorflow as tf

    from schemas.clip import CLIP_ID, decode_clip

    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "**", "clips-*.tfrecord*"),
                                 recursive=True)):
        compression = "GZIP" if path.endswith(".gz") else ""
        split = os.path.relpath(os.path.dirname(path), folder)
        for raw in tf.data.TFRecordDataset(path, compression_type=compression):
            out[f"{split}/{decode_clip(raw.numpy())[CLIP_ID]}"] = raw.numpy()
    return out


def _lines(path: str, base: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return sorted(line.replace(base, "OUT") for line in handle)


def _card(path: str, name: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        card = json.load(handle)
    for field in RUN_FIELDS[name]:
        card.pop(field, None)
    return card


def compare(before: str, after: str) -> dict:
    """What differs between two output folders of the same command."""
    differences, compared = [], 0
    old, new = records(before), records(after)
    if old or new:
        compared += len(old)
        if old.keys() != new.keys():
            differences.append(f"clip ids: {len(old.keys() ^ new.keys())} not in both")
        differences += [f"clip {key}: bytes differ" for key in sorted(old.keys() & new.keys())
                        if old[key] != new[key]]
    for name in (*LINE_FILES, *RUN_FIELDS, "vocabulary.txt"):
        found = [sorted(glob.glob(os.path.join(root, "**", name), recursive=True))
                 for root in (before, after)]
        if [os.path.relpath(p, before) for p in found[0]] != \
                [os.path.relpath(p, after) for p in found[1]]:
            differences.append(f"{name}: not written alike")
            continue
        for old_path, new_path in zip(*found):
            compared += 1
            if name in RUN_FIELDS:
                same = _card(old_path, name) == _card(new_path, name)
            else:
                same = _lines(old_path, before) == _lines(new_path, after)
            if not same:
                differences.append(f"{os.path.relpath(old_path, before)} differs")
    return {"files_and_records_compared": compared, "identical": not differences,
            "differences": differences[:50]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision of the code before")
    parser.add_argument("--model", default=SHIPPED_MODEL,
                        help="export the predict runs use (default: the shipped GRID model)")
    parser.add_argument("--segments", type=int, default=6,
                        help="segments of the broadcast programme (0: no programme run)")
    parser.add_argument("--work", default=os.path.join(REPO, "out", "same_outputs"))
    parser.add_argument("--output", help="write the result JSON here as well")
    args = parser.parse_args(argv)
    args.model, args.work = os.path.abspath(args.model), os.path.abspath(args.work)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    before_tree = checkout(args.before, os.path.join(args.work, "before_tree"))
    programme = (build_programme(os.path.join(args.work, "programme"), args.segments)
                 if args.segments else None)
    outputs = {name: os.path.join(args.work, name) for name in ("before", "after")}
    try:
        run_all(before_tree, outputs["before"], programme, args.model)
        run_all(REPO, outputs["after"], programme, args.model)
    finally:
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", before_tree],
                       check=False, capture_output=True)
    after_revision = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], check=True,
                                    capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           check=True, capture_output=True, text=True).stdout.strip()
    commands = ["sample", "programme", "predict"] if programme else ["sample", "predict"]
    result = {"before": args.before, "after": after_revision + (" (with local changes)"
                                                                if dirty else ""),
              "programme_segments": args.segments,
              "commands": {name: compare(os.path.join(outputs["before"], name),
                                         os.path.join(outputs["after"], name))
                           for name in commands}}
    result["identical"] = all(c["identical"] for c in result["commands"].values())
    if args.output:
        write_result(args.output, result, indent=2, sort_keys=True)
    else:
        print(result_text(result, indent=2, sort_keys=True))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
