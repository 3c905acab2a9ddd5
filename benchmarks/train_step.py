"""Train-step throughput of a lipflow model under any Keras 3 backend, and the LRW epoch it implies.

    KERAS_BACKEND=jax python benchmarks/train_step.py --model resnet_tcn --batch_size 128
    python benchmarks/train_step.py --steps 5 --batch_size 8 --width 8     # TensorFlow, CPU

Builds the model from `trainer/models.py` (Keras 3 only, so no TensorFlow is needed under
JAX or PyTorch), compiles it as the trainer does (SGD with momentum, label smoothing), and
times `train_on_batch` on synthetic batches already in memory: the model's own pace,
with no input pipeline. Prints one JSON document (also saved with --output): clips/s
after warm-up and the seconds one epoch of LRW (488,766 training clips) would take at
that pace; the design's target is under 90 s on one H100.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_utils import (cpu_model, load_average, result_text,  # noqa: E402  (beside this script)
                         write_result)

LRW_TRAIN_CLIPS = 488_766
TARGET_SECONDS = 90.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet_tcn")
    parser.add_argument("--width", type=int, default=64, help="channel scale (64: published)")
    parser.add_argument("--classes", type=int, default=500, help="vocabulary size (LRW: 500)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps after warm-up")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation)")
    parser.add_argument("--precision", default="float32",
                        help="Keras dtype policy: float32, mixed_float16 or mixed_bfloat16")
    parser.add_argument("--output", default="", help="also write the JSON here")
    return parser.parse_args(argv)


def synthetic_batch(batch: int, classes: int, frames: int = 29, side: int = 88):
    import numpy as np

    rng = np.random.default_rng(0)
    features = {"frames": rng.normal(size=(batch, frames, side, side, 1)).astype("float32"),
                "boundary_mask": np.ones((batch, frames), dtype="float32")}
    labels = np.eye(classes, dtype="float32")[rng.integers(0, classes, batch)]
    return features, labels


def compiled_model(args: argparse.Namespace):
    import keras

    from trainer.models import build_model

    keras.mixed_precision.set_global_policy(args.precision)
    model = build_model(args.model, args.classes, width=args.width)
    model.compile(optimizer=keras.optimizers.SGD(1e-2, momentum=0.9),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True,
                                                            label_smoothing=0.1))
    return model


def measure(args: argparse.Namespace) -> dict:
    import keras

    model = compiled_model(args)
    features, labels = synthetic_batch(args.batch_size, args.classes)
    for _ in range(args.warmup):
        model.train_on_batch(features, labels)
    started = time.perf_counter()
    for _ in range(args.steps):
        loss = model.train_on_batch(features, labels)
    float(loss if not isinstance(loss, (list, tuple)) else loss[0])  # waits for the device
    seconds = time.perf_counter() - started
    rate = args.steps * args.batch_size / seconds
    return {"backend": keras.backend.backend(), "devices": _devices(),
            "parameters": int(model.count_params()), "train_step_clips_per_s": round(rate, 1),
            "lrw_epoch_seconds": round(LRW_TRAIN_CLIPS / rate, 1),
            "lrw_epoch_target_seconds": TARGET_SECONDS,
            "meets_target": LRW_TRAIN_CLIPS / rate < TARGET_SECONDS}


def _devices() -> list[str]:
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        return [str(d) for d in jax.devices()]
    if backend == "tensorflow":
        import tensorflow as tf
        return [d.name for d in tf.config.list_logical_devices()]
    if backend == "torch":
        import torch
        return ["cuda:" + torch.cuda.get_device_name(0)] if torch.cuda.is_available() else ["cpu"]
    return []


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = {"benchmark": "train_step", "run_at": datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average": load_average()},
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        **measure(args)}
    if args.output:
        write_result(args.output, result, indent=2)
    else:
        print(result_text(result, indent=2))
    return result


if __name__ == "__main__":
    main()
