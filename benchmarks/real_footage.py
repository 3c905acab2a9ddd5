"""Real footage: what the preprocess job and predict make of it, judged by a second model.

    .venv/bin/python benchmarks/real_footage.py --input DIR [--input DIR ...]
        [--tree PATH[=LABEL] ...] [--landmarks NAME ...] [--no-job]
        [--output benchmarks/results/real_footage.json]

Each `--input` folder is one set (its name is the folder's). Each `--tree` is a checkout of
lipflow to measure (default: this one), cut with each `--landmarks` backend (default: the
tree's own); every tree and backend is measured in one run, on one machine, one after the
other, with this tree's judges (a run is named LABEL or LABEL/BACKEND). For every run and
set:

- job: `lipflow preprocess` on the folder (the tree's own code, in a fresh process; only
  for sets with transcripts): words in the transcripts, clips written, the share written,
  dead letters by reason, wall seconds and source frames per second.
- faces: every frame of every video through the tree's tracker (its default landmark
  backend, or `--landmarks`): the share of frames with a face, and frames per second.
- crops: the clips the tree's clip-cutting library cuts, as `lipflow predict` cuts them
  (transcript words when the video has a transcript the tree reads, else its speech
  segments), and whether each passes the tree's quality filter. Each crop is judged by a
  landmark model other than the one that cut it, run over the same frames: its mouth
  centre (mean of points 48-67) mapped into the crop. `offset`: distance from the crop's
  centre per crop width (median over frames); `movement`: frame-to-frame movement of
  that centre per crop width (mean over a clip's frames; 90th percentile over clips).
  Both judges (dlib and mesh) are reported; `judge` names the one that is not the cutter.
- speech: predict's speech segments on the video without its transcript, against a
  reference: the transcript's word times (GRID .align, LRS tables), the words of a
  sentence-only transcript aligned to the audio, or, for a video without a transcript,
  the words pocketsphinx's recogniser finds (its own language model: another method than
  the voice-activity detector measured). `coverage`: share of reference speech frames
  inside predicted speech; `precision`: share of predicted speech frames inside the
  reference.

Only the JSON result goes to stdout.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_utils import (  # beside this script
    add_output_argument, cpu_model, load_average, output_path,
    stdout_to_stderr, write_result)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = "benchmarks/results/real_footage.json"
VIDEO_SUFFIXES = (".mp4", ".webm", ".mpg", ".mkv", ".mov", ".avi")
MOUTH = slice(48, 68)
FPS = 25.0
JUDGES = ("dlib", "mesh")


def _videos(folder: str) -> list[str]:
    found = [p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
             if p.lower().endswith(VIDEO_SUFFIXES)]
    return sorted(found)


# ---------------------------------------------------------------- worker (tree under test)

def _cut_segments(path, words, config, backend, reference):
    """Every clip the tree's library cuts from one video, with what a judge needs."""
    from pipelines.preprocess.alignment import mouth_crop_transform
    from pipelines.preprocess.quality import QualityThresholds, measure_quality, \
        quality_failure
    from pipelines.predict import clips

    cut = clips.cut_video(path, words, config, backend, reference)
    rows = []
    for segment in cut.segments:
        frames = segment.placed.window.frame_indices
        face = segment.placed.face
        smoothed = face.points(frames)
        transforms = np.stack([mouth_crop_transform(p, reference, config.crop_size)
                               for p in smoothed])
        fitted = face.fitted(frames)
        metrics = measure_quality(segment.frames, smoothed, face.points(frames, "fitted"), fitted)
        failure = quality_failure(metrics, QualityThresholds())
        rows.append({"kind": segment.kind, "start": segment.start, "end": segment.end,
                     "frames": frames.tolist(), "transforms": transforms.tolist(),
                     "mouth": smoothed[:, MOUTH].mean(axis=1).tolist(),
                     "eye": float(np.median(np.linalg.norm(smoothed[:, 45] - smoothed[:, 36],
                                                           axis=-1))),
                     "quality": failure[0] if failure else None})
    skipped = collections.Counter(s.reason for s in cut.skipped)
    spans = [(s.start, s.end) for s in cut.segments] + [
        (s.start, s.end) for s in cut.skipped if s.index >= 0]
    return cut, rows, dict(skipped), spans


def _read_words(path, aligner):
    from pipelines.preprocess.errors import RecordError
    from pipelines.predict import clips

    transcript = clips.find_transcript(path)
    if transcript is None:
        return None, None
    try:
        return clips.read_transcript(path, transcript, aligner), None
    except RecordError as err:
        return None, f"{err.reason}: {err.detail}"


def _loaded_aligner():
    """The forced aligner that predict takes in the tree under test: TranscriptAligner, or
    in trees older than it the align-subtitles DoFn, set up."""
    try:
        from pipelines.preprocess.transcript_alignment import TranscriptAligner
    except ImportError:
        from pipelines.preprocess.align_subtitles import AlignSubtitlesFn

        aligner = AlignSubtitlesFn()
        aligner.setup()
        return aligner
    aligner = TranscriptAligner()
    aligner.load()
    return aligner


def worker(videos: list[str], landmarks: str | None, output: str) -> None:
    """Runs inside the tree under test (its `pipelines` first on sys.path)."""
    import dataclasses

    from pipelines.preprocess import clipping
    from pipelines.preprocess.config import PreprocessConfig
    from pipelines.preprocess.landmarks import make_backend
    from pipelines.preprocess.mean_face import mean_face

    config = PreprocessConfig()
    if landmarks:
        config = dataclasses.replace(config, landmarks=landmarks)
    backend = make_backend(config.landmarks)
    backend.load()
    aligner = _loaded_aligner()
    reference = mean_face()
    result = {"landmarks": config.landmarks, "videos": {}}
    for path in videos:
        started = time.perf_counter()
        tracked = clipping.track_video(path, config, backend, None)
        seconds = time.perf_counter() - started
        faces = tracked.faces
        words, transcript_error = _read_words(path, aligner)
        _, rows, skipped, speech_spans = _cut_segments(path, words, config, backend, reference)
        if words is not None:  # predict's speech segments, as on the video without transcript
            _, _, _, speech_spans = _cut_segments(path, None, config, backend, reference)
        job = words.job if words is not None else None
        aligned = [(w.start, w.end) for w in job.transcript.words] if job is not None else []
        result["videos"][path] = {
            "frames": faces.decoded_frames, "frames_with_face": faces.frames_with_face,
            "track_seconds": seconds, "video_start": faces.video_start,
            "transcript_error": transcript_error, "segments": rows, "skipped": skipped,
            "speech_spans": speech_spans, "transcript_words": aligned,
            "transcript_source": None if job is None else job.transcript.format,
            "transcript_failures": [] if words is None else [r for r, _ in words.failures]}
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


# ---------------------------------------------------------------- judges (this tree)

class Judge:
    """Raw landmarks of every face on every frame of a video, by one backend."""

    def __init__(self, name: str):
        from pipelines.preprocess.config import PreprocessConfig
        from pipelines.preprocess.landmarks import make_backend

        self.name = name
        self._config = PreprocessConfig()
        self._backend = make_backend(name)
        self._backend.load()
        self._cache: dict[str, dict[int, list[np.ndarray]]] = {}

    def faces(self, path: str) -> dict[int, list[np.ndarray]]:
        """Video frame -> the [68, 2] points of each face fitted there."""
        from pipelines.preprocess import clipping

        if path not in self._cache:
            tracked = clipping.track_video(path, self._config, self._backend, None)
            by_frame: dict[int, list[np.ndarray]] = collections.defaultdict(list)
            for track in tracked.faces.faces:
                for offset in np.flatnonzero(track.fitted):
                    by_frame[track.first_frame + int(offset)].append(track.points[offset])
            self._cache = {path: by_frame}  # one video at a time: the judge's memory stays small
        return self._cache[path]


def judge_segment(segment: dict, faces: dict[int, list[np.ndarray]],
                  crop_size: int) -> dict | None:
    """Offsets (per frame) and movements (per pair of consecutive frames) of the judge's
    mouth centre in the crop, in crop widths; frames repeated by padding count once."""
    centre = (crop_size - 1) / 2.0
    placed, previous_frame = [], None
    for frame, transform, mouth in zip(segment["frames"], segment["transforms"],
                                       segment["mouth"]):
        if frame == previous_frame:
            continue
        previous_frame = frame
        candidates = [p[MOUTH].mean(axis=0) for p in faces.get(frame, [])]
        if not candidates:
            placed.append(None)
            continue
        nearest = min(candidates, key=lambda m: np.linalg.norm(m - mouth))
        if np.linalg.norm(nearest - mouth) > 0.5 * segment["eye"]:
            placed.append(None)  # the judge sees another face, not this one
            continue
        matrix = np.asarray(transform)
        placed.append(matrix[:, :2] @ nearest + matrix[:, 2])
    seen = [p for p in placed if p is not None]
    if not seen:
        return None
    offsets = [float(np.linalg.norm(p - centre) / crop_size) for p in seen]
    moves = [float(np.linalg.norm(b - a) / crop_size) for a, b in zip(placed, placed[1:])
             if a is not None and b is not None]
    return {"offsets": offsets, "movement": float(np.mean(moves)) if moves else None,
            "frames_judged": len(seen), "frames": len(placed)}


def _crop_summary(judged: list[dict]) -> dict:
    offsets = [o for j in judged for o in j["offsets"]]
    moves = [j["movement"] for j in judged if j["movement"] is not None]
    frames = sum(j["frames"] for j in judged)
    return {"clips": len(judged),
            "frames_judged": sum(j["frames_judged"] for j in judged), "frames": frames,
            "median_offset": round(float(np.median(offsets)), 4) if offsets else None,
            "p90_offset": round(float(np.percentile(offsets, 90)), 4) if offsets else None,
            "median_clip_movement": round(float(np.median(moves)), 4) if moves else None,
            "p90_clip_movement": round(float(np.percentile(moves, 90)), 4) if moves else None}


# ---------------------------------------------------------------- speech reference

def _recognised_speech(path: str) -> list[tuple[float, float]]:
    """Word times that pocketsphinx's recogniser (its language model) finds in the audio."""
    from pocketsphinx import Decoder

    from pipelines.preprocess.audio import decode_audio

    samples = decode_audio(path, 16000)
    decoder = Decoder(loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(samples.astype("<i2").tobytes(), full_utt=True)
    decoder.end_utt()
    return [(s.start_frame / 100, (s.end_frame + 1) / 100) for s in decoder.seg()
            if s.word not in ("<s>", "</s>", "<sil>") and not s.word.startswith(("[", "+"))]


def _frames_of(spans, start: float, count: int) -> np.ndarray:
    flags = np.zeros(count, dtype=bool)
    for a, b in spans:
        flags[max(int(round((a - start) * FPS)), 0):max(int(round((b - start) * FPS)), 0)] = True
    return flags


def speech_scores(video: dict, reference: list[tuple[float, float]]) -> dict:
    count = video["frames"]
    truth = _frames_of(reference, 0.0, count)
    found = _frames_of(video["speech_spans"], 0.0, count)
    return {"reference_frames": int(truth.sum()), "predicted_frames": int(found.sum()),
            "covered_frames": int((truth & found).sum())}


# ---------------------------------------------------------------- one tree, one set

def run_job(tree: str, folder: str, landmarks: str | None) -> dict:
    with tempfile.TemporaryDirectory() as output:
        command = [sys.executable, "-m", "lipflow", "preprocess", "--input", folder,
                   "--output", os.path.join(output, "data")]
        if landmarks:
            command += ["--landmarks", landmarks]
        env = dict(os.environ, PYTHONPATH=tree)
        started = time.perf_counter()
        child = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True,
                               check=False)
        wall = time.perf_counter() - started
        manifest_path = os.path.join(output, "data", "manifest.json")
        if not os.path.isfile(manifest_path):
            return {"error": f"exit {child.returncode}: {child.stderr[-1500:]}"}
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    words = manifest["words"]
    return {"exit_code": child.returncode, "words": words["seen"], "written": words["written"],
            "share_written": round(words["written"] / max(words["seen"], 1), 3),
            "dead_letters_by_reason": manifest.get("failed_words", {}),
            "clips_per_video": manifest.get("clips_per_video", {}),
            "wall_seconds": round(wall, 1)}


def run_worker(tree: str, videos: list[str], landmarks: str | None) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        listing, output = os.path.join(scratch, "videos.json"), os.path.join(scratch, "out.json")
        with open(listing, "w", encoding="utf-8") as handle:
            json.dump(videos, handle)
        command = [sys.executable, os.path.abspath(__file__), "--worker", listing,
                   "--worker-output", output]
        if landmarks:
            command += ["--landmarks", landmarks]
        env = dict(os.environ, PYTHONPATH=tree)
        child = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True,
                               check=False)
        if child.returncode != 0:
            raise RuntimeError(f"worker failed in {tree}: {child.stderr[-3000:]}")
        with open(output, encoding="utf-8") as handle:
            return json.load(handle)


def _reference_speech(path: str, video: dict) -> tuple[str, list]:
    if video["transcript_words"]:
        return video["transcript_source"], [(a - video["video_start"], b - video["video_start"])
                                            for a, b in video["transcript_words"]]
    return "recognised", _recognised_speech(path)


def measure_set(tree: str, folder: str, landmarks: str | None, judges: dict, job: bool,
                crop_size: int) -> dict:
    videos = _videos(folder)
    try:
        cut = run_worker(tree, videos, landmarks)
    except RuntimeError as err:  # a tree without this backend, say: the run says so
        return {"error": str(err).strip().splitlines()[-1][-300:]}
    cutter = cut["landmarks"]
    per_video, judged = {}, {name: {"all": [], "kept": []} for name in judges}
    speech = collections.Counter()
    skipped = collections.Counter()
    reference_kinds = collections.Counter()
    for path in videos:
        video = cut["videos"][path]
        skipped.update(video["skipped"])
        for name, judge in judges.items():
            faces = judge.faces(path)
            for segment in video["segments"]:
                verdict = judge_segment(segment, faces, crop_size)
                if verdict is None:
                    continue
                judged[name]["all"].append(verdict)
                if segment["quality"] is None:
                    judged[name]["kept"].append(verdict)
        kind, reference = _reference_speech(path, video)
        reference_kinds[kind] += 1
        scores = speech_scores(video, reference)
        speech.update(scores)
        per_video[os.path.relpath(path, folder)] = {
            "frames": video["frames"], "frames_with_face": video["frames_with_face"],
            "clips_cut": len(video["segments"]),
            "clips_passing_quality": sum(s["quality"] is None for s in video["segments"]),
            "quality_failures": dict(collections.Counter(
                s["quality"] for s in video["segments"] if s["quality"])),
            "not_cut": video["skipped"], "transcript_error": video["transcript_error"],
            "speech_coverage": (round(scores["covered_frames"] / scores["reference_frames"], 3)
                                if scores["reference_frames"] else None)}
    frames = sum(v["frames"] for v in cut["videos"].values())
    seconds = sum(v["track_seconds"] for v in cut["videos"].values())
    other = [name for name in judges if name != cutter]
    result = {
        "landmarks": cutter, "videos": len(videos),
        "faces": {"frames": frames,
                  "frames_with_face": sum(v["frames_with_face"] for v in cut["videos"].values()),
                  "share": round(sum(v["frames_with_face"] for v in cut["videos"].values())
                                 / max(frames, 1), 4),
                  "tracking_frames_per_second": round(frames / max(seconds, 1e-9), 1)},
        "crops": {"judge": other[0] if other else None,
                  "cut": sum(len(v["segments"]) for v in cut["videos"].values()),
                  "passing_quality": sum(s["quality"] is None for v in cut["videos"].values()
                                         for s in v["segments"]),
                  "quality_failures": dict(collections.Counter(
                      s["quality"] for v in cut["videos"].values() for s in v["segments"]
                      if s["quality"])),
                  "not_cut": dict(skipped),
                  "by_judge": {name: {"all": _crop_summary(j["all"]),
                                      "passing_quality": _crop_summary(j["kept"])}
                               for name, j in judged.items()}},
        "speech": {"reference": dict(reference_kinds), **dict(speech),
                   "coverage": (round(speech["covered_frames"] / speech["reference_frames"], 3)
                                if speech["reference_frames"] else None),
                   "precision": (round(speech["covered_frames"] / speech["predicted_frames"], 3)
                                 if speech["predicted_frames"] else None)},
        "per_video": per_video,
        "_verdicts": {name: j["all"] for name, j in judged.items()}}
    if job and any(v["transcript_source"] or v["transcript_error"] or v["transcript_failures"]
                   for v in cut["videos"].values()):
        result["job"] = run_job(tree, folder, landmarks)
        if "wall_seconds" in result["job"]:
            result["job"]["source_frames_per_second"] = round(
                frames / result["job"]["wall_seconds"], 1)
    return result


def pooled(sets: dict, names: list[str]) -> dict:
    """The named sets of one run taken together: words, faces and the crops' summaries over
    all their clips. Takes every set's per-clip verdicts out of it (they are not kept)."""
    verdicts = {name: found.pop("_verdicts") for name, found in sets.items()
                if "_verdicts" in found}
    names = [name for name in names if name in verdicts]
    if not names:
        return {}
    found = [sets[name] for name in names]
    jobs = [f["job"] for f in found if "words" in f.get("job", {})]
    frames = sum(f["faces"]["frames"] for f in found)
    result = {"sets": names, "judge": found[0]["crops"]["judge"],
              "faces_share": round(sum(f["faces"]["frames_with_face"] for f in found)
                                   / max(frames, 1), 4),
              "crops_by_judge": {judge: _crop_summary([v for name in names
                                                       for v in verdicts[name][judge]])
                                 for judge in JUDGES}}
    if jobs:
        words, written = sum(j["words"] for j in jobs), sum(j["written"] for j in jobs)
        result["job"] = {"words": words, "written": written,
                         "share_written": round(written / max(words, 1), 3)}
    return result


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def table(result: dict) -> str:
    """The table of a result, as docs/real_footage.md shows it: one row per run and set."""
    rows = ["| run | set | words written (job) | faces found | crop offset, median | "
            "clip movement, 90th pct | speech coverage | tracking frames/s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run, sets in result["results"].items():
        for name, found in sets.items():
            if name == "pooled":
                crops = found["crops_by_judge"][found["judge"]]
                job = found.get("job")
                words = (f"{job['written']} of {job['words']} ({_percent(job['share_written'])})"
                         if job else "-")
                rows.append(f"| {run} | {' + '.join(found['sets'])} | {words} | "
                            f"{_percent(found['faces_share'])} | "
                            f"{_percent(crops['median_offset'])} | "
                            f"{_percent(crops['p90_clip_movement'])} | | |")
                continue
            if "error" in found:
                rows.append(f"| {run} | {name} | (this checkout has no such backend) "
                            "| | | | | |")
                continue
            job = found.get("job", {})
            words = (f"{job['written']} of {job['words']} ({_percent(job['share_written'])})"
                     if "words" in job else "-")
            crops = found["crops"]
            judged = crops["by_judge"].get(crops["judge"], {}).get("all", {})
            rows.append(
                f"| {run} | {name} | {words} | {_percent(found['faces']['share'])} | "
                f"{_percent(judged.get('median_offset'))} | "
                f"{_percent(judged.get('p90_clip_movement'))} | "
                f"{_percent(found['speech']['coverage'])} | "
                f"{found['faces']['tracking_frames_per_second']:.0f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", default=[],
                        help="a folder of videos (with or without transcripts); repeat")
    parser.add_argument("--tree", action="append", default=[],
                        help="a lipflow checkout to measure, as PATH or PATH=LABEL (default: "
                             "this one); repeat to compare trees in one run")
    parser.add_argument("--landmarks", nargs="+", default=[None],
                        help="landmark backends each tree cuts with, one run each (default: "
                             "each tree's own)")
    parser.add_argument("--no-job", dest="job", action="store_false",
                        help="skip the preprocess job runs")
    add_output_argument(parser, DEFAULT_OUTPUT)
    parser.add_argument("--pool", nargs="*", default=[],
                        help="set names also summarised together, per run (e.g. the real "
                             "footage folders, without GRID)")
    parser.add_argument("--table", default=None, metavar="RESULT",
                        help="only print the markdown table of a result file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        with open(args.worker, encoding="utf-8") as handle:
            videos = json.load(handle)
        with stdout_to_stderr():
            worker(videos, args.landmarks[0], args.worker_output)
        return 0
    if args.table:
        with open(args.table, encoding="utf-8") as handle:
            print(table(json.load(handle)))
        return 0
    if not args.input:
        parser.error("give at least one --input folder")
    missing = [f for f in args.input if not os.path.isdir(f)]
    if missing:
        parser.error(f"not a folder: {', '.join(missing)}")
    trees = [t.split("=", 1) if "=" in t else (t, os.path.basename(os.path.abspath(t)))
             for t in (args.tree or [REPO])]
    output = output_path(args.output, REPO, DEFAULT_OUTPUT)
    sys.path.insert(0, REPO)
    from pipelines.preprocess.config import PreprocessConfig

    crop_size = PreprocessConfig().crop_size
    started = datetime.datetime.now(datetime.timezone.utc)
    runs = [(path, label if landmarks is None else f"{label}/{landmarks}", landmarks)
            for path, label in trees for landmarks in args.landmarks]
    with stdout_to_stderr():
        judges = {name: Judge(name) for name in JUDGES}
        results = {}
        for path, run, landmarks in runs:
            results[run] = {}
            for folder in args.input:
                name = os.path.basename(os.path.normpath(folder))
                print(f"{run}: {name}", file=sys.stderr)
                results[run][name] = measure_set(os.path.abspath(path), os.path.abspath(folder),
                                                 landmarks, judges, args.job, crop_size)
            together = pooled(results[run], args.pool)  # also drops the per-clip verdicts
            if together:
                results[run]["pooled"] = together
    write_result(output, {
        "benchmark": "real_footage", "date": started.isoformat(timespec="seconds"),
        "inputs": [os.path.basename(os.path.normpath(f)) for f in args.input],
        "trees": {label: os.path.relpath(os.path.abspath(path), REPO)
                  if os.path.abspath(path).startswith(REPO) else label
                  for path, label in trees},
        "cpu": cpu_model(), "load_average_before": load_average(), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
