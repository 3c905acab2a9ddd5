"""Does the tf.data input keep up with training? Input clips/s against train-step clips/s.

    .venv/bin/python benchmarks/input_pipeline.py [--data DIR] [--batches 40] [--steps 5]
        [--widths 8,16,64] [--output benchmarks/results/input_pipeline.json]

Everything is measured in one invocation, one after the other (never at the same time):

- input: clips per second that `trainer.input.make_dataset(..., training=True,
  repeat=True)` delivers (read GZIP TFRecords, parse, shuffle, random crop / flip / time
  mask, normalise, batch 32), timed over --batches batches after a warm-up that fills the
  shuffle buffer. Measured with the default `InputConfig` (no cache), and again with
  `cache=True` for comparison.
- consumption: clips per second that `model.train_on_batch` takes for
  `trainer.models.build_model("resnet_tcn", classes, width=W)` (SGD, sparse categorical
  cross-entropy from logits) on one fixed batch from that input, per width W, after two
  warm-up steps (the first traces the step).
- ratio = input / consumption per width; the target is >= 3, so the model never waits for data.

Without --data, the dataset is built first by running `lipflow preprocess` on the 20
sample videos (one augmented copy per clip, every clip in train) into a temporary folder.
If `trainer/models.py` is missing, the consumption part is skipped with a note in the JSON.
Only the JSON result goes to stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time

from bench_utils import cpu_model, load_average, stdout_to_stderr  # beside this script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = "data/sample/grid_s1"
DEFAULT_OUTPUT = "benchmarks/results/input_pipeline.json"
MODEL_NAME = "resnet_tcn"
BATCH_SIZE = 32
TARGET_RATIO = 3.0
WARMUP_STEPS = 2
PREPROCESS_FLAGS = ("--augment_copies", "1", "--train_fraction", "1.0", "--val_fraction", "0.0")
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


def dataset_card(data_dir: str) -> dict:
    with open(os.path.join(data_dir, "dataset_info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    return {"train_clips": info["splits"]["train"]["clips"],
            "vocabulary_size": info["vocabulary_size"]}


def measure_input(data_dir: str, config, stats, batches: int) -> dict:
    """Clips/s of the training input over `batches` batches, after filling the shuffle buffer."""
    from trainer.input import make_dataset

    dataset = make_dataset(data_dir, "train", config, stats, training=True, repeat=True)
    iterator = iter(dataset)
    warmup = max(3, -(-config.shuffle_buffer // config.batch_size) + 3)
    started = time.perf_counter()
    for _ in range(warmup):
        next(iterator)
    warmed = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - warmed
    clips = batches * config.batch_size
    return {"batch_size": config.batch_size, "cache": config.cache,
            "warmup_batches": warmup, "warmup_seconds": round(warmed - started, 3),
            "batches": batches, "clips": clips, "seconds": round(seconds, 3),
            "clips_per_second": round(clips / seconds, 1)}


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


def benchmark(data_dir: str, built: dict | None, batches: int, steps: int,
              widths: list[int], load_before: float | None) -> dict:
    import dataclasses

    from trainer.input import InputConfig, load_stats

    stats = load_stats(data_dir)
    config = InputConfig(batch_size=BATCH_SIZE)
    _LOG.warning("timing the input (%d batches of %d)", batches, BATCH_SIZE)
    input_default = measure_input(data_dir, config, stats, batches)
    input_cached = measure_input(data_dir, dataclasses.replace(config, cache=True), stats,
                                 batches)
    _LOG.warning("timing train steps of %s at widths %s", MODEL_NAME, widths)
    consumption = measure_consumption(data_dir, config, stats, widths, steps)
    return {
        "benchmark": "input_pipeline",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "data": {"dir": data_dir if built is None else "(temporary)", **(built or {}),
                 **dataset_card(data_dir)},
        "input_config": dataclasses.asdict(config),
        "input": {"default": input_default, "cached": input_cached,
                  "clips_per_second": input_default["clips_per_second"]},
        "consumption": consumption,
        "ratio": ratios(input_default["clips_per_second"], consumption),
        "note": "input and train step are timed one after the other on the same machine; in "
                "training they run at once, and on a CPU-only machine they share its cores",
        "machine": machine(load_before), "versions": versions(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="a folder lipflow preprocess wrote (default: build one from the "
                             "sample videos in a temporary folder)")
    parser.add_argument("--batches", type=int, default=40, help="input batches timed")
    parser.add_argument("--steps", type=int, default=5, help="train steps timed per width")
    parser.add_argument("--widths", default="8,16,64",
                        help="resnet_tcn widths, comma-separated (presets: demo 8, grid 16, "
                             "lrw 64)")
    parser.add_argument("--output", default=None,
                        help=f"JSON file to write (default: {DEFAULT_OUTPUT} in the repository)")
    args = parser.parse_args(argv)
    try:
        args.widths = [int(w) for w in args.widths.split(",")]
    except ValueError:
        parser.error(f"--widths must be integers separated by commas, got {args.widths!r}")
    if args.batches < 1 or args.steps < 1 or min(args.widths) < 1:
        parser.error("--batches, --steps and every width must be >= 1")
    return args


def run(args: argparse.Namespace) -> dict:
    load_before = load_average()
    measure = (args.batches, args.steps, args.widths, load_before)
    if args.data:
        return benchmark(os.path.abspath(args.data), None, *measure)
    with tempfile.TemporaryDirectory(prefix="lipflow_input_bench_") as folder:
        data_dir = os.path.join(folder, "data")
        built = build_sample_dataset(data_dir)
        return benchmark(data_dir, built, *measure)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    output = os.path.abspath(args.output or os.path.join(REPO, DEFAULT_OUTPUT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.chdir(REPO)
    with stdout_to_stderr():
        result = run(args)
    text = json.dumps(result, indent=2)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print(text)
    sys.stdout.flush()
    sys.stderr.flush()
    # tf.Transform (load_stats) leaves a process that crashes during interpreter teardown.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
