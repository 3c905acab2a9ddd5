"""The ResNet front end computed frame by frame against Keras's 3D layers, side by side.

    python benchmarks/front_end.py                      # the grid preset's model, 2-core CPU
    python benchmarks/front_end.py --config grid_gpu --batch_size 8

Builds a preset's model twice with `trainer.train.build_and_compile` (the trainer's own
optimiser, loss and metrics): as `trainer/models.py` builds it today (FrameStackedConv3D and
FramewiseMaxPooling3D, trainer/frame_layers.py) and with the Keras Conv3D and MaxPooling3D
those layers stand for, holding the same weights. Both train on the same synthetic batch
(the preset's frames, crop and batch size) in alternating rounds, the order swapped each
round, so a drift in the machine's speed reaches both alike; the ratio is taken round by
round. Writes benchmarks/results/front_end[_CONFIG].json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bench_utils import cpu_model, load_average, write_result  # noqa: E402
CLASSES = 51  # GRID's words
WINDOW = 29   # frames per clip the preprocess job writes by default


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="grid", help="trainer preset (trainer/config.py)")
    parser.add_argument("--batch_size", type=int, default=0, help="0: the preset's")
    parser.add_argument("--rounds", type=int, default=6, help="alternating timed rounds")
    parser.add_argument("--steps", type=int, default=5, help="train steps per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model")
    parser.add_argument("--output", default="", help="default: benchmarks/results/front_end"
                                                     "[_CONFIG].json")
    return parser.parse_args(argv)


@contextlib.contextmanager
def keras_3d_layers():
    """trainer.models builds its ResNet front end from Keras's Conv3D and MaxPooling3D."""
    import keras

    from trainer import models

    saved = models.FrameStackedConv3D, models.FramewiseMaxPooling3D
    models.FrameStackedConv3D = keras.layers.Conv3D
    models.FramewiseMaxPooling3D = keras.layers.MaxPooling3D
    try:
        yield
    finally:
        models.FrameStackedConv3D, models.FramewiseMaxPooling3D = saved


def twin_models(config):
    """{"frame_by_frame": today's model, "keras_3d": the same with Keras's 3D layers}."""
    from trainer.input import DatasetStats
    from trainer.train import build_and_compile

    stats = DatasetStats(0.0, 1.0, tuple(f"word{i}" for i in range(CLASSES)))
    today = build_and_compile(config, stats, 100, None, WINDOW)
    with keras_3d_layers():
        before = build_and_compile(config, stats, 100, None, WINDOW)
    before.set_weights(today.get_weights())
    return {"frame_by_frame": today, "keras_3d": before}


def synthetic_batch(config, batch: int):
    import numpy as np

    rng = np.random.default_rng(0)
    frames, side = config.input.model_frames(WINDOW), config.input.model_size
    features = {"frames": rng.normal(size=(batch, frames, side, side, 1)).astype("float32"),
                "boundary_mask": np.ones((batch, frames), dtype="float32")}
    return features, np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, batch)]


def seconds_per_step(model, batch, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(*batch)
    return (time.perf_counter() - started) / steps


def measure(args: argparse.Namespace) -> dict:
    import dataclasses

    from trainer.config import preset

    config = preset(args.config)
    if args.batch_size:
        config = dataclasses.replace(config, input=dataclasses.replace(
            config.input, batch_size=args.batch_size))
    models = twin_models(config)
    batch = synthetic_batch(config, config.input.batch_size)
    for model in models.values():
        seconds_per_step(model, batch, args.warmup)
    rounds = []
    for index in range(args.rounds):
        order = list(models) if index % 2 == 0 else list(reversed(models))
        timed = {name: round(seconds_per_step(models[name], batch, args.steps), 4)
                 for name in order}
        rounds.append({**timed, "speedup": round(timed["keras_3d"] / timed["frame_by_frame"],
                                                 3)})
    return {"model": {"name": config.model.name, "width": config.model.width,
                      "frames": config.input.model_frames(WINDOW),
                      "size": config.input.model_size, "batch": config.input.batch_size},
            "rounds": rounds,
            "median_seconds_per_step": {name: statistics.median(r[name] for r in rounds)
                                        for name in models},
            "median_speedup": statistics.median(r["speedup"] for r in rounds)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    import keras

    result = {"benchmark": "front_end", "run_at": datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "backend": keras.backend.backend(),
                    "load_average_before": load_average()},
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        **measure(args)}
    result["machine"]["load_average_after"] = load_average()
    suffix = "" if args.config == "grid" else f"_{args.config}"
    write_result(args.output or os.path.join(HERE, "results", f"front_end{suffix}.json"), result)
    return result


if __name__ == "__main__":
    main()
