"""lipflow predict: voice activity against GRID word alignments, and seconds per short clip.

    .venv/bin/python benchmarks/predict.py [--model EXPORT_DIR]
        [--output benchmarks/results/predict.json]

- voice_activity: on each of the 20 sample clips, the speech segments that predict
  finds from the audio alone (pipelines/predict/segments.py) against the clip's GRID
  alignment: error of the first segment's start and the last segment's end against the
  first word's start and the last word's end, the share of word frames inside speech
  (recall) and of speech frames inside the sentence (precision).
- with --model: `lipflow predict` on one clip in a fresh process (wall seconds, start-up
  included), and the per-video seconds of `Predictor.predict` in-process over the 20 clips
  (transcript words; then the same clips alone in a folder, speech segments), on CPU.

Only the JSON result goes to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench_utils import (cpu_model, load_average, stdout_to_stderr,  # beside this script
                         write_result)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(REPO, "data", "sample", "grid_s1")
DEFAULT_OUTPUT = "benchmarks/results/predict.json"
FPS = 25.0


def _words(stem: str):
    from pipelines.preprocess.transcripts import parse_transcript

    with open(os.path.join(SAMPLE, "align", f"{stem}.align"), "rb") as handle:
        return parse_transcript(handle.read(), f"{stem}.align").words


def voice_activity() -> dict:
    import numpy as np

    from pipelines.preprocess.audio import SAMPLE_RATE, decode_audio
    from pipelines.predict.segments import speech_segments, voiced_frames

    rows = []
    for video in sorted(glob.glob(os.path.join(SAMPLE, "video", "*.mpg"))):
        stem = os.path.splitext(os.path.basename(video))[0]
        samples = decode_audio(video)
        frames = int(len(samples) / SAMPLE_RATE * FPS)
        found = speech_segments(voiced_frames(samples, SAMPLE_RATE, FPS, frames))
        speech = np.zeros(frames, bool)
        for first, end in found:
            speech[first:end] = True
        words = np.zeros(frames, bool)
        for word in _words(stem):
            words[int(round(word.start * FPS)):int(round(word.end * FPS))] = True
        sentence = np.zeros(frames, bool)
        first_word, last_word = _words(stem)[0].start, _words(stem)[-1].end
        sentence[int(round(first_word * FPS)):int(round(last_word * FPS))] = True
        rows.append({
            "clip": stem, "segments": [[a / FPS, b / FPS] for a, b in found],
            "start_error_s": round(found[0][0] / FPS - first_word, 3) if found else None,
            "end_error_s": round(found[-1][1] / FPS - last_word, 3) if found else None,
            "word_frames_in_speech": round(float(speech[words].mean()), 3),
            "speech_frames_in_sentence": (round(float(sentence[speech].mean()), 3)
                                          if speech.any() else None)})
    starts = np.abs([r["start_error_s"] for r in rows if r["start_error_s"] is not None])
    ends = np.abs([r["end_error_s"] for r in rows if r["end_error_s"] is not None])
    return {"clips": len(rows), "clips_with_speech": int(len(starts)),
            "median_abs_start_error_s": round(float(np.median(starts)), 3),
            "median_abs_end_error_s": round(float(np.median(ends)), 3),
            "boundaries_within_0.1_s": round(float(np.mean(np.concatenate(
                [starts, ends]) <= 0.1 + 1e-9)), 3),
            "mean_word_frames_in_speech": round(float(np.mean(
                [r["word_frames_in_speech"] for r in rows])), 3),
            "mean_speech_frames_in_sentence": round(float(np.mean(
                [r["speech_frames_in_sentence"] for r in rows
                 if r["speech_frames_in_sentence"] is not None])), 3),
            "per_clip": rows}


def command_seconds(model: str, video: str) -> dict:
    with tempfile.TemporaryDirectory() as output:
        started = time.perf_counter()
        child = subprocess.run([sys.executable, "-m", "lipflow", "predict", video, "--model",
                                model, "--output", output], cwd=REPO, capture_output=True,
                               text=True, check=False)
        wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"lipflow predict failed: {child.stderr[-2000:]}")
    return {"video": os.path.relpath(video, REPO), "wall_seconds": round(wall, 2),
            "note": "a fresh process: interpreter, TensorFlow import, model and landmark "
                    "model load, then one 3-second clip"}


def in_process_seconds(model: str) -> dict:
    from pipelines.predict.predictor import Predictor

    started = time.perf_counter()
    predictor = Predictor(model)
    loaded = time.perf_counter() - started
    videos = sorted(glob.glob(os.path.join(SAMPLE, "video", "*.mpg")))
    result = {"load_seconds": round(loaded, 2), "videos": len(videos)}
    with tempfile.TemporaryDirectory() as alone:
        bare = [shutil.copy(v, alone) for v in videos]
        for name, paths in (("transcript_words", videos), ("speech_segments", bare)):
            started, segments, frames = time.perf_counter(), 0, 0
            for video in paths:
                prediction = predictor.predict(video)
                segments += len(prediction.clips.segments)
                frames += prediction.clips.num_frames
            seconds = time.perf_counter() - started
            result[name] = {"segments": segments, "frames": frames,
                            "seconds_per_video": round(seconds / len(paths), 3),
                            "frames_per_second": round(frames / seconds, 1)}
    return result


def model_facts(model: str) -> dict:
    import keras

    import trainer.models  # noqa: F401  (registers the custom layers model.keras holds)

    loaded = keras.saving.load_model(os.path.join(model, "model.keras"), compile=False)
    facts = {"parameters": int(loaded.count_params())}
    summary = os.path.join(os.path.dirname(os.path.abspath(model)), "train_summary.json")
    if os.path.isfile(summary):
        with open(summary, encoding="utf-8") as handle:
            run = json.load(handle)
        facts.update(model=run["config"]["model"], epochs_run=run["epochs_run"],
                     classes=run["classes"])
    return facts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="an export folder to time predict with")
    parser.add_argument("--output", default=None,
                        help=f"JSON file to write (default: {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    output = os.path.abspath(args.output or os.path.join(REPO, DEFAULT_OUTPUT))
    sys.path.insert(0, REPO)
    os.chdir(REPO)
    with stdout_to_stderr():
        before = load_average()
        result = {"benchmark": "predict",
                  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                      timespec="seconds"),
                  "input": os.path.relpath(SAMPLE, REPO), "voice_activity": voice_activity()}
        if args.model:
            result["model"] = model_facts(args.model)
            result["command"] = command_seconds(args.model,
                                                os.path.join(SAMPLE, "video", "bbaf3s.mpg"))
            result["in_process"] = in_process_seconds(args.model)
        import tensorflow as tf

        result["machine"] = {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
                             "gpus": len(tf.config.list_physical_devices("GPU")),
                             "load_average_1min": {"before": before,
                                                                "after": load_average()}}
    write_result(output, result, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
