"""Where the face detector looks: the whole frame at every detection, or around followed faces.

    .venv/bin/python benchmarks/face_search.py [--grid DIR] [--videos 40] [--segments 16]
        [--output benchmarks/results/face_search.json]

The preprocess job's tracker (`video_tracks.track_faces`, every frame wanted) runs twice
over the same decoded frames, pinned to one core:

- whole: `search_every` = `detect_every` (5), so every detection searches the whole
  frame, as the job did before;
- region: the job's default (`search_every` 25): a detection searches the whole frame
  when no face is followed, after a drift and at least every 25 frames; the others only
  a region around each followed face, scaled so the face is about 100 pixels wide.

On two inputs: GRID recordings (360x288; the first `--videos` in name order) and the
broadcast benchmark's 1280x720 programme (`--segments` segments of one face or a split
screen of two, joined by cuts; benchmarks/broadcast.py renders it). Reported per input
and setting: ms per frame of the tracker, detector runs and whole-frame searches, frames
holding a fitted face and face tracks; and how far the region search's landmarks lie
from the whole search's on the same face and frame (mean point distance over the
outer-eye-corner distance: mean, 99th percentile, and faces the region search lost or
added). Prints JSON and writes it to --output.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import glob
import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")

import numpy as np  # noqa: E402

from bench_utils import (cpu_model, load_average, pin_to_one_core,  # noqa: E402  (beside this script)
                         write_result)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import broadcast  # noqa: E402
from pipelines.preprocess import config as preprocess_config  # noqa: E402
from pipelines.preprocess.decode import DecodeReport, decode_frames, ffmpeg_executable  # noqa: E402
from pipelines.preprocess.landmarks import make_backend  # noqa: E402
from pipelines.preprocess.video_tracks import track_faces  # noqa: E402

SAMPLE = os.path.join(REPO, "data", "sample", "grid_s1")
SAME_FACE_EYE_DISTANCES = 0.5  # nearer than this (mean point distance): the same face


def decoded_videos(paths: list[str], max_side: int) -> list[list[np.ndarray]]:
    return [list(decode_frames(path, DecodeReport(), max_side=max_side)) for path in paths]


def faces_per_frame(video_faces) -> dict[int, list[np.ndarray]]:
    """Frame index -> the points [68, 2] of every face fitted there."""
    frames: dict[int, list[np.ndarray]] = {}
    for track in video_faces.faces:
        for offset in np.flatnonzero(track.fitted):
            frames.setdefault(track.first_frame + int(offset), []).append(track.points[offset])
    return frames


def run_setting(backend, rule, videos) -> dict:
    elapsed, detections, fitted, tracks, faces = 0.0, 0, 0, 0, []
    searches = 0
    for frames in videos:
        started = time.perf_counter()
        found = track_faces(iter(frames), backend, rule, None)
        elapsed += time.perf_counter() - started
        detections += found.detections
        searches += found.searches
        per_frame = faces_per_frame(found)
        fitted += sum(len(points) for points in per_frame.values())
        tracks += len(found.faces)
        faces.append(per_frame)
    total = sum(len(v) for v in videos)
    return {"ms_per_frame": round(1000 * elapsed / total, 3), "detector_runs": detections,
            "whole_frame_searches": searches, "faces_fitted": fitted, "face_tracks": tracks,
            "_faces": faces, "_seconds": elapsed}


def distance(points: np.ndarray, reference: np.ndarray) -> float:
    eyes = max(float(np.linalg.norm(reference[36] - reference[45])), 1.0)
    return float(np.linalg.norm(points - reference, axis=1).mean() / eyes)


def compare(region: list[dict], whole: list[dict]) -> dict:
    """Landmark distance of each whole-search face to the nearest region-search face."""
    errors, lost, added = [], 0, 0
    for ours, reference in zip(region, whole):
        for frame, faces in reference.items():
            candidates = ours.get(frame, [])
            matched = 0
            for points in faces:
                best = min((distance(c, points) for c in candidates), default=np.inf)
                if best < SAME_FACE_EYE_DISTANCES:
                    errors.append(best)
                    matched += 1
                else:
                    lost += 1
            added += max(len(candidates) - matched, 0)
    errors = np.asarray(errors)
    return {"faces_compared": int(errors.size),
            "mean_distance_eye_widths": round(float(errors.mean()), 5) if errors.size else None,
            "p99_distance_eye_widths": (round(float(np.percentile(errors, 99)), 5)
                                        if errors.size else None),
            "faces_lost": lost, "faces_added": added}


def measure(backend, videos, config) -> dict:
    base = config.tracking_rule
    whole_rule = dataclasses.replace(base, search_every=base.detect_every)
    whole = run_setting(backend, whole_rule, videos)
    region = run_setting(backend, base, videos)
    result = {"frames": sum(len(v) for v in videos),
              "frame_size": list(videos[0][0].shape[::-1]),
              "whole": {k: v for k, v in whole.items() if not k.startswith("_")},
              "region": {k: v for k, v in region.items() if not k.startswith("_")},
              "region_against_whole": compare(region["_faces"], whole["_faces"])}
    result["tracker_speed_up"] = round(whole["_seconds"] / region["_seconds"], 3)
    return result


def programme_frames(grid: str, segments: int, max_side: int) -> list[list[np.ndarray]]:
    plan = broadcast.plan_segments(broadcast.recordings(grid), segments)
    with tempfile.TemporaryDirectory() as scratch:
        video = os.path.join(scratch, "programme.mp4")
        broadcast.render_programme(plan, video, ffmpeg_executable())
        return decoded_videos([video], max_side)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default=SAMPLE, help="GRID folder (video/, align/)")
    parser.add_argument("--videos", type=int, default=40, help="GRID recordings, in name order")
    parser.add_argument("--segments", type=int, default=16, help="segments of the programme")
    parser.add_argument("--output", default=os.path.join(REPO, "benchmarks", "results",
                                                         "face_search.json"))
    args = parser.parse_args(argv)
    cpu = pin_to_one_core()
    config = preprocess_config.default()
    backend = make_backend(config.landmarks)
    backend.load()
    paths = sorted(glob.glob(os.path.join(args.grid, "video", "*.mpg")))[: args.videos]
    grid_name = "data/sample/grid_s1" if args.grid == SAMPLE else os.path.basename(
        args.grid.rstrip("/"))
    result = {
        "benchmark": "face_search", "date": datetime.datetime.now(datetime.timezone.utc)
        .isoformat(timespec="seconds"),
        "machine": {"cpu_model": cpu_model(), "pinned_cpu": cpu,
                    "load_average_before": load_average()},
        "settings": {"detect_every": config.detect_every, "search_every": config.search_every,
                     "detect_max_side": config.detect_max_side,
                     "roi_margin": config.tracking_rule.roi_margin,
                     "roi_face_side": config.tracking_rule.roi_face_side},
        "grid": {"input": grid_name, "videos": len(paths),
                 **measure(backend, decoded_videos(paths, config.max_side), config)},
        "programme": {"segments": args.segments, "grid_input": grid_name,
                      **measure(backend, programme_frames(args.grid, args.segments,
                                                          config.max_side), config)},
    }
    result["machine"]["load_average_after"] = load_average()
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
