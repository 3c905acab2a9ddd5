"""The cut scan's decode with and without the deblocking filter, side by side in one run.

    python benchmarks/scan_decode.py [--minutes 8] [--output benchmarks/results/scan_decode.json]

The scan decodes a long programme to 32x24 grey miniatures (`decode.decode_thumbnails`)
without H.264's deblocking filter. This measures what that saves and what it changes, on
the broadcast benchmark's 1280x720 programme repeated to `--minutes`: CPU seconds of
ffmpeg for the whole scan both ways, how far the miniatures move (grey levels), and
whether the cut rule finds the same cuts in both.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from bench_utils import cpu_model, load_average, write_result  # noqa: E402  (beside this script)
from benchmarks.scale import make_programme  # noqa: E402
from pipelines.preprocess.decode import (THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH,  # noqa: E402
                                         FrameRange, _thumbnail_command)
from pipelines.preprocess.shots import ShotDetector  # noqa: E402


def without_skip(command: list[str]) -> list[str]:
    """The same ffmpeg command with the deblocking filter left on."""
    at = command.index("-skip_loop_filter")
    return command[:at] + command[at + 2:]


def scan(command: list[str]) -> tuple[np.ndarray, float]:
    """(miniatures uint8 [N, 24, 32], ffmpeg CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = subprocess.run(command, stdout=subprocess.PIPE, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return np.frombuffer(data, np.uint8).reshape(-1, THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH), cpu


def cuts_of(thumbs: np.ndarray) -> list[int]:
    detector = ShotDetector()
    for thumb in thumbs:
        detector.update(thumb)
    detector.finish()
    return detector.cuts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "scan_decode.json"))
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="lipflow_scan_")
    try:
        folder, frames = make_programme(os.path.join(scratch, "long"), args.minutes)
        ours = _thumbnail_command(os.path.join(folder, "programme.mp4"), 25.0, FrameRange())
        load_before = load_average()
        skipped, skipped_cpu = scan(ours)
        filtered, filtered_cpu = scan(without_skip(ours))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if skipped.shape != filtered.shape:
        raise SystemExit(f"frame counts differ: {skipped.shape[0]} and {filtered.shape[0]}")
    moved = np.abs(skipped.astype(np.int16) - filtered.astype(np.int16))
    cuts = {"deblocked": cuts_of(filtered), "not_deblocked": cuts_of(skipped)}
    write_result(args.output, {
        "benchmark": "cut scan decode: deblocking filter on against off (-skip_loop_filter all)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "programme": {"minutes": round(frames / 25.0 / 60, 2), "source_frames": frames,
                      "size": "1280x720"},
        "ffmpeg_cpu_seconds": {"deblocked": round(filtered_cpu, 1),
                               "not_deblocked": round(skipped_cpu, 1)},
        "cpu_saved_share": round(1 - skipped_cpu / filtered_cpu, 3),
        "miniature_grey_level_difference": {"mean": round(float(moved.mean()), 3),
                                            "max": int(moved.max())},
        "cuts": {"deblocked": len(cuts["deblocked"]), "not_deblocked": len(cuts["not_deblocked"]),
                 "identical": cuts["deblocked"] == cuts["not_deblocked"]},
        "machine": {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
                    "load_average_1min": {"before": load_before, "after": load_average()}},
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
