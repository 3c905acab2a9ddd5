"""Broadcast benchmark: a programme built from GRID recordings, subtitles only, through the job.

    .venv/bin/python benchmarks/broadcast.py [--grid DIR] [--segments 16]
        [--memory-minutes 10 60] [--job-flag=--FLAG=VALUE ...]
        [--output benchmarks/results/broadcast.json]

The programme: `--segments` segments of 3.003 s (90 frames at 29.97 fps), 1280x720,
joined by hard cuts. Even segments show one talking face (scaled to 720 lines, centred);
odd ones a split screen of two recordings of the same speaker, each 640x512, with the
audio of one of them (the speaking side alternates left and right). The transcript is
an SRT file beside the video: one cue per segment holding the speaker's sentence, cue
times from the first word's start to the last word's end, no word times. The job
(`lipflow preprocess`, DirectRunner in_memory, one worker) must recover word times by
forced alignment, find the cuts, track both faces and crop the speaking one.

Printed as JSON (and written to --output):
- words_written / words_spoken (target >= 0.90);
- recovered_within_2_frames: share of word boundaries (start and end of each written
  clip) within 2 frames (80 ms) of the GRID alignment (target >= 0.90);
- split_screen_speaking_face: share of clips from split-screen segments whose mouth
  landmarks lie on the speaking side (target >= 0.95);
- clips_holding_two_shots: clips whose frames come from two segments (target 0);
- source frames per CPU-second of the job's process tree (start-up included), which on
  one worker is frames/s per core;
- with --memory-minutes: a worker's peak resident memory on programmes of those lengths,
  made by repeating the programme (one copy in --memory-subtitle-every subtitled, at
  every length): the per-video stages (parse, align, plan chunks, track, crop, encode)
  run in one process on the whole programme, clips dropped once encoded (the target: the
  two peaks differ by less than 20%). The whole job on the local runner is not what is
  measured there: that runner passes every clip between the dataset stages in memory,
  so it grows with the clips written whatever the programme's length.

`--job-flag` passes a flag to every job run (a setting to compare against the default,
e.g. `--job-flag=--detect_every=10`); the flags are recorded in the result.

The GRID recordings default to the 20 embedded in data/sample/grid_s1 (same speaker,
same studio: the hardest case for telling two faces apart).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench_utils import (cpu_model, load_average, pin_to_one_core, result_text,  # noqa: E402
                         write_result)

SEGMENT_FRAMES = 90
OUTPUT_FPS = "30000/1001"
SEGMENT_SECONDS = SEGMENT_FRAMES * 1001 / 30000  # 3.003 s
JOB_FPS = 25.0
TWO_FRAMES = 2 / JOB_FPS
WIDTH, HEIGHT = 1280, 720
TARGET_MARGINAL_PER_CORE = 100.0  # source frames/s per core at the margin, 1280x720
TARGETS = {"words_written_share": 0.90, "recovered_within_2_frames": 0.90,
           "split_screen_speaking_face": 0.95, "clips_holding_two_shots": 0}


def grid_words(align_path: str) -> list[tuple[str, float, float]]:
    """(word, start, end) in seconds from a GRID .align file, silences dropped."""
    words = []
    with open(align_path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) == 3 and fields[2] not in ("sil", "sp"):
                words.append((fields[2], int(fields[0]) / 25000, int(fields[1]) / 25000))
    return words


def recordings(grid: str) -> list[tuple[str, str]]:
    videos = sorted(glob.glob(os.path.join(grid, "video", "*.mpg")))
    pairs = [(v, os.path.join(grid, "align", os.path.basename(v)[:-4] + ".align"))
             for v in videos]
    return [(v, a) for v, a in pairs if os.path.exists(a)]


def plan_segments(sources: list[tuple[str, str]], count: int, seed: int = 7) -> list[dict]:
    """Which recordings each segment shows, who speaks and on which side."""
    rng = random.Random(seed)
    order = sources[:]
    rng.shuffle(order)
    segments = []
    for k in range(count):
        speaker = order[(2 * k) % len(order)]
        if k % 2 == 0:
            segments.append({"kind": "single", "speaker": speaker, "side": None})
            continue
        other = order[(2 * k + 1) % len(order)]
        side = "left" if (k // 2) % 2 == 0 else "right"
        segments.append({"kind": "split", "speaker": speaker, "other": other, "side": side})
    return segments


def _segment_filters(k: int, segment: dict, inputs: list[str]) -> str:
    """Filter graph text giving [vK] and [aK] for segment k (inputs appended to `inputs`)."""
    def add(path):
        inputs.append(path)
        return len(inputs) - 1

    speaker = add(segment["speaker"][0])
    finish = (f"fps={OUTPUT_FPS},tpad=stop_mode=clone:stop={SEGMENT_FRAMES},"
              f"trim=end_frame={SEGMENT_FRAMES},setpts=PTS-STARTPTS,setsar=1,format=yuv420p")
    audio = (f"[{speaker}:a:0]aresample=44100,aformat=channel_layouts=stereo,apad,"
             f"atrim=end={SEGMENT_SECONDS:.6f},asetpts=PTS-STARTPTS[a{k}]")
    if segment["kind"] == "single":
        video = (f"[{speaker}:v:0]scale=-2:{HEIGHT},pad={WIDTH}:{HEIGHT}:(ow-iw)/2:0,"
                 f"{finish}[v{k}]")
        return f"{video};{audio}"
    other = add(segment["other"][0])
    left, right = (speaker, other) if segment["side"] == "left" else (other, speaker)
    half = f"scale={WIDTH // 2}:512,pad={WIDTH // 2}:{HEIGHT}:0:(oh-ih)/2"
    video = (f"[{left}:v:0]{half}[l{k}];[{right}:v:0]{half}[r{k}];"
             f"[l{k}][r{k}]hstack=inputs=2,{finish}[v{k}]")
    return f"{video};{audio}"


def render_programme(segments: list[dict], target: str, ffmpeg: str) -> None:
    inputs: list[str] = []
    graphs = [_segment_filters(k, s, inputs) for k, s in enumerate(segments)]
    streams = "".join(f"[v{k}][a{k}]" for k in range(len(segments)))
    graph = ";".join(graphs) + f";{streams}concat=n={len(segments)}:v=1:a=1[v][a]"
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for path in inputs:
        command += ["-i", path]
    command += ["-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-r", OUTPUT_FPS,
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60",
                "-c:a", "aac", "-b:a", "128k", target]
    subprocess.run(command, check=True)


def truth(segments: list[dict], repeats: int = 1, every: int = 1) -> list[dict]:
    """Every subtitled word in programme order: word, times on the programme clock, segment.

    With `repeats` copies of the programme, copies 0, every, 2 * every, ... are subtitled.
    """
    words = []
    for copy in range(0, repeats, every):
        for k, segment in enumerate(segments):
            offset = (copy * len(segments) + k) * SEGMENT_SECONDS
            for word, start, end in grid_words(segment["speaker"][1]):
                words.append({"word": word, "start": start + offset, "end": end + offset,
                              "segment": copy * len(segments) + k, "kind": segment["kind"],
                              "side": segment["side"]})
    return words


def _srt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def write_srt(words: list[dict], path: str) -> None:
    """One cue per segment: the sentence, from its first word's start to its last word's end."""
    cues: dict[int, list[dict]] = {}
    for word in words:
        cues.setdefault(word["segment"], []).append(word)
    with open(path, "w", encoding="utf-8") as handle:
        for number, segment in enumerate(sorted(cues), start=1):
            sentence = cues[segment]
            handle.write(f"{number}\n{_srt_time(sentence[0]['start'])} --> "
                         f"{_srt_time(sentence[-1]['end'])}\n"
                         f"{' '.join(w['word'] for w in sentence).upper()}\n\n")


def repeat_programme(programme: str, repeats: int, target: str, ffmpeg: str,
                     seconds: float) -> None:
    """The programme `repeats` times in a row: video copied, sound re-encoded once.

    Each copy is declared `seconds` long, so copies sit exactly where the subtitles put
    them. The sound is the programme's own, decoded (the codec's priming removed) and
    looped, then encoded once: copying the coded sound of each copy would carry every
    copy's priming (about 23 ms) into the programme and move the speech off its lips.
    """
    listing, sound = target + ".txt", target + ".wav"
    with open(listing, "w", encoding="utf-8") as handle:
        handle.writelines(f"file '{programme}'\nduration {seconds:.6f}\n"
                          for _ in range(repeats))
    quiet = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*quiet, "-i", programme, "-map", "0:a:0", "-t", f"{seconds:.6f}",
                    "-c:a", "pcm_s16le", sound], check=True)
    subprocess.run([*quiet, "-f", "concat", "-safe", "0", "-i", listing,
                    "-stream_loop", str(repeats - 1), "-i", sound, "-map", "0:v:0",
                    "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
                    "-t", f"{repeats * seconds:.6f}", target], check=True)
    os.remove(listing)
    os.remove(sound)


JOB_FLAGS: list[str] = []  # --job-flag: extra flags for every lipflow preprocess run


def run_job(folder: str, output: str) -> dict:
    """Runs lipflow preprocess on one worker; wall time, CPU time and peak memory."""
    command = [os.path.join(REPO, ".venv", "bin", "lipflow"), "preprocess", "--input", folder,
               "--output", output, "--direct_running_mode", "in_memory",
               "--direct_num_workers", "1", "--train_fraction", "1.0", "--val_fraction", "0.0",
               "--max_failure_fraction", "1.0", *JOB_FLAGS]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"lipflow preprocess failed ({result.returncode}): "
                           f"{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": round(after.ru_maxrss / 1024, 1), "stdout": result.stdout}


def read_clips(output: str) -> list[dict]:
    """Every clip the job wrote, with the fields the scores need."""
    import numpy as np
    import tensorflow as tf

    from schemas.clip import parse_clip

    files = sorted(glob.glob(os.path.join(output, "*", "clips-*.tfrecord.gz")))
    clips = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        parsed = parse_clip(record)
        landmarks = parsed["landmarks"].numpy()
        clips.append({
            "word": parsed["word"].numpy().decode(), "word_index": int(parsed["word_index"]),
            "start": float(parsed["start_time"]), "end": float(parsed["end_time"]),
            "first_frame": int(parsed["first_frame"]),
            "padded_before": int(parsed["padded_before"]),
            "padded_after": int(parsed["padded_after"]),
            "length": int(parsed["num_frames"]),
            "mouth_x": float(np.mean(landmarks[:, 48:68, 0])),
            "confidence": float(parsed["alignment_confidence"]),
            "speaker_margin": float(parsed["speaker_margin"]),
        })
    return clips


_SLOTS_PER_SOURCE_FRAME = JOB_FPS * 1001 / 30000  # 25 fps slots per 29.97 fps frame


def segment_of_frame(frame: int) -> int:
    """Segment shown by job frame `frame` (25 fps).

    ffmpeg's fps filter puts source frame n in slot round(n * 25 * 1001 / 30000) and, when
    two source frames share a slot, keeps the later: slot i shows the largest such n.
    """
    source = math.floor((frame + 0.5) / _SLOTS_PER_SOURCE_FRAME - 1e-9)
    while round(source * _SLOTS_PER_SOURCE_FRAME) > frame:
        source -= 1
    return source // SEGMENT_FRAMES


def score(clips: list[dict], words: list[dict]) -> dict:
    boundaries = close = split_clips = speaking_side = two_shots = 0
    for clip in clips:
        spoken = words[clip["word_index"]]
        if spoken["word"] != clip["word"]:
            raise RuntimeError(f"clip {clip} does not match the spoken word {spoken}")
        for ours, true in ((clip["start"], spoken["start"]), (clip["end"], spoken["end"])):
            boundaries += 1
            close += abs(ours - true) <= TWO_FRAMES + 1e-6
        first = clip["first_frame"] + clip["padded_before"]
        last = clip["first_frame"] + clip["length"] - 1 - clip["padded_after"]
        two_shots += segment_of_frame(first) != segment_of_frame(last)
        if spoken["kind"] == "split":
            split_clips += 1
            speaking_side += (clip["mouth_x"] < WIDTH / 2) == (spoken["side"] == "left")
    return {
        "words_spoken": len(words), "words_written": len(clips),
        "words_written_share": round(len(clips) / len(words), 4),
        "recovered_within_2_frames": round(close / max(boundaries, 1), 4),
        "split_screen_clips": split_clips,
        "split_screen_speaking_face": round(speaking_side / max(split_clips, 1), 4),
        "clips_holding_two_shots": two_shots,
    }


def failures(output: str) -> dict:
    counts: dict[str, int] = {}
    with open(os.path.join(output, "dead_letters.jsonl"), encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            key = f"{record['stage']}/{record['reason']}"
            counts[key] = counts.get(key, 0) + record["words_affected"]
    return dict(sorted(counts.items()))


def programme_folder(root: str, name: str, video: str, words: list[dict]) -> str:
    folder = os.path.join(root, name)
    os.makedirs(folder)
    os.rename(video, os.path.join(folder, "programme.mp4"))
    write_srt(words, os.path.join(folder, "programme.srt"))
    return folder


def run_stages(folder: str) -> dict:
    """The per-video stages in this process, as one worker runs them; clips encoded, dropped.

    Parse, align subtitles, plan chunks, track faces, crop: each work item goes through
    every stage before the next starts, and nothing is kept but counts, so the process's
    peak memory is a worker's for this programme, without a local runner's buffers.
    """
    from pipelines.preprocess.align_subtitles import AlignSubtitlesFn
    from pipelines.preprocess.config import default
    from pipelines.preprocess.crop_mouths import CropWordClipsFn
    from pipelines.preprocess.detect_landmarks import DetectLandmarksFn
    from pipelines.preprocess.inputs import list_inputs
    from pipelines.preprocess.plan_chunks import (ChunkVideoFn, PlanChunksFn, ScanPieceFn,
                                                  plan_in_one_process)
    from pipelines.preprocess.read_transcripts import ParseTranscriptFn
    from schemas.clip import ClipRecord, encode_clip

    config = default()

    class PlanStage:  # the three planning steps (probe, cut scan pieces, chunks) as one
        planners = (PlanChunksFn(config), ScanPieceFn(config), ChunkVideoFn(config))

        def setup(self):
            pass

        def process(self, job):
            return plan_in_one_process(self.planners, job)

    stages = [ParseTranscriptFn(), AlignSubtitlesFn(), PlanStage(),
              DetectLandmarksFn(config), CropWordClipsFn(config)]
    for stage in stages:
        stage.setup()
    counts = {"clips": 0, "dead_letters": 0, "work_items": 0}

    def flow(item, depth: int):
        for out in stages[depth].process(item):
            if hasattr(out, "tag"):
                counts["dead_letters"] += 1
            elif depth + 1 < len(stages):
                counts["work_items"] += depth == 2
                flow(out, depth + 1)
            elif isinstance(out, ClipRecord):
                encode_clip(out)
                counts["clips"] += 1

    for video in list_inputs(folder).videos:
        flow(video, 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {**counts, "peak_rss_mb": round(peak / 1024, 1)}


def measure_memory(programme: str, segments: list[dict], minutes: list[float], root: str,
                   ffmpeg: str, every: int) -> dict:
    """A worker's peak memory on programmes of each length (see `run_stages`)."""
    results = {"subtitled_copies": f"one copy of the programme in {every}",
               "mode": "the per-video stages in one process (benchmarks/broadcast.py "
                       "--stages-only FOLDER), clips encoded and dropped"}
    for length in minutes:
        repeats = max(1, round(length * 60 / (SEGMENT_SECONDS * len(segments))))
        video = os.path.join(root, f"long_{length:g}.mp4")
        repeat_programme(programme, repeats, video, ffmpeg, len(segments) * SEGMENT_SECONDS)
        words = truth(segments, repeats, every)
        folder = programme_folder(root, f"long_{length:g}", video, words)
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = subprocess.run([sys.executable, os.path.abspath(__file__), "--stages-only",
                                folder], capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = json.loads(child.stdout.strip().splitlines()[-1])
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        frames = round(repeats * len(segments) * SEGMENT_SECONDS * JOB_FPS)
        results[f"{length:g}_minutes"] = {
            "programme_seconds": round(repeats * len(segments) * SEGMENT_SECONDS, 1),
            "subtitled_words": len(words), "clips": run["clips"],
            "dead_letters": run["dead_letters"], "work_items": run["work_items"],
            "worker_peak_rss_mb": run["peak_rss_mb"],
            "wall_seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(cpu, 1),
            "source_frames_per_cpu_second": round(frames / max(cpu, 1e-9), 1)}
    peaks = [r["worker_peak_rss_mb"] for r in results.values() if isinstance(r, dict)]
    results["worker_peak_ratio"] = round(max(peaks) / min(peaks), 3)
    results["worker_within_20_percent"] = results["worker_peak_ratio"] < 1.2
    return results


def measure_rate(programme: str, segments: list[dict], copies: int, root: str, ffmpeg: str,
                 single: dict) -> dict:
    """Frames/s per core at the margin: the job on `copies` copies of the programme (every
    copy subtitled) against the job on one copy (`single`), CPU seconds on one core."""
    seconds = len(segments) * SEGMENT_SECONDS
    video = os.path.join(root, f"rate_{copies}.mp4")
    repeat_programme(programme, copies, video, ffmpeg, seconds)
    words = truth(segments, copies)
    folder = programme_folder(root, f"rate_{copies}", video, words)
    run = run_job(folder, os.path.join(root, f"rate_{copies}_out"))
    frames_one = round(seconds * JOB_FPS)
    frames_many = round(copies * seconds * JOB_FPS)
    extra_cpu = run["cpu_seconds"] - single["cpu_seconds"]
    marginal = (frames_many - frames_one) / max(extra_cpu, 1e-9)
    return {"copies": copies, "source_frames": frames_many, "subtitled_words": len(words),
            "clips": len(read_clips(os.path.join(root, f"rate_{copies}_out"))),
            "wall_seconds": run["wall_seconds"], "cpu_seconds": run["cpu_seconds"],
            "source_frames_per_cpu_second": round(frames_many / max(run["cpu_seconds"], 1e-9),
                                                  1),
            "marginal_frames_per_second_per_core": round(marginal, 1),
            "fixed_start_up_cpu_seconds": round(single["cpu_seconds"] - frames_one / marginal,
                                                1),
            "target_marginal_at_least": TARGET_MARGINAL_PER_CORE,
            "met": marginal >= TARGET_MARGINAL_PER_CORE,
            "note": "the job pinned to one core (ffmpeg included); marginal = the extra "
                    "copies' frames over their extra CPU seconds against the one-copy run"}


def benchmark(args) -> dict:
    from pipelines.preprocess.decode import ffmpeg_executable

    ffmpeg = ffmpeg_executable()
    sources = recordings(args.grid)
    if len(sources) < 4:
        raise SystemExit(f"need at least 4 GRID recordings with alignments in {args.grid!r}")
    segments = plan_segments(sources, args.segments)
    words = truth(segments)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or scratch
        os.makedirs(root, exist_ok=True)
        video = os.path.join(root, "programme.mp4")
        started = time.perf_counter()
        render_programme(segments, video, ffmpeg)
        build_seconds = time.perf_counter() - started
        kept = os.path.join(root, "kept.mp4")
        subprocess.run(["cp", video, kept], check=True)
        folder = programme_folder(root, "programme", video, words)
        output = os.path.join(root, "out")
        run = run_job(folder, output)
        scores = score(read_clips(output), words)
        frames = round(len(segments) * SEGMENT_SECONDS * JOB_FPS)
        result = {
            "programme": {"segments": len(segments), "seconds": round(len(segments) *
                                                                      SEGMENT_SECONDS, 3),
                          "size": f"{WIDTH}x{HEIGHT}", "fps": "29.97",
                          "split_screens": sum(s["kind"] == "split" for s in segments),
                          "transcript": "SRT, one cue per segment, no word times",
                          "build_seconds": round(build_seconds, 1)},
            "scores": scores,
            "targets": TARGETS,
            "targets_met": {
                key: (scores[key] == target if key == "clips_holding_two_shots"
                      else scores[key] >= target) for key, target in TARGETS.items()},
            "dead_letters": failures(output),
            "job": {"wall_seconds": run["wall_seconds"], "cpu_seconds": run["cpu_seconds"],
                    "peak_rss_mb": run["peak_rss_mb"],
                    "source_frames_per_cpu_second": round(frames / max(run["cpu_seconds"],
                                                                       1e-9), 1),
                    "note": "one DirectRunner worker (in_memory); CPU time of the job and its "
                            "ffmpeg children, start-up (interpreter, Beam, TensorFlow, "
                            "models) included"},
        }
        if args.rate_copies > 1:
            result["rate"] = measure_rate(kept, segments, args.rate_copies, root, ffmpeg, run)
        if args.memory_minutes:
            result["memory"] = measure_memory(kept, segments, args.memory_minutes, root, ffmpeg,
                                              args.memory_subtitle_every)
    result["machine"] = {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
                         "load_average_after": load_average(), "platform": platform.platform()}
    return result


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default=os.path.join(REPO, "data", "sample", "grid_s1"),
                        help="GRID speaker folder with video/*.mpg and align/*.align")
    parser.add_argument("--segments", type=int, default=16, help="segments (>= 8), half split")
    parser.add_argument("--rate-copies", type=int, default=5,
                        help="also run the job on this many copies of the programme, every copy "
                             "subtitled, for the marginal frames/s per core (1: skip)")
    parser.add_argument("--memory-minutes", type=float, nargs="*", default=[],
                        help="also measure peak memory on programmes of these lengths")
    parser.add_argument("--memory-subtitle-every", type=int, default=10,
                        help="in the memory runs, subtitle one copy of the programme in this many "
                             "(the same density at every length; keeps the hour-long run short)")
    parser.add_argument("--output", default=None, help="write the JSON result here too")
    parser.add_argument("--keep", default=None,
                        help="build the programme and outputs in this (new) folder and keep them")
    parser.add_argument("--job-flag", action="append", default=[], dest="job_flags",
                        help="an extra flag for every job run, e.g. --job-flag=--detect_every=10 "
                             "(repeatable; recorded in the result)")
    args = parser.parse_args(argv)
    if args.segments < 8:
        parser.error("--segments must be at least 8")
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--stages-only"]:
        print(json.dumps(run_stages(argv[1])))
        return 0
    args = parse_args(argv)
    pinned = pin_to_one_core()
    JOB_FLAGS.extend(args.job_flags)
    result = benchmark(args)
    if args.job_flags:
        result["job_flags"] = list(args.job_flags)
    result["machine"]["pinned_cpu"] = pinned
    if args.output:
        write_result(args.output, result, indent=2, sort_keys=True)
    else:
        print(result_text(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
