"""Does the tf.data input keep up with training? Input clips/s per core, and against the train step.

    .venv/bin/python benchmarks/input_pipeline.py [--data DIR] [--clips 1280] [--rounds 3]
        [--core-sets 0 0,1] [--steps 5] [--widths 8,16]
        [--output benchmarks/results/input_pipeline.json]

Everything is measured in one invocation, so the figures are comparable even when other
work loads the machine (its load average is recorded with each measure):

- input, per core: for each compression (the GZIP files `lipflow preprocess` writes by
  default, and the same records uncompressed, as `--compression none` writes them) and
  each CPU set (--core-sets; default one core, then two), a fresh worker process pinned to
  those cores (sched_setaffinity before TensorFlow starts, so tf.data sizes its threads
  to them) times, over --clips clips each after a warm-up:
    read       the trainer's file reading (`_read_records`: interleaved TFRecordDatasets)
               batched by 32, no parsing: the ceiling;
    parse      read + `parse_clip_batch` (frames, mask, label: the trainer's parse);
    parse_per_record  read + the schema's `parse_clip` per record, then batched (how the
               trainer parsed before batches were parsed whole);
    augmented  `make_dataset(..., training=True, repeat=True)`: read, shuffle, batch 32,
               parse, random crop / flip / time mask, normalise: what training gets;
    augmented_cached  the same with `cache=True` (records kept in memory after one pass).
  The workers take turns, --rounds times over, and the median round counts. Clips/s per
  core = clips/s / cores in the set. Target: augmented >= 340 clips/s per core (an H100
  at about 5,400 clips/s from a 16-core host).
- consumption: clips per second that `model.train_on_batch` takes for
  `trainer.models.build_model("resnet_tcn", classes, width=W)` (SGD, sparse categorical
  cross-entropy from logits) on one fixed batch from that input, per width W, after two
  warm-up steps; ratio = input (augmented, GZIP, all cores) / consumption, target >= 3.

Without --data, the dataset is built first by running `lipflow preprocess` on the 20
sample videos (one augmented copy per clip, every clip in train) into a temporary folder;
the uncompressed twin holds the same records rewritten without GZIP. Workers normalise
with the pixel statistics of dataset_info.json (the numbers of transform_fn). Only the
JSON result goes to stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_utils import (cpu_model, load_average, stdout_to_stderr,  # beside this script
                         write_result)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = "data/sample/grid_s1"
DEFAULT_OUTPUT = "benchmarks/results/input_pipeline.json"
MODEL_NAME = "resnet_tcn"
BATCH_SIZE = 32
TARGET_RATIO = 3.0
TARGET_PER_CORE = 340.0   # augmented clips/s per core: 5,400 clips/s for an H100 / 16 cores
WARMUP_STEPS = 2
WARMUP_BATCHES = 8
PREPROCESS_FLAGS = ("--augment_copies", "1", "--train_fraction", "1.0", "--val_fraction", "0.0")
STAGES = ("read", "parse", "parse_per_record", "augmented", "augmented_cached")
COMPRESSIONS = ("gzip", "none")
_LOG = logging.getLogger("benchmarks.input_pipeline")


def build_sample_dataset(output: str) -> dict:
    """Runs `lipflow preprocess` on the sample videos into `output`; returns what it took."""
    command = [sys.executable, "-m", "lipflow", "preprocess", "--input", SAMPLE_DIR,
               "--output", output, *PREPROCESS_FLAGS]
    _LOG.warning("building the dataset: %s", " ".join(command[1:]))
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, stdout=sys.stderr, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"lipflow preprocess failed (exit {result.returncode}); its log is "
                           "above on stderr")
    return {"built_from": SAMPLE_DIR, "flags": list(PREPROCESS_FLAGS),
            "preprocess_seconds": round(time.perf_counter() - started, 1)}


def uncompressed_twin(data_dir: str, twin: str) -> dict:
    """The train split of `data_dir` rewritten as plain TFRecords (the same records, file for
    file, as `--compression none` names them) in `twin`, with its dataset card."""
    import tensorflow as tf

    from schemas.layout import tfrecord_compression
    from trainer.input import split_files

    os.makedirs(os.path.join(twin, "train"))
    shutil.copy(os.path.join(data_dir, "dataset_info.json"), twin)
    sizes = {"gzip": 0, "none": 0}
    for path in split_files(data_dir, "train"):
        name = os.path.basename(path).removesuffix(".gz")
        target = os.path.join(twin, "train", name)
        with tf.io.TFRecordWriter(target) as writer:
            for record in tf.data.TFRecordDataset(path, tfrecord_compression(path)):
                writer.write(record.numpy())
        sizes["gzip"] += os.path.getsize(path)
        sizes["none"] += os.path.getsize(target)
    return {"train_bytes": sizes, "size_ratio_none_over_gzip": round(
        sizes["none"] / sizes["gzip"], 2)}


def dataset_card(data_dir: str) -> dict:
    with open(os.path.join(data_dir, "dataset_info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    return {"train_clips": info["splits"]["train"]["clips"],
            "vocabulary_size": info["vocabulary_size"]}


# ---- worker: one compression on one CPU set ----------------------------------------------

def card_stats(data_dir: str):
    """DatasetStats from dataset_info.json (the numbers transform_fn holds), without loading
    tf.Transform in every worker."""
    from trainer.input import DatasetStats

    with open(os.path.join(data_dir, "dataset_info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    return DatasetStats(mean=info["pixel_mean"], std=info["pixel_std"],
                        vocabulary=tuple(info["vocabulary"]))


def stage_dataset(stage: str, data_dir: str, config, stats):
    """The endless dataset of batches a stage times."""
    import dataclasses

    import tensorflow as tf

    from schemas.clip import parse_clip
    from trainer.input import _read_records, make_dataset, parse_clip_batch, split_files

    if stage.startswith("augmented"):
        config = dataclasses.replace(config, cache=stage == "augmented_cached")
        return make_dataset(data_dir, "train", config, stats, training=True, repeat=True)
    records = _read_records(split_files(data_dir, "train"), config, shuffle_files=True).repeat()
    if stage == "read":
        return records.batch(config.batch_size)
    if stage == "parse":
        return records.batch(config.batch_size).map(parse_clip_batch,
                                                    num_parallel_calls=tf.data.AUTOTUNE)
    return (records.map(parse_clip, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(config.batch_size).prefetch(tf.data.AUTOTUNE))


def time_stage(dataset, batches: int, batch_size: int) -> dict:
    """Clips/s over `batches` batches after WARMUP_BATCHES (the shuffle buffer, a cache)."""
    iterator = iter(dataset)
    for _ in range(WARMUP_BATCHES):
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - started
    return {"clips": batches * batch_size, "seconds": round(seconds, 3),
            "clips_per_second": round(batches * batch_size / seconds, 1)}


def worker(data_dir: str, cores: list[int], clips: int) -> dict:
    """Every stage on `cores` (pinned before TensorFlow starts)."""
    os.sched_setaffinity(0, cores)
    from trainer.input import InputConfig

    config = InputConfig(batch_size=BATCH_SIZE)
    stats = card_stats(data_dir)
    batches = max(1, clips // BATCH_SIZE)
    out = {"cores": cores, "load_average_1min_before": load_average()}
    for stage in STAGES:
        measure = time_stage(stage_dataset(stage, data_dir, config, stats), batches,
                             BATCH_SIZE)
        out[stage] = {**measure, "clips_per_second_per_core": round(
            measure["clips_per_second"] / len(cores), 1)}
    out["load_average_1min_after"] = load_average()
    return out


def run_worker(data_dir: str, cores: list[int], clips: int) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--data", data_dir,
               "--cores", ",".join(map(str, cores)), "--clips", str(clips)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"worker {cores} on {data_dir} failed: {result.stderr[-3000:]}")
    return json.loads(result.stdout)


def measure_per_core(folders: dict, core_sets: list[list[int]], clips: int,
                     rounds: int) -> dict:
    """{compression: {cores: {stage: median over rounds, rounds: [...]}}}, workers in turn."""
    runs = {(c, tuple(s)): [] for c in folders for s in core_sets}
    for index in range(rounds):
        for compression, cores in runs:
            _LOG.warning("round %d: %s on cores %s", index + 1, compression, list(cores))
            runs[(compression, cores)].append(run_worker(folders[compression], list(cores),
                                                         clips))
    out = {c: {} for c in folders}
    for (compression, cores), results in runs.items():
        summary = {stage: {key: round(statistics.median(r[stage][key] for r in results), 1)
                           for key in ("clips_per_second", "clips_per_second_per_core")}
                   for stage in STAGES}
        out[compression][",".join(map(str, cores))] = {**summary, "rounds": results}
    return out


def per_core_targets(per_core: dict) -> dict:
    """Whether augmented clips/s per core reach TARGET_PER_CORE, per compression and CPU set;
    and each stage as a share of the read ceiling."""
    met, shares = {}, {}
    for compression, by_cores in per_core.items():
        for cores, result in by_cores.items():
            key = f"{compression}, cores {cores}"
            rate = result["augmented"]["clips_per_second_per_core"]
            met[key] = {"augmented_clips_per_second_per_core": rate, "met": rate >= TARGET_PER_CORE}
            ceiling = result["read"]["clips_per_second"]
            shares[key] = {stage: round(result[stage]["clips_per_second"] / ceiling, 2)
                           for stage in STAGES}
    speedup = {cores: round(per_core["none"][cores]["augmented"]["clips_per_second"]
                            / per_core["gzip"][cores]["augmented"]["clips_per_second"], 2)
               for cores in per_core["gzip"]}
    return {"target_augmented_clips_per_second_per_core": TARGET_PER_CORE, "by_run": met,
            "stage_over_read_ceiling": shares, "augmented_none_over_gzip": speedup}


# ---- consumption: the train step -----------------------------------------------------------

def fixed_batch(data_dir: str, config, stats):
    """One training batch (features, labels) as tensors."""
    from trainer.input import make_dataset

    dataset = make_dataset(data_dir, "train", config, stats, training=True, repeat=True)
    return next(iter(dataset))


def measure_train_step(features, labels, classes: int, width: int, steps: int) -> dict:
    """Clips/s that model.train_on_batch consumes for resnet_tcn of `width`."""
    import keras

    from trainer.models import build_model

    keras.backend.clear_session()
    frames = int(features["frames"].shape[1])
    size = int(features["frames"].shape[2])
    model = build_model(MODEL_NAME, classes, frames=frames, size=size, width=width)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    started = time.perf_counter()
    for _ in range(WARMUP_STEPS):
        model.train_on_batch(features, labels)
    warmed = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(features, labels)
    seconds = time.perf_counter() - warmed
    clips = steps * int(labels.shape[0])
    return {"width": width, "parameters": int(model.count_params()),
            "warmup_steps": WARMUP_STEPS, "warmup_seconds": round(warmed - started, 3),
            "steps": steps, "clips": clips, "seconds": round(seconds, 3),
            "seconds_per_step": round(seconds / steps, 4),
            "clips_per_second": round(clips / seconds, 2)}


def measure_consumption(data_dir: str, config, stats, widths: list[int], steps: int) -> dict:
    if importlib.util.find_spec("trainer.models") is None:
        return {"skipped": True,
                "note": "trainer/models.py does not exist yet, so the train step could not be "
                        "timed; rerun this benchmark once it does"}
    features, labels = fixed_batch(data_dir, config, stats)
    per_width = [measure_train_step(features, labels, len(stats.vocabulary), width, steps)
                 for width in widths]
    return {"skipped": False, "model": MODEL_NAME, "optimizer": "SGD(learning_rate=0.01)",
            "loss": "SparseCategoricalCrossentropy(from_logits=True)",
            "batch": "one fixed training batch from the input, reused every step",
            "per_width": per_width}


def ratios(input_rate: float, consumption: dict) -> dict:
    if consumption["skipped"]:
        return {"target_ratio": TARGET_RATIO, "met": None, "note": consumption["note"]}
    per_width = {str(m["width"]): round(input_rate / m["clips_per_second"], 1)
                 for m in consumption["per_width"]}
    return {"target_ratio": TARGET_RATIO, "input_over_consumption_by_width": per_width,
            "min_ratio": min(per_width.values()),
            "met": all(r >= TARGET_RATIO for r in per_width.values())}


def machine(load_before: float | None) -> dict:
    import tensorflow as tf

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_count": os.cpu_count(), "usable_cores": cores, "cpu_model": cpu_model(),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            "platform": platform.platform(), "machine": platform.machine(),
            "load_average_1min": {
                "before": load_before, "after": load_average(),
                "note": "other work on the machine during the run slows the figures"}}


def versions() -> dict:
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__}


def benchmark(data_dir: str, built: dict | None, args: argparse.Namespace,
              load_before: float | None) -> dict:
    import dataclasses

    from trainer.input import InputConfig, load_stats

    with tempfile.TemporaryDirectory(prefix="lipflow_input_twin_") as twin:
        sizes = uncompressed_twin(data_dir, twin)
        per_core = measure_per_core({"gzip": data_dir, "none": twin}, args.core_sets,
                                    args.clips, args.rounds)
    all_cores = ",".join(map(str, args.core_sets[-1]))
    input_rate = per_core["gzip"][all_cores]["augmented"]["clips_per_second"]
    stats = load_stats(data_dir)
    config = InputConfig(batch_size=BATCH_SIZE)
    _LOG.warning("timing train steps of %s at widths %s", MODEL_NAME, args.widths)
    consumption = measure_consumption(data_dir, config, stats, args.widths, args.steps)
    return {
        "benchmark": "input_pipeline",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "data": {"dir": data_dir if built is None else "(temporary)", **(built or {}),
                 **dataset_card(data_dir), **sizes},
        "input_config": dataclasses.asdict(config),
        "per_core": per_core,
        "targets": per_core_targets(per_core),
        "consumption": consumption,
        "ratio": {"input": f"augmented, gzip, cores {all_cores}: {input_rate} clips/s",
                  **ratios(input_rate, consumption)},
        "note": "workers take turns (never two at once) and the median of --rounds counts; "
                "input and train step are timed one after the other on the same machine; in "
                "training they run at once, and on a CPU-only machine they share its cores",
        "machine": machine(load_before), "versions": versions(),
    }


def parse_core_set(text: str) -> list[int]:
    return [int(c) for c in text.split(",")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="a folder lipflow preprocess wrote with GZIP files (default: "
                             "build one from the sample videos in a temporary folder)")
    parser.add_argument("--clips", type=int, default=1280, help="clips timed per stage")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every worker")
    parser.add_argument("--core-sets", nargs="+", default=["0", "0,1"],
                        help="CPU sets the workers are pinned to, e.g. 0 0,1")
    parser.add_argument("--steps", type=int, default=5, help="train steps timed per width")
    parser.add_argument("--widths", default="8,16",
                        help="resnet_tcn widths, comma-separated (presets: demo 8, grid 16, "
                             "lrw 64)")
    parser.add_argument("--output", default=None,
                        help=f"JSON file to write (default: {DEFAULT_OUTPUT} in the repository)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=parse_core_set, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.widths = [int(w) for w in args.widths.split(",")]
        args.core_sets = [parse_core_set(c) for c in args.core_sets]
    except ValueError:
        parser.error(f"--widths and --core-sets must be integers separated by commas, got "
                     f"{args.widths!r}, {args.core_sets!r}")
    if args.clips < BATCH_SIZE or args.rounds < 1 or args.steps < 1 or min(args.widths) < 1:
        parser.error(f"--clips must be >= {BATCH_SIZE}; --rounds, --steps and every width >= 1")
    return args


def run(args: argparse.Namespace) -> dict:
    load_before = load_average()
    if args.data:
        return benchmark(os.path.abspath(args.data), None, args, load_before)
    with tempfile.TemporaryDirectory(prefix="lipflow_input_bench_") as folder:
        data_dir = os.path.join(folder, "data")
        built = build_sample_dataset(data_dir)
        return benchmark(data_dir, built, args, load_before)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.chdir(REPO)
    if args.worker:
        with stdout_to_stderr():
            result = worker(args.data, args.cores, args.clips)
        print(json.dumps(result))
        return 0
    output = os.path.abspath(args.output or os.path.join(REPO, DEFAULT_OUTPUT))
    with stdout_to_stderr():
        result = run(args)
    write_result(output, result, indent=2)
    sys.stdout.flush()
    sys.stderr.flush()
    # tf.Transform (load_stats) leaves a process that crashes during interpreter teardown.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
