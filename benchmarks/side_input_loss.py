"""Reproduces the local-runner data loss that made the preprocess job materialise its input
before side-input stages, with no lipflow code: elements in against elements out.

    python benchmarks/side_input_loss.py --load 2      # two busy loops beside the pipeline

The pipeline: 390 keys -> Reshuffle -> a CPU-bound FlatMap emitting 6 elements of 200 KB
each (like a video's word clips) -> a ParDo with a side input computed from the same
FlatMap (like labelling with a vocabulary learnt from the clips) -> count. Each
configuration prints how many of the 2,340 elements arrived. On the 2-core machine under
load, 5 of 6 multi-worker runs without the Reshuffle lost elements (30 to 240, threads and
processes alike); the 4 runs with it and the 2 with one worker lost none. The loss is
intermittent: one run proves nothing, several runs are the test.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions

KEYS = 390
PER_KEY = 6
CONFIGURATIONS = (("multi_threading", False), ("multi_threading", True),
                  ("multi_processing", False), ("multi_processing", True), ("in_memory", False))


def _elements(key: int, seconds: float = 0.25):
    started = time.time()
    while time.time() - started < seconds:  # CPU work, as a landmark fit
        np.linalg.svd(np.random.rand(60, 60))
    for index in range(PER_KEY):
        yield key, index, np.random.bytes(200_000)


class _Label(beam.DoFn):
    def process(self, element, side):
        yield element[:2]


def _write_count(count: int, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(str(count))


def count_arrived(mode: str, materialise: bool) -> int:
    """Elements that reach the end of the pipeline in one configuration."""
    workers = "1" if mode == "in_memory" else str(os.cpu_count() or 2)
    options = PipelineOptions(["--direct_num_workers", workers, "--direct_running_mode", mode])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "count")
        with beam.Pipeline(options=options) as pipeline:
            made = (pipeline | beam.Create(list(range(KEYS))) | "Spread" >> beam.Reshuffle()
                    | beam.FlatMap(_elements))
            side = made | beam.Map(lambda _: 1) | beam.CombineGlobally(sum)
            main = made | "Materialise" >> beam.Reshuffle() if materialise else made
            (main | beam.ParDo(_Label(), beam.pvalue.AsList(side))
             | beam.combiners.Count.Globally() | beam.Map(_write_count, path))
        with open(path, encoding="utf-8") as handle:
            return int(handle.read())


def _busy() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", type=int, default=2, help="busy-loop processes beside it")
    args = parser.parse_args()
    hogs = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for hog in hogs:
        hog.start()
    try:
        results = [{"mode": mode, "reshuffle_before_side_input": materialise,
                    "expected": KEYS * PER_KEY, "arrived": count_arrived(mode, materialise)}
                   for mode, materialise in CONFIGURATIONS]
    finally:
        for hog in hogs:
            hog.terminate()
    print(json.dumps({"benchmark": "side_input_loss", "load_processes": args.load,
                      "cores": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
