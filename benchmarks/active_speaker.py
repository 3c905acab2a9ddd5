"""Calibrates the active-speaker choice on GRID: which face speaks, and when to refuse.

    .venv/bin/python benchmarks/active_speaker.py --grid GRID_SPEAKER_DIR [--clips 390]
        [--seed 0] [--target_precision 0.98] [--output benchmarks/results/active_speaker.json]
        [--cache FILE]

`--grid` is one GRID speaker folder: `video/*.mpg` (with audio) and `align/*.align`.
`--clips` clips are drawn with a fixed seed and cut into two halves: a selection half,
on which every setting is measured and the setting and threshold are chosen, and a
held-out half, on which the chosen setting is reported. Within each half the clips are
paired in a cycle: clip A (the speaker, with its audio) against clip B (the same person
saying another sentence, the hardest distractor). Landmarks come from the default
backend's tracker (the preprocess job's defaults; results/active_speaker.json was made with
dlib, the default of its time, results/active_speaker_mesh.json with the face mesh) on
each clip's own frames, which is what a split screen
of the two would give up to scale; gaps are bridged as the job does, with no smoothing.

For every word of A, and every setting, A's mouth and B's mouth are scored against A's
speech energy over the word's span, and the margin (A minus B, a missing score counting
as 0, as `choose_speaker` counts it) decides: kept when |margin| >= threshold, correct
when A wins. Two distractor timings:

- same_timing: B frame t beside A frame t (GRID sentences share their rhythm: silence,
  about two seconds of speech, silence);
- different_timing: B rolled in time so that one of its own words, drawn at random, is
  centred on A's word: B is mid-speech too, in another phase.

Settings: the lip gap (inner or outer lips, over the mouth width), the signals
correlated (raw, frame differences, absolute differences, differences of 3- or 5-frame
moving averages, differences of the job's 12-frame smoothed landmarks), max_lag 0..4
frames, and spans of 29 frames (the word window), 45, 61 and 75 frames centred on the
word, or the sentence (first word's start to last word's end). For each, the smallest
threshold (0.01 steps) from which precision among kept words stays >= --target_precision
in both timings of the selection half (at every larger threshold that still keeps
MIN_KEPT words), and its coverage; the setting with the most coverage (mean of the two
timings) wins. The held-out words then go through `choose_speaker` itself with the
library's defaults (`SpeakerConfig()`, `mouth_opening` as it is), which must give the
chosen setting's figures when the defaults are the calibrated ones. Prints JSON (logs
go to stderr) and writes it to --output. Landmarks take most of the time; `--cache`
keeps them between runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import glob
import itertools
import logging
import math
import os
import pickle
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from bench_utils import cpu_model, load_average, write_result  # noqa: E402  beside this script
from pipelines.preprocess.active_speaker import (  # noqa: E402
    LIPS, MIN_VALID_PAIRS, SpeakerConfig, choose_speaker, lagged_correlations, mouth_opening,
    scored_frames)
from pipelines.preprocess.audio import (  # noqa: E402
    SAMPLE_RATE, decode_audio, frame_log_energy, probe_media)
from pipelines.preprocess.config import PreprocessConfig  # noqa: E402
from pipelines.preprocess.decode import DecodeReport, decode_frames  # noqa: E402
from pipelines.preprocess.landmarks import make_backend  # noqa: E402
from pipelines.preprocess.landmarks.tracker import FaceTracker  # noqa: E402
from pipelines.preprocess.tracking import interpolate_missing, smooth_track  # noqa: E402
from pipelines.preprocess.transcripts import parse_transcript  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join("benchmarks", "results", "active_speaker.json")
FPS = 25.0                       # GRID video, and the preprocess job's rate
WINDOW = 29
_BOUNDARY_EPS = 1e-6
SPANS = (29, 45, 61, 75, "sentence")
MAX_LAG = 4
FEATURES = ("raw", "diff", "absdiff", "smooth3_diff", "smooth5_diff", "job_smoothed_diff")
TIMINGS = ("same_timing", "different_timing")
THRESHOLDS = np.round(np.arange(0.0, 1.0001, 0.01), 2)
MIN_KEPT = 20                    # fewer kept words than this cannot judge a precision
CURVE_THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
_LOG = logging.getLogger("benchmarks.active_speaker")


# ---------------------------------------------------------------------------------------
# per clip: landmarks, openings, energy, words


def _moving_average(signal: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average (odd width); NaN near the ends and next to a NaN."""
    kernel = np.ones(width) / width
    averaged = np.convolve(signal, kernel, mode="same")
    averaged[: width // 2] = np.nan
    averaged[len(signal) - width // 2:] = np.nan
    return averaged


def load_clip(video: str, align: str, backend, config: PreprocessConfig) -> dict:
    """Mouth openings (plain and job-smoothed), frame energies and word times of one clip."""
    frames = list(decode_frames(video, DecodeReport(), fps=config.fps))
    tracker = FaceTracker(backend, detect_every=config.detect_every,
                          detect_max_side=config.detect_max_side)
    found = [tracker.update(frame) for frame in frames]
    points = np.stack([p if p is not None else np.full((68, 2), np.nan) for p in found])
    detected = np.array([p is not None for p in found])
    filled, usable = interpolate_missing(points, detected, config.max_gap)
    smoothed = smooth_track(filled, usable, config.smooth_window)
    info = probe_media(video)
    samples = decode_audio(video)
    offset = int(round(info.video_start * SAMPLE_RATE))  # sample 0 = video frame 0
    samples = samples[offset:] if offset >= 0 else np.concatenate(
        [np.zeros(-offset, np.int16), samples])
    energy = frame_log_energy(samples, SAMPLE_RATE, config.fps, 0, len(frames))
    with open(align, "rb") as handle:
        transcript = parse_transcript(handle.read(), os.path.basename(align))
    words = [(w.word, w.start - info.video_start, w.end - info.video_start)
             for w in transcript.words]
    openings = {"opening": mouth_opening(filled)}  # the library's default lips
    openings.update({f"opening:{lips}": mouth_opening(filled, lips) for lips in LIPS})
    openings.update({f"job_opening:{lips}": mouth_opening(smoothed, lips) for lips in LIPS})
    return {**openings, "energy": energy, "words": words, "frames": len(frames),
            "missing_faces": int(np.count_nonzero(~detected))}


# ---------------------------------------------------------------------------------------
# scoring


def _signals(feature: str, opening: np.ndarray, energy: np.ndarray):
    if feature == "raw":
        return opening, energy
    if feature in ("diff", "job_smoothed_diff"):
        return np.diff(opening), np.diff(energy)
    if feature == "absdiff":
        return np.abs(np.diff(opening)), np.abs(np.diff(energy))
    width = {"smooth3_diff": 3, "smooth5_diff": 5}[feature]
    return np.diff(_moving_average(opening, width)), np.diff(_moving_average(energy, width))


def _span(clip: dict, word: tuple, span) -> tuple[int, int]:
    """[first, stop) frames scored for a word: centred on it, or its whole sentence."""
    if span == "sentence":
        words = clip["words"]
        first = math.ceil(words[0][1] * FPS - _BOUNDARY_EPS)
        stop = math.ceil(words[-1][2] * FPS - _BOUNDARY_EPS)
        return max(first, 0), min(stop, clip["frames"])
    return scored_frames(word[1], word[2], clip["frames"], span, FPS)


def _word_centre(word: tuple) -> int:
    return int(math.floor((word[1] + word[2]) / 2.0 * FPS + _BOUNDARY_EPS))


def _fitted(signal: np.ndarray, length: int) -> np.ndarray:
    """The signal cut or NaN-padded to `length` frames (clips differ by a frame or two)."""
    return np.concatenate([signal[:length], np.full(max(0, length - len(signal)), np.nan)])


def score_pairs(clips: list[dict], pairs: list[tuple[int, int]], rng) -> dict:
    """Lagged correlations of A and B per word, {(lips, feature, span, timing): float
    [W, 2, 2 * MAX_LAG + 1]}, and under "shifts" each word's (A, B, word, timing, shift)."""
    table = {"shifts": []}
    for a_index, b_index in pairs:
        a, b = clips[a_index], clips[b_index]
        b = {**b, **{key: _fitted(b[key], a["frames"]) for key in b if "opening" in key}}
        for word_index, word in enumerate(a["words"]):
            b_word = b["words"][rng.integers(len(b["words"]))]
            shifts = {"same_timing": 0,
                      "different_timing": _word_centre(b_word) - _word_centre(word)}
            table["shifts"].extend((a_index, b_index, word_index, timing, shift)
                                   for timing, shift in shifts.items())
            for span in SPANS:
                first, stop = _span(a, word, span)
                energy = a["energy"][first:stop]
                for (timing, shift), lips, feature in itertools.product(
                        shifts.items(), LIPS, FEATURES):
                    key = "job_opening" if feature == "job_smoothed_diff" else "opening"
                    key = f"{key}:{lips}"
                    b_opening = np.roll(b[key], -shift)[first:stop]
                    rows = [lagged_correlations(*_signals(feature, o, energy), MAX_LAG)
                            for o in (a[key][first:stop], b_opening)]
                    table.setdefault((lips, feature, span, timing), []).append(rows)
    return {key: rows if key == "shifts" else np.array(rows) for key, rows in table.items()}


def library_check(clips: list[dict], shifts: list[tuple], config: SpeakerConfig) -> dict:
    """The same words through `choose_speaker` with `config` and the default opening."""
    counts = {timing: {"words": 0, "chosen_speaker": 0, "chosen_other": 0, "refused": 0}
              for timing in TIMINGS}
    for a_index, b_index, word_index, timing, shift in shifts:
        a, b = clips[a_index], clips[b_index]
        word = a["words"][word_index]
        first, stop = scored_frames(word[1], word[2], a["frames"], config.span, FPS)
        b_opening = np.roll(_fitted(b["opening"], a["frames"]), -shift)[first:stop]
        choice = choose_speaker({"A": a["opening"][first:stop], "B": b_opening},
                                a["energy"][first:stop], config.max_lag, config.min_margin)
        outcome = {"A": "chosen_speaker", "B": "chosen_other", None: "refused"}[choice.track_id]
        counts[timing][outcome] += 1
        counts[timing]["words"] += 1
    for entry in counts.values():
        kept = entry["chosen_speaker"] + entry["chosen_other"]
        entry["coverage"] = round(kept / entry["words"], 4)
        entry["precision"] = round(entry["chosen_speaker"] / kept, 4) if kept else None
    return {"config": dataclasses.asdict(config), **counts}


def margins(correlations: np.ndarray, max_lag: int) -> np.ndarray:
    """float [W]: A's best score minus B's over lags up to max_lag (NaN scores count as 0)."""
    centre = MAX_LAG
    window = correlations[:, :, centre - max_lag: centre + max_lag + 1]
    finite = np.isfinite(window).any(axis=2)
    best = np.where(finite, np.nanmax(np.where(np.isfinite(window), window, -np.inf), axis=2), 0.0)
    return best[:, 0] - best[:, 1]


def at_threshold(margin: np.ndarray, threshold: float) -> dict:
    """Coverage and precision when words with |margin| < threshold are refused."""
    kept = np.abs(margin) >= threshold
    correct = kept & (margin > 0)
    count = int(np.count_nonzero(kept))
    return {"threshold": float(threshold), "words": int(margin.size), "kept": count,
            "coverage": count / margin.size,
            "precision": int(np.count_nonzero(correct)) / count if count else None,
            "wrong_kept": count - int(np.count_nonzero(correct))}


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> list[float] | None:
    """95% Wilson score interval of a proportion."""
    if trials == 0:
        return None
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials ** 2)) / (
        1 + z * z / trials)
    return [round(centre - half, 4), round(centre + half, 4)]


def smallest_threshold(margins_by_timing: dict, target: float) -> float | None:
    """The smallest grid threshold from which precision stays >= target in every timing.

    Precision must hold at the threshold and at every larger one where each timing
    still keeps MIN_KEPT words, so that a lucky dip of the curve is not what gets chosen.
    """
    judged, holds = [], []
    for threshold in THRESHOLDS:
        results = [at_threshold(m, threshold) for m in margins_by_timing.values()]
        judged.append(all(r["kept"] >= MIN_KEPT for r in results))
        holds.append(not judged[-1] or all(r["precision"] >= target for r in results))
    for index, threshold in enumerate(THRESHOLDS):
        if judged[index] and all(holds[index:]):
            return float(threshold)
    return None


def _setting_key(setting: dict) -> tuple:
    return setting["lips"], setting["feature"], setting["span"]


def evaluate_settings(table: dict, target: float) -> list[dict]:
    """Every (lips, feature, span, max_lag): accuracy, chosen threshold and coverage."""
    settings = []
    for lips, feature, span, max_lag in itertools.product(LIPS, FEATURES, SPANS,
                                                          range(MAX_LAG + 1)):
        by_timing = {t: margins(table[(lips, feature, span, t)], max_lag) for t in TIMINGS}
        threshold = smallest_threshold(by_timing, target)
        entry = {"lips": lips, "feature": feature, "span": span, "max_lag": max_lag,
                 "accuracy": {t: round(float(np.mean(m > 0)), 4) for t, m in by_timing.items()},
                 "min_margin": threshold, "coverage": None, "mean_coverage": 0.0}
        if threshold is not None:
            kept = {t: at_threshold(m, threshold) for t, m in by_timing.items()}
            entry["coverage"] = {t: round(k["coverage"], 4) for t, k in kept.items()}
            entry["mean_coverage"] = round(float(np.mean(
                [k["coverage"] for k in kept.values()])), 4)
        settings.append(entry)
    settings.sort(key=lambda s: (s["mean_coverage"], np.mean(list(s["accuracy"].values()))),
                  reverse=True)
    return settings


def best_by_choice(settings: list[dict]) -> dict:
    """For each value of each choice, the best setting that has it (settings come sorted)."""
    best = {}
    for choice, values in (("lips", LIPS), ("feature", FEATURES), ("span", SPANS),
                           ("max_lag", range(MAX_LAG + 1))):
        best[choice] = {str(v): next(s for s in settings if s[choice] == v) for v in values}
    return best


def report_setting(table: dict, setting: dict) -> dict:
    """Accuracy, the threshold curve and the chosen threshold's figures for one setting."""
    report = {}
    for timing in TIMINGS:
        margin = margins(table[(*_setting_key(setting), timing)], setting["max_lag"])
        chosen = at_threshold(margin, setting["min_margin"] or 0.0)
        if chosen["kept"]:
            chosen["precision_95ci"] = wilson_interval(
                chosen["kept"] - chosen["wrong_kept"], chosen["kept"])
        report[timing] = {
            "accuracy_all_words": round(float(np.mean(margin > 0)), 4),
            "at_min_margin": chosen,
            "curve": [at_threshold(margin, t) for t in CURVE_THRESHOLDS],
        }
    return report


# ---------------------------------------------------------------------------------------
# data, machine, main


def list_clips(grid: str) -> list[tuple[str, str]]:
    videos = sorted(glob.glob(os.path.join(grid, "video", "*.mpg")))
    clips = []
    for video in videos:
        align = os.path.join(grid, "align", os.path.splitext(os.path.basename(video))[0] + ".align")
        if os.path.exists(align):
            clips.append((video, align))
    if not clips:
        raise SystemExit(f"no video/*.mpg with a matching align/*.align under {grid!r}")
    return clips


def load_clips(drawn: list[tuple[str, str]], config: PreprocessConfig,
               cache: str | None) -> list[dict]:
    """`load_clip` for each drawn clip, or the cache's copy when it holds the same clips."""
    names = [os.path.basename(video) for video, _ in drawn]
    if cache and os.path.exists(cache):
        with open(cache, "rb") as handle:
            saved = pickle.load(handle)
        if saved["names"] == names:
            _LOG.info("landmarks and audio of %s clips read from %s", len(names), cache)
            return saved["clips"]
    backend = make_backend(config.landmarks, upsample=config.upsample)
    backend.load()
    clips = []
    for number, (video, align) in enumerate(drawn):
        clips.append(load_clip(video, align, backend, config))
        if number % 50 == 0:
            _LOG.info("landmarks and audio: %s of %s clips", number + 1, len(drawn))
    if cache:
        with open(cache, "wb") as handle:
            pickle.dump({"names": names, "clips": clips}, handle)
    return clips


def cycle_pairs(indices: list[int]) -> list[tuple[int, int]]:
    """Each clip as A against the next one (in the drawn order) as B."""
    return [(indices[i], indices[(i + 1) % len(indices)]) for i in range(len(indices))]


def machine(load_before: float | None) -> dict:
    return {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
            "platform": platform.platform(), "machine": platform.machine(),
            "load_average_1min": {"before": load_before, "after": load_average(),
                                  "note": "other work on the machine slows the timings"}}


def versions() -> dict:
    """Package versions and the landmark backend that gave the openings (the default)."""
    backend = make_backend(PreprocessConfig().landmarks)
    return {"python": platform.python_version(), "numpy": np.__version__,
            **{f"landmarks_{k}": v for k, v in backend.versions().items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", required=True, help="a GRID speaker folder (video/, align/)")
    parser.add_argument("--clips", type=int, default=390, help="clips drawn (>= 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target_precision", type=float, default=0.98)
    parser.add_argument("--output", default=os.path.join(REPO, DEFAULT_OUTPUT))
    parser.add_argument("--cache", help="a file for the clips' openings and energies: read "
                        "when it holds the same clips, else written (saves the landmark time)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.clips < 6:
        raise SystemExit(f"--clips must be >= 6, got {args.clips!r}")
    load_before = load_average()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    available = list_clips(args.grid)
    drawn = [available[i] for i in rng.permutation(len(available))[: args.clips]]
    config = PreprocessConfig(fps=FPS)
    clips = load_clips(drawn, config, args.cache)
    landmark_seconds = time.perf_counter() - started
    half = len(clips) // 2
    halves = {"selection": cycle_pairs(list(range(half))),
              "held_out": cycle_pairs(list(range(half, len(clips))))}
    tables = {name: score_pairs(clips, pairs, rng) for name, pairs in halves.items()}
    settings = evaluate_settings(tables["selection"], args.target_precision)
    chosen = settings[0]
    words = {name: sum(len(clips[a]["words"]) for a, _ in pairs) for name, pairs in halves.items()}
    baseline = next(s for s in settings if (*_setting_key(s), s["max_lag"]) ==
                    ("inner", "diff", WINDOW, 1))
    result = {
        "benchmark": "active_speaker",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "data": {"grid_folder": os.path.basename(os.path.normpath(args.grid)),
                 "clips_available": len(available), "clips": len(clips),
                 "frames": sum(c["frames"] for c in clips),
                 "frames_without_face": sum(c["missing_faces"] for c in clips),
                 "words": words, "seed": args.seed},
        "method": {
            "distractor": "the same person saying another sentence (clip B beside clip A)",
            "timings": list(TIMINGS), "lips": list(LIPS), "features": list(FEATURES),
            "spans": list(SPANS), "max_lags": list(range(MAX_LAG + 1)),
            "min_valid_pairs": MIN_VALID_PAIRS,
            "threshold_rule": f"smallest min_margin (0.01 steps) from which precision stays >= "
                              f"{args.target_precision} in both timings of the selection half "
                              f"(at every larger threshold keeping >= {MIN_KEPT} words)",
            "choice_rule": "most mean coverage at that threshold, then accuracy",
            "margin": "A's score minus B's; a missing score counts as 0",
            "landmarks": {"backend": config.landmarks, "detect_every": config.detect_every,
                          "max_gap": config.max_gap},
        },
        "chosen": {key: chosen[key] for key in ("lips", "feature", "span", "max_lag",
                                                 "min_margin")},
        "selection": report_setting(tables["selection"], chosen),
        "held_out": report_setting(tables["held_out"], chosen),
        "baseline_inner_diff_word_window_lag1": {
            "selection": baseline,
            "held_out": report_setting(tables["held_out"], baseline)},
        "library_defaults_held_out": library_check(clips, tables["held_out"]["shifts"],
                                                   SpeakerConfig()),
        "best_by_choice_selection_half": best_by_choice(settings),
        "settings_selection_half": settings,
        "runtime_seconds": {"landmarks_and_audio": round(landmark_seconds, 1),
                            "total": round(time.perf_counter() - started, 1)},
        "machine": machine(load_before), "versions": versions(),
    }
    write_result(args.output, result, indent=2)


if __name__ == "__main__":
    main()
