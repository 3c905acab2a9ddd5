"""Landmark backend cost and the detect-every-n trade-off, on the sample clips, one core.

For each `detect_every` the tracker runs over every frame of the clips; the figures are
ms per frame and the mean distance of its 68 points from those of detecting on every
frame, as a share of the outer-eye-corner distance. Prints JSON and writes it to
benchmarks/results/landmarks.json.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from bench_utils import write_result  # noqa: E402  (beside this script)

from pipelines.preprocess.decode import DecodeReport, decode_frames  # noqa: E402
from pipelines.preprocess.landmarks import make_backend  # noqa: E402
from pipelines.preprocess.landmarks.tracker import FaceTracker  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _per_frame_ms(function, frames) -> float:
    started = time.perf_counter()
    for frame in frames:
        function(frame)
    return 1000 * (time.perf_counter() - started) / len(frames)


def _track(backend, videos, detect_every):
    tracks, elapsed, detections = [], 0.0, 0
    for frames in videos:
        tracker = FaceTracker(backend, detect_every=detect_every)
        started = time.perf_counter()
        tracks.append([tracker.update(frame) for frame in frames])
        elapsed += time.perf_counter() - started
        detections += tracker.detections
    return tracks, elapsed, detections


def _drift(tracks, reference) -> float:
    errors = []
    for track, ref in zip(tracks, reference):
        for points, ref_points in zip(track, ref):
            if points is None or ref_points is None:
                continue
            eye = np.linalg.norm(ref_points[36] - ref_points[45])
            errors.append(np.linalg.norm(points - ref_points, axis=1).mean() / eye)
    return float(np.mean(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--output", default=os.path.join(REPO, "benchmarks", "results",
                                                         "landmarks.json"))
    args = parser.parse_args()
    paths = sorted(glob.glob(os.path.join(REPO, "data", "sample", "grid_s1", "video", "*.mpg")))
    videos = [list(decode_frames(p, DecodeReport())) for p in paths[: args.videos]]
    frames = sum(len(v) for v in videos)
    backend = make_backend("dlib")
    backend.load()
    sample = [f for v in videos for f in v[::5]]
    boxes = [backend.detect_faces(f) for f in sample]
    fit_pairs = [(f, b[0]) for f, b in zip(sample, boxes) if len(b)]
    result = {
        "benchmark": "landmarks", "date": datetime.date.today().isoformat(),
        "cpu_count": os.cpu_count(), "videos": len(videos), "frames": frames,
        "frame_size": list(videos[0][0].shape),
        "dlib_detect_ms": _per_frame_ms(backend.detect_faces, sample),
        "dlib_fit_ms": _per_frame_ms(lambda pair: backend.fit_landmarks(*pair), fit_pairs),
        "detect_every": {},
    }
    reference, reference_time, _ = _track(backend, videos, 1)
    for every in (1, 2, 3, 5, 10):
        tracks, elapsed, detections = (reference, reference_time, frames) if every == 1 else \
            _track(backend, videos, every)
        result["detect_every"][str(every)] = {
            "ms_per_frame": 1000 * elapsed / frames,
            "speedup_vs_every_frame": reference_time / elapsed,
            "detections": detections,
            "frames_without_face": sum(p is None for t in tracks for p in t),
            "mean_drift_vs_every_frame_eye_distance": _drift(tracks, reference),
        }
    write_result(args.output, result, indent=2)


if __name__ == "__main__":
    main()
