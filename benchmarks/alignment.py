"""Forced alignment of subtitle cues against GRID's word alignments: accuracy, scores, speed.

    .venv/bin/python benchmarks/alignment.py --grid GRID_SPEAKER_DIR [--clips 60]
        [--seed 0] [--output benchmarks/results/alignment.json]

GRID_SPEAKER_DIR holds `video/<id>.mpg` and `align/<id>.align` (times in 1/25000 s, CRLF
lines, silences `sil`/`sp`). For each of N clips (chosen with `--seed`), the sentence is
one cue timed from its first word's start to its last word's end, its audio cut as the
align-subtitles stage cuts it (`decode_audio` over `cue_audio_span`), and aligned by
`CueAligner`:

- right: with its own text. Word boundaries (each word's start and end) against GRID's:
  median error in ms, share within 40 ms (1 frame at 25 fps) and 80 ms (2 frames).
- wrong: with the text of the clip that shares the fewest words with it (same
  position), the mismatch case. Outcome (no path, partial path, complete) and cue score.
- substituted: the digit (5th word) replaced by another digit, the one-word mismatch.
- unknown: the made-up word "zorblax" inserted (not said) after the 3rd word: its
  neighbours' boundary errors. The same word is also given to a bare decoder pronounced
  as one "any speech" phone and by the letter-to-sound rules of the homopheme module,
  inserted and replacing the digit, to compare the two pronunciations.

The raw scores (nats per 10 ms frame, see forced_alignment.py) give the thresholds by the
rules in that module's docstring, and a logistic fit of right against wrong word scores
gives the confidence curve. The operating point of the chosen thresholds (and of the
ones the module ships, if they differ) is measured through `CueAligner.align`. Speed is
decoder time per second of audio, one thread. Prints JSON and writes it to --output.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import math
import os
import platform
import random
import sys
import time
from dataclasses import replace
from importlib import metadata

import numpy as np

from bench_utils import (cpu_model, load_average, stdout_to_stderr,  # beside this script
                         write_result)

from pipelines.preprocess.audio import decode_audio
from pipelines.preprocess.forced_alignment import (SPEECH_PHONE, AlignmentThresholds,
                                                   CueAligner, cue_audio_span)
from pipelines.preprocess.transcripts import Cue, WordTiming, parse_transcript

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join("benchmarks", "results", "alignment.json")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_POSITION = 4
UNKNOWN_AFTER = 3
MADE_UP_WORD = "zorblax"
FRAME_MS = 40.0
WORD_PERCENTILE = 1
WORD_PERCENTILES = (1, 2, 5, 10)


def grid_words(path: str) -> list[WordTiming]:
    with open(path, "rb") as handle:
        return list(parse_transcript(handle.read(), os.path.basename(path)).words)


def cue_of(words: list[WordTiming], text: list[str]) -> Cue:
    return Cue(0, words[0].start, words[-1].end, " ".join(text), tuple(text))


def boundary_errors_ms(aligned: list[tuple[float, float] | None],
                       reference: list[WordTiming]) -> list[float]:
    """|start - start'| and |end - end'| in ms for every word that has both."""
    errors = []
    for times, word in zip(aligned, reference):
        if times is not None:
            errors += [abs(times[0] - word.start) * 1000, abs(times[1] - word.end) * 1000]
    return errors


def error_summary(errors: list[float]) -> dict:
    values = np.asarray(errors, dtype=float)
    if values.size == 0:
        return {"boundaries": 0}
    return {"boundaries": int(values.size), "median_ms": round(float(np.median(values)), 1),
            "mean_ms": round(float(values.mean()), 1),
            "p90_ms": round(float(np.percentile(values, 90)), 1),
            "within_40ms": round(float((values <= 40.0 + 1e-6).mean()), 4),
            "within_80ms_2_frames": round(float((values <= 2 * FRAME_MS + 1e-6).mean()), 4)}


def percentiles(values: list[float]) -> dict:
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return {"n": len(values)}
    points = (0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100)
    return {"n": len(values), "non_finite": len(values) - int(finite.size),
            **{f"p{p}": round(float(np.percentile(finite, p)), 3) for p in points}}


def pick_partner(clip: str, texts: dict[str, list[str]]) -> str:
    """The clip whose text shares the fewest same-position words with `clip`'s."""
    own = texts[clip]
    others = sorted(c for c in texts if c != clip)
    return min(others, key=lambda c: sum(a == b for a, b in zip(texts[c], own)))


def substituted(text: list[str]) -> list[str]:
    digit = text[DIGIT_POSITION]
    other = DIGITS[(DIGITS.index(digit) + 5) % 10] if digit in DIGITS else "seven"
    return text[:DIGIT_POSITION] + [other] + text[DIGIT_POSITION + 1:]


def cue_audio(video: str, cue: Cue) -> tuple[np.ndarray, float]:
    start, duration = cue_audio_span(cue)
    return decode_audio(video, start=start, duration=duration), start


def decoded_times(decoding, start: float) -> list[tuple[float, float] | None]:
    times: list[tuple[float, float] | None] = [None] * decoding.n_words
    for word in decoding.words:
        times[word.position] = (start + word.start_frame / 100, start + word.end_frame / 100)
    return times


def outcome(decoding) -> str:
    if not decoding.path_found:
        return "no_path"
    return "complete" if decoding.complete else "partial"


def measure_clip(aligner: CueAligner, clip: dict, partner_text: list[str]) -> dict:
    """Raw decodings of one clip's four scenarios."""
    reference, text = clip["words"], clip["text"]
    cue = cue_of(reference, text)
    samples, start = cue_audio(clip["video"], cue)
    started = time.perf_counter()
    right = aligner.decode(samples, text)
    seconds = time.perf_counter() - started
    wrong = aligner.decode(samples, partner_text)
    swapped = aligner.decode(samples, substituted(text))
    unknown_text = text[:UNKNOWN_AFTER] + [MADE_UP_WORD] + text[UNKNOWN_AFTER:]
    unknown = aligner.decode(samples, unknown_text)
    unknown_times = decoded_times(unknown, start)
    del unknown_times[UNKNOWN_AFTER]
    return {
        "samples": samples, "start": start, "cue": cue, "decode_seconds": seconds,
        "right": right, "wrong": wrong, "swapped": swapped, "unknown": unknown,
        "right_errors": boundary_errors_ms(decoded_times(right, start), reference),
        "unknown_errors": boundary_errors_ms(unknown_times, reference)
        if unknown.complete else [],
    }


def fit_logistic(positive: list[float], negative: list[float]) -> tuple[float, float]:
    """(midpoint, scale) of P(right | score) = 1 / (1 + exp(-(score - midpoint) / scale)),
    fitted by Newton's method with the two classes weighted equally."""
    x = np.asarray(positive + negative, dtype=float)
    y = np.asarray([1.0] * len(positive) + [0.0] * len(negative))
    weights = np.where(y == 1, 0.5 / len(positive), 0.5 / len(negative))
    finite = np.isfinite(x)
    x, y, weights = x[finite], y[finite], weights[finite]
    features = np.stack([np.ones_like(x), x], axis=1)
    theta = np.zeros(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-features @ theta))
        gradient = features.T @ (weights * (y - p))
        hessian = (features * (weights * p * (1 - p))[:, None]).T @ features
        theta += np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
    return float(-theta[0] / theta[1]), float(1 / theta[1])


def cue_threshold(right: list[float], wrong: list[float]) -> tuple[float, str]:
    """The midpoint of the gap between the classes, or the minimum-error point."""
    if not wrong:
        return min(right) - 0.5, "no complete wrong-text alignment: 0.5 below the lowest right"
    if max(wrong) < min(right):
        return (max(wrong) + min(right)) / 2, "midpoint of the gap between the classes"
    candidates = sorted(set(right) | set(wrong))
    errors = [sum(r < t for r in right) + sum(w >= t for w in wrong) for t in candidates]
    return candidates[int(np.argmin(errors))], "minimum errors (the classes overlap)"


def word_threshold_effect(threshold: float, right: list[float],
                          substituted_words: list[float]) -> dict:
    """Share of right words a word threshold rejects and of substituted words it catches."""
    return {"min_word_score": round(threshold, 2),
            "right_words_rejected": round(float(np.mean([s < threshold for s in right])), 4),
            "substituted_words_caught": round(float(np.mean(
                [s < threshold for s in substituted_words])), 4)}


def pick_thresholds(measured: list[dict]) -> tuple[AlignmentThresholds, dict]:
    right_words = [w.score for m in measured if m["right"].complete for w in m["right"].words]
    wrong_words = [w.score for m in measured if m["wrong"].complete
                   for w in m["wrong"].words if w.in_dictionary]
    right_cues = [m["right"].cue_score for m in measured if m["right"].complete]
    wrong_cues = [m["wrong"].cue_score for m in measured if m["wrong"].complete]
    min_cue, cue_rule = cue_threshold(right_cues, wrong_cues)
    finite_right = [s for s in right_words if math.isfinite(s)]
    substituted_words = [m["swapped"].words[DIGIT_POSITION].score for m in measured
                         if m["swapped"].complete]
    trade_off = {f"p{p}": word_threshold_effect(float(np.percentile(finite_right, p)),
                                                right_words, substituted_words)
                 for p in WORD_PERCENTILES}
    min_word = float(np.percentile(finite_right, WORD_PERCENTILE))
    midpoint, scale = fit_logistic(right_words, wrong_words)
    thresholds = replace(AlignmentThresholds(), min_word_score=round(min_word, 2),
                         min_cue_score=round(min_cue, 2),
                         confidence_midpoint=round(midpoint, 2),
                         confidence_scale=round(scale, 2))
    rules = {"min_cue_score": cue_rule,
             "min_word_score": f"percentile {WORD_PERCENTILE} of right-text word scores",
             "confidence": "logistic fit, right-text words vs complete wrong-text words, "
                           "classes weighted equally"}
    scores = {"right_word": percentiles(right_words), "wrong_word": percentiles(wrong_words),
              "substituted_word": percentiles(substituted_words),
              "right_cue": percentiles(right_cues), "wrong_cue": percentiles(wrong_cues)}
    return thresholds, {"rules": rules, "scores_nats_per_frame": scores,
                        "word_threshold_at_right_word_percentile": trade_off}


def _times(word: WordTiming) -> tuple[float, float]:
    return word.start, word.end


def operating_point(thresholds: AlignmentThresholds, measured: list[dict]) -> dict:
    """What `CueAligner.align` does with `thresholds` on every scenario."""
    aligner = CueAligner(thresholds)
    aligner.load()
    right_words = right_rejected = right_cues_rejected = 0
    wrong_reasons: dict[str, int] = {}
    swapped_flagged = swapped_total = 0
    accepted_errors: list[float] = []
    for m in measured:
        cue, samples, start = m["cue"], m["samples"], m["start"]
        aligned, failures = aligner.align(samples, start, cue)
        right_words += len(cue.words)
        right_rejected += len(failures)
        right_cues_rejected += len(aligned) == 0
        failed = {f.word_index for f in failures}
        kept = iter(aligned)
        accepted_errors += boundary_errors_ms(
            [None if i in failed else _times(next(kept)) for i in range(len(cue.words))],
            m["words"])
        wrong_cue = replace(cue, words=tuple(m["partner_text"]))
        _, wrong_failures = aligner.align(samples, start, wrong_cue)
        every_word = len({f.word_index for f in wrong_failures}) == len(wrong_cue.words)
        key = "/".join(sorted({f.reason for f in wrong_failures})) if every_word else \
            "not_detected"
        wrong_reasons[key] = wrong_reasons.get(key, 0) + 1
        swapped_cue = replace(cue, words=tuple(substituted(list(cue.words))))
        _, swapped_failures = aligner.align(samples, start, swapped_cue)
        swapped_total += 1
        swapped_flagged += any(f.word_index == DIGIT_POSITION for f in swapped_failures)
    wrong_total = sum(wrong_reasons.values())
    return {
        "right_words_rejected": round(right_rejected / right_words, 4),
        "right_cues_rejected_whole": round(right_cues_rejected / len(measured), 4),
        "accepted_right_word_boundaries": error_summary(accepted_errors),
        "wrong_text_cues": wrong_reasons,
        "mismatch_detection_rate": round(
            (wrong_total - wrong_reasons.get("not_detected", 0)) / wrong_total, 4),
        "substituted_digit_flagged_rate": round(swapped_flagged / swapped_total, 4),
    }


def compare_unknown_pronunciations(measured: list[dict]) -> dict:
    """The made-up word pronounced as one "any speech" phone or by letter-to-sound rules,
    inserted (not said) after the 3rd word or replacing the (said) digit: how many
    alignments go through the whole text, and how close its neighbours stay."""
    from pocketsphinx import Decoder

    from pipelines.evaluate.homophemes import pronunciation

    phones = {"any_speech_phone": SPEECH_PHONE,
              "letter_to_sound": " ".join(pronunciation(MADE_UP_WORD)[0])}
    result = {}
    for label, pronounced in phones.items():
        decoder = Decoder(lm=None, loglevel="FATAL")
        decoder.add_word(MADE_UP_WORD, pronounced, True)
        for scenario, at, replaced in (("inserted", UNKNOWN_AFTER, 0),
                                       ("replacing_digit", DIGIT_POSITION, 1)):
            complete, errors = 0, []
            for m in measured:
                text = [w.word for w in m["words"]]
                text = text[:at] + [MADE_UP_WORD] + text[at + replaced:]
                reference = [w for i, w in enumerate(m["words"]) if not (replaced and i == at)]
                times = _raw_alignment(decoder, m["samples"], m["start"], text)
                if times is None:
                    continue
                complete += 1
                del times[at]
                errors += boundary_errors_ms(times, reference)
            result[f"{label}/{scenario}"] = {"pronunciation": pronounced,
                                             "complete": complete, "of": len(measured),
                                             "neighbours": error_summary(errors)}
    return result


def _raw_alignment(decoder, samples: np.ndarray, start: float,
                   text: list[str]) -> list[tuple[float, float]] | None:
    """Word times of `text` from a bare decoder, or None unless every word is placed."""
    try:
        decoder.reinit_feat()
        decoder.set_align_text(" ".join(text))
        decoder.start_utt()
        decoder.process_raw(samples.tobytes(), full_utt=True)
        decoder.end_utt()
    except RuntimeError:
        return None
    if decoder.hyp() is None:
        return None
    placed = [(start + s.start_frame / 100, start + (s.end_frame + 1) / 100)
              for s in decoder.seg() if s.word.split("(")[0] in text]
    return placed if len(placed) == len(text) else None


def boundaries_by_score(measured: list[dict], threshold: float) -> dict:
    """Right-text word boundary errors of words scoring below `threshold` and the rest."""
    below, above = [], []
    for m in measured:
        times = decoded_times(m["right"], m["start"])
        for word, timing, reference in zip(m["right"].words, times, m["words"]):
            errors = boundary_errors_ms([timing], [reference])
            (below if word.score < threshold else above).extend(errors)
    return {"below_min_word_score": error_summary(below),
            "at_or_above_min_word_score": error_summary(above)}


def load_clips(grid: str, count: int, seed: int) -> list[dict]:
    videos = sorted(glob.glob(os.path.join(grid, "video", "*.mpg")))
    if not videos:
        raise ValueError(f"no video/*.mpg under {grid!r}")
    chosen = sorted(random.Random(seed).sample(videos, min(count, len(videos))))
    clips = []
    for video in chosen:
        clip = os.path.splitext(os.path.basename(video))[0]
        words = grid_words(os.path.join(grid, "align", clip + ".align"))
        clips.append({"id": clip, "video": video, "words": words,
                      "text": [w.word for w in words]})
    return clips


def benchmark(grid: str, count: int, seed: int) -> dict:
    load_before = load_average()
    clips = load_clips(grid, count, seed)
    texts = {c["id"]: c["text"] for c in clips}
    aligner = CueAligner()
    started = time.perf_counter()
    aligner.load()
    load_seconds = time.perf_counter() - started
    measured = []
    for clip in clips:
        partner = texts[pick_partner(clip["id"], texts)]
        result = measure_clip(aligner, clip, partner)
        measured.append({**result, "words": clip["words"], "partner_text": partner})
    chosen, calibration = pick_thresholds(measured)
    audio_seconds = sum(len(m["samples"]) for m in measured) / 16000
    decode_seconds = sum(m["decode_seconds"] for m in measured)
    outcomes = {kind: {o: sum(outcome(m[kind]) == o for m in measured)
                       for o in ("complete", "partial", "no_path")}
                for kind in ("right", "wrong", "swapped", "unknown")}
    shipped = AlignmentThresholds()
    result = {
        "benchmark": "alignment",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": {"corpus": "GRID", "speaker_folder": os.path.basename(os.path.normpath(grid)),
                  "clips": len(clips), "seed": seed, "clip_ids": [c["id"] for c in clips]},
        "cue": "one cue per sentence, first word start .. last word end; audio cut 0.5 s "
               "either side",
        "right_text_boundaries": error_summary([e for m in measured for e in m["right_errors"]]),
        "unknown_word_neighbour_boundaries": error_summary(
            [e for m in measured for e in m["unknown_errors"]]),
        "outcomes": outcomes,
        "calibration": calibration,
        "chosen_thresholds": chosen.__dict__,
        "operating_point_chosen": operating_point(chosen, measured),
        "right_word_boundaries_by_score": boundaries_by_score(measured, chosen.min_word_score),
        "unknown_word_pronunciations": compare_unknown_pronunciations(measured),
        "speed": {"audio_seconds": round(audio_seconds, 2),
                  "decoder_load_seconds": round(load_seconds, 3),
                  "right_text_decode_seconds": round(decode_seconds, 3),
                  "times_real_time": round(audio_seconds / decode_seconds, 1)},
        "machine": {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
                    "platform": platform.platform(), "load_average_1min": {
                        "before": load_before, "after": load_average()}},
        "versions": {"python": platform.python_version(),
                     "pocketsphinx": metadata.version("pocketsphinx")},
    }
    if shipped != chosen:
        result["shipped_thresholds"] = shipped.__dict__
        result["operating_point_shipped"] = operating_point(shipped, measured)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", required=True,
                        help="a GRID speaker folder with video/*.mpg and align/*.align")
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join(REPO, DEFAULT_OUTPUT))
    args = parser.parse_args(argv)
    with stdout_to_stderr():
        try:
            result = benchmark(args.grid, args.clips, args.seed)
        except ValueError as err:
            print(f"benchmarks/alignment.py: {err}", file=sys.stderr)
            return 2
    write_result(args.output, result, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
