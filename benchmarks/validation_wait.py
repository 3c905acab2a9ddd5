"""The idle wait before each epoch's validation pass, with and without tf.data autotuning
on the validation dataset, in the trainer's own fit.

    python benchmarks/validation_wait.py --data out/grid/data [--epochs 8 --steps 10]

Keras makes a new iterator over the validation data every epoch and drops the old one
first. With tf.data's autotuning on, dropping it waits for the tuning thread to wake, a
wait that grows as the run goes on; `trainer.input.make_dataset` turns autotuning off for
finite datasets. This script trains the `grid` preset's model (as `lipflow train` builds
and compiles it) on DATA's train split for --epochs epochs of --steps steps, validating on
its val split, twice: with the validation dataset as `make_dataset` builds it, and with
autotuning switched back on. The wait is the time from the epoch's last training batch to
the start of its validation pass (Keras callbacks `on_train_batch_end`, `on_test_begin`).
Writes benchmarks/results/validation_wait.json.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bench_utils import cpu_model, load_average, write_result  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a dataset lipflow preprocess wrote")
    parser.add_argument("--config", default="grid", help="trainer preset")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="training steps per epoch")
    parser.add_argument("--output", default=os.path.join(HERE, "results",
                                                         "validation_wait.json"))
    return parser.parse_args(argv)


def waits_before_validation(args, autotune_validation: bool) -> list[float]:
    """Seconds from each epoch's last training batch to its validation pass's start."""
    import keras
    import tensorflow as tf

    from trainer.config import preset
    from trainer.input import load_stats, make_dataset
    from trainer.train import _one_hot, build_and_compile

    config = preset(args.config)
    stats = load_stats(args.data)
    classes = len(stats.vocabulary)
    train = make_dataset(args.data, "train", config.input, stats, training=True,
                         repeat=True).map(_one_hot(classes))
    val = make_dataset(args.data, "val", config.input, stats, training=False)
    if autotune_validation:
        options = tf.data.Options()
        options.autotune.enabled = True
        val = val.with_options(options)
    marks: dict[str, list[float]] = {"train_end": [], "test_begin": []}

    class Marks(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == args.steps - 1:
                marks["train_end"].append(time.perf_counter())

        def on_test_begin(self, logs=None):
            marks["test_begin"].append(time.perf_counter())

    model = build_and_compile(config, stats, args.steps, None,
                              int(_window_length(args.data)))
    model.fit(train, validation_data=val.map(_one_hot(classes)), epochs=args.epochs,
              steps_per_epoch=args.steps, callbacks=[Marks()], verbose=0)
    return [round(b - e, 3) for e, b in zip(marks["train_end"], marks["test_begin"])]


def _card(data: str) -> dict:
    import json

    with open(os.path.join(data, "dataset_info.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _window_length(data: str) -> int:
    return _card(data)["preprocessing"]["window_length"]


def _described(data: str) -> str:
    splits = _card(data)["splits"]
    return ", ".join(f"{name} {splits.get(name, {}).get('clips', 0)} clips"
                     for name in ("train", "val"))


def main(argv=None) -> dict:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_before = load_average()
    runs = {name: waits_before_validation(args, autotune)
            for name, autotune in (("as_built", False), ("autotuned", True))}
    result = {"benchmark": "validation_wait", "run_at": started,
              "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                          "load_average_before": load_before,
                          "load_average_after": load_average()},
              "settings": {"data": _described(args.data),
                           "config": args.config, "epochs": args.epochs, "steps": args.steps},
              "wait_seconds_per_epoch": runs,
              "total_wait_seconds": {name: round(sum(w), 2) for name, w in runs.items()}}
    write_result(args.output, result)
    return result


if __name__ == "__main__":
    main()
