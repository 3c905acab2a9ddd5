"""The quality filter's thresholds, chosen on real footage by a written procedure.

    .venv/bin/python benchmarks/quality_thresholds.py --input DIR [--input DIR ...]
        --grid DIR [--grid-videos N] [--output benchmarks/results/quality_thresholds.json]

Clips: every word (or, without a transcript, every speech segment) that `lipflow predict`'s
clip-cutting library cuts from each video, measured as the preprocess job measures it
(pipelines/preprocess/quality.py), with the default landmark backend. Real sets: each
`--input` folder, and the first `--grid-videos` GRID recordings. Degraded sets, made from
those GRID recordings: landmark noise of 2 px per coordinate added to the fitted points;
the video at half size; the crops blurred with a Gaussian of sigma 1.5 and of sigma 3.
A scale sweep cuts the `--input` videos (but the TED crops, already small) at 1/2 down to
1/10 of their size.

Procedure. Videos of each real set are split into halves (alternate videos in name order).
On the selection half, over the clips whose face is at least `min_face_size`:
- max_jitter: the 97th percentile of the clips' jitter, rounded up to 0.001;
- max_yaw: the 97th percentile of their yaw, rounded up to 0.05 (at most 1);
- min_sharpness: the 3rd percentile of their sharpness, rounded down to 1;
- max_interpolated_fraction: kept at 0.5 (a clip whose frames were mostly never fitted);
- min_face_size: the larger of two floors, rounded up to 5 px. Measured: the smallest
  median eye distance of the sweep at which faces are still found in at least 90% of
  frames, the median jitter is under the chosen max_jitter and the median sharpness of the
  crops is at least twice the chosen min_sharpness. Resolution: a crop puts 80 crop
  pixels between the eyes (the mean face), so a face with E px between them is enlarged
  80 / E times; past `MAX_UPSCALE` (3) the crop's pixels are mostly interpolated.
Each chosen threshold must still refuse the degraded clips of its kind (noise: jitter;
half size: face size or jitter; blur: sharpness); the result says whether it does. The
held-out half is then filtered with all of them: the share of clips kept, per set.
Only the JSON result goes to stdout.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import glob
import math
import os
import sys
import tempfile

import numpy as np

from bench_utils import (  # beside this script
    add_output_argument, cpu_model, load_average, output_path,
    stdout_to_stderr, write_result)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = "benchmarks/results/quality_thresholds.json"
VIDEO_SUFFIXES = (".mp4", ".webm", ".mpg", ".mkv", ".mov")
SCALES = (0.5, 1 / 3, 0.25, 1 / 5, 1 / 6, 1 / 8, 1 / 10)
NOISE_PX = 2.0
BLURS = (1.5, 3.0)
KEEP = 0.97
MAX_UPSCALE = 3.0


def _videos(folder: str) -> list[str]:
    return sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                  if p.lower().endswith(VIDEO_SUFFIXES))


class Cutter:
    """Cuts a video's clips as predict does, and measures each as the job does."""

    def __init__(self):
        from pipelines.preprocess.config import PreprocessConfig
        from pipelines.preprocess.landmarks import make_backend
        from pipelines.preprocess.mean_face import mean_face
        from pipelines.preprocess.transcript_alignment import TranscriptAligner

        # Every face is measured, however small: the size floor is one of the choices.
        self.config = dataclasses.replace(PreprocessConfig(), min_face_size=0.0)
        self.backend = make_backend(self.config.landmarks)
        self.backend.load()
        self.aligner = TranscriptAligner()
        self.aligner.load()
        self.reference = mean_face()

    def _words(self, path: str):
        from pipelines.preprocess.errors import RecordError
        from pipelines.predict import clips

        transcript = clips.find_transcript(path)
        if transcript is None:
            return None
        try:
            return clips.read_transcript(path, transcript, self.aligner)
        except RecordError:
            return None

    def clips(self, path: str, with_transcript: bool = True):
        """(segment, smoothed, raw, fitted) of every clip cut from the video."""
        from pipelines.predict import clips

        words = self._words(path) if with_transcript else None
        cut = clips.cut_video(path, words, self.config, self.backend, self.reference)
        found = []
        for segment in cut.segments:
            frames = segment.placed.window.frame_indices
            face = segment.placed.face
            found.append((segment, face.points(frames), face.points(frames, "fitted"),
                          face.fitted(frames)))
        return found, cut.num_frames

    def frames_with_face(self, path: str) -> tuple[int, int]:
        from pipelines.preprocess import clipping

        tracked = clipping.track_video(path, self.config, self.backend, None)
        return tracked.faces.frames_with_face, tracked.faces.decoded_frames


def _metrics(frames, smoothed, raw, fitted) -> dict:
    from pipelines.preprocess.quality import measure_quality

    return dataclasses.asdict(measure_quality(frames, smoothed, raw, fitted))


def real_rows(cutter: Cutter, name: str, paths: list[str]) -> list[dict]:
    rows = []
    for position, path in enumerate(paths):
        for segment, smoothed, raw, fitted in cutter.clips(path)[0]:
            rows.append({"set": name, "video": os.path.basename(path), "half": position % 2,
                         **_metrics(segment.frames, smoothed, raw, fitted)})
    return rows


def degraded_rows(cutter: Cutter, paths: list[str], scratch: str) -> dict[str, list[dict]]:
    import cv2

    from tests import media

    rng = np.random.default_rng(0)
    found = collections.defaultdict(list)
    for path in paths:
        for segment, smoothed, raw, fitted in cutter.clips(path)[0]:
            noisy = raw + rng.normal(0.0, NOISE_PX, raw.shape)
            found["noise_2px"].append(_metrics(segment.frames, smoothed, noisy, fitted))
            for sigma in BLURS:
                blurred = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in segment.frames])
                found[f"blur_{sigma}"].append(_metrics(blurred, smoothed, raw, fitted))
        half = media.h264(path, os.path.join(scratch, os.path.basename(path) + ".half.mp4"),
                          "scale=trunc(iw/4)*2:trunc(ih/4)*2")
        media.ffmpeg("-i", half, "-i", path, "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                     "-c:a", "aac", os.path.join(scratch, "half_av.mp4"))
        for segment, smoothed, raw, fitted in cutter.clips(os.path.join(scratch, "half_av.mp4"),
                                                           with_transcript=False)[0]:
            found["half_size"].append(_metrics(segment.frames, smoothed, raw, fitted))
    return found


def scale_sweep(cutter: Cutter, paths: list[str], scratch: str) -> list[dict]:
    from tests import media

    rows = []
    for scale in (1.0,) + SCALES:
        faced = total = 0
        eyes, jitters, sharpness = [], [], []
        for path in paths:
            video = path
            if scale < 1.0:
                silent = media.h264(path, os.path.join(scratch, "scaled.mp4"),
                                    f"scale=trunc(iw*{scale}/2)*2:trunc(ih*{scale}/2)*2")
                video = os.path.join(scratch, "scaled_av.mp4")
                media.ffmpeg("-i", silent, "-i", path, "-map", "0:v", "-map", "1:a?", "-c:v",
                             "copy", "-c:a", "aac", video)
            with_face, frames = cutter.frames_with_face(video)
            faced, total = faced + with_face, total + frames
            for segment, smoothed, raw, fitted in cutter.clips(video, with_transcript=False)[0]:
                metrics = _metrics(segment.frames, smoothed, raw, fitted)
                eyes.append(metrics["face_size"])
                jitters.append(metrics["jitter"])
                sharpness.append(metrics["sharpness"])
        rows.append({"scale": round(scale, 3), "frames_with_face": round(faced / max(total, 1), 3),
                     "clips": len(eyes),
                     "median_face_size": round(float(np.median(eyes)), 1) if eyes else None,
                     "median_jitter": round(float(np.median(jitters)), 4) if jitters else None,
                     "median_sharpness": (round(float(np.median(sharpness)), 1) if sharpness
                                          else None)})
    return rows


def _up(value: float, step: float) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 6)


def _down(value: float, step: float) -> float:
    return round(math.floor(value / step + 1e-9) * step, 6)


def choose(selection: list[dict], sweep: list[dict], floor: float) -> dict:
    big = [r for r in selection if r["face_size"] >= floor]
    jitter = _up(float(np.percentile([r["jitter"] for r in big], 100 * KEEP)), 0.001)
    yaw = min(_up(float(np.percentile([r["yaw"] for r in big], 100 * KEEP)), 0.05), 1.0)
    sharpness = _down(float(np.percentile([r["sharpness"] for r in big], 100 * (1 - KEEP))), 1.0)
    served = [r for r in sweep if r["frames_with_face"] >= 0.9 and r["median_jitter"] is not None
              and r["median_jitter"] <= jitter and r["median_sharpness"] >= 2 * sharpness]
    from pipelines.preprocess.mean_face import EYE_DISTANCE

    measured = min(r["median_face_size"] for r in served) if served else floor
    face = _up(max(measured, EYE_DISTANCE / MAX_UPSCALE), 5.0)
    return {"min_face_size": face, "max_yaw": yaw, "max_jitter": jitter,
            "max_interpolated_fraction": 0.5, "min_sharpness": sharpness}


def kept(rows: list[dict], thresholds: dict) -> dict:
    from pipelines.preprocess.quality import QualityMetrics, QualityThresholds, quality_failure

    rule = QualityThresholds(**thresholds)
    reasons = collections.Counter()
    for row in rows:
        metrics = QualityMetrics(**{f.name: row[f.name]
                                    for f in dataclasses.fields(QualityMetrics)})
        failure = quality_failure(metrics, rule)
        reasons[failure[0] if failure else "kept"] += 1
    large = [r for r in rows if r["face_size"] >= thresholds["min_face_size"]]
    kept_large = sum(1 for r in large if quality_failure(QualityMetrics(**{
        f.name: r[f.name] for f in dataclasses.fields(QualityMetrics)}), rule) is None)
    return {"clips": len(rows), "kept": reasons["kept"],
            "kept_share": round(reasons["kept"] / max(len(rows), 1), 3),
            "large_faces": len(large),
            "kept_share_of_large_faces": round(kept_large / max(len(large), 1), 3),
            "dropped_by_reason": {k: v for k, v in reasons.items() if k != "kept"}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", default=[], required=True,
                        help="a folder of real footage (searched recursively); repeat")
    parser.add_argument("--grid", required=True, help="a GRID speaker folder (video/, align/)")
    parser.add_argument("--grid-videos", type=int, default=20,
                        help="GRID recordings used, the first in name order (default 20)")
    add_output_argument(parser, DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    output = output_path(args.output, REPO, DEFAULT_OUTPUT)
    sys.path.insert(0, REPO)
    from pipelines.preprocess.quality import QualityThresholds

    started = datetime.datetime.now(datetime.timezone.utc)
    floor = QualityThresholds().min_face_size
    with stdout_to_stderr(), tempfile.TemporaryDirectory() as scratch:
        cutter = Cutter()
        grid = sorted(glob.glob(os.path.join(args.grid, "video", "*.mpg")))[:args.grid_videos]
        rows = real_rows(cutter, "grid", grid)
        sweep_paths = []
        for folder in args.input:
            paths = _videos(folder)
            rows += real_rows(cutter, os.path.basename(os.path.normpath(folder)), paths)
            sweep_paths += [p for p in paths if not p.endswith(".webm")]
        degraded = degraded_rows(cutter, grid, scratch)
        sweep = scale_sweep(cutter, sweep_paths, scratch)
    selection = [r for r in rows if r["half"] == 0]
    held_out = [r for r in rows if r["half"] == 1]
    chosen = choose(selection, sweep, floor)
    by_set = collections.defaultdict(list)
    for row in held_out:
        by_set[row["set"]].append(row)
    write_result(output, {
        "benchmark": "quality_thresholds", "date": started.isoformat(timespec="seconds"),
        "inputs": [os.path.basename(os.path.normpath(f)) for f in args.input],
        "grid_videos": len(grid), "keep_per_threshold": KEEP, "chosen": chosen,
        "defaults_in_code": dataclasses.asdict(QualityThresholds()),
        "selection": kept(selection, chosen), "held_out": kept(held_out, chosen),
        "held_out_by_set": {name: kept(r, chosen) for name, r in sorted(by_set.items())},
        "degraded_refused_share": {
            name: round(1 - kept(r, chosen)["kept_share"], 3) for name, r in degraded.items()},
        "scale_sweep": sweep,
        "percentiles_selection": {
            metric: [round(float(v), 4) for v in np.percentile(
                [r[metric] for r in selection if r["face_size"] >= floor], [3, 50, 97])]
            for metric in ("face_size", "yaw", "jitter", "interpolated_fraction", "sharpness")},
        "cpu": cpu_model(), "load_average_before": load_average()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
