"""Metrics of a scored split: plain numpy over compact per-clip predictions.

A `Scored` row holds what every metric needs and nothing more (the true word's index in
the model vocabulary, the top-5 predicted indices, the top-1 probability and the clip's
slice values), so a whole test split fits in one worker's memory and every number in
metrics.json is computed in one place, from one list, by the functions below.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

METRICS_SCHEMA_VERSION = "1.1.0"  # 1.1.0: `context`
TOP_K = 5
CALIBRATION_BINS = 10
CONFUSED_PAIRS = 20
VERDICT_BETTER = "better"
VERDICT_WORSE = "worse"
VERDICT_SAME = "no significant difference"


@dataclass(frozen=True)
class Scored:
    """One in-vocabulary clip after inference."""

    clip_id: str
    label: int                   # true word's index in the (ensemble) vocabulary
    top: tuple[int, ...]         # predicted indices, most likely first (up to TOP_K)
    confidence: float            # probability of top[0]
    slices: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricsConfig:
    bootstrap_samples: int = 1000
    confidence_level: float = 0.95
    seed: int = 0


def confusion_matrix(rows: Sequence[Scored], classes: int) -> np.ndarray:
    """counts[i, j]: clips of word i predicted as word j."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    for row in rows:
        counts[row.label, row.top[0]] += 1
    return counts


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def top_k_accuracy(rows: Sequence[Scored], k: int) -> float | None:
    return _share(sum(row.label in row.top[:k] for row in rows), len(rows))


def homopheme_hits(rows: Sequence[Scored], labels: Sequence[str],
                   classes: Mapping[str, str]) -> np.ndarray:
    """Per row: the prediction lies in the true word's viseme class (exact hits included)."""
    return np.array([classes[labels[row.top[0]]] == classes[labels[row.label]] for row in rows],
                    dtype=bool)


def bootstrap_interval(correct: np.ndarray, config: MetricsConfig) -> dict:
    """Top-1 with a percentile bootstrap interval over clips, and its standard error."""
    value = float(correct.mean()) if correct.size else None
    if correct.size == 0 or config.bootstrap_samples <= 0:
        return {"value": value, "ci_low": value, "ci_high": value, "std_error": None,
                "confidence": config.confidence_level, "bootstrap_samples": 0}
    rng = np.random.default_rng(config.seed)
    draws = rng.integers(0, correct.size, size=(config.bootstrap_samples, correct.size))
    means = correct[draws].mean(axis=1)
    tail = (1.0 - config.confidence_level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return {"value": value, "ci_low": float(low), "ci_high": float(high),
            "std_error": float(means.std(ddof=1)) if means.size > 1 else 0.0,
            "confidence": config.confidence_level,
            "bootstrap_samples": config.bootstrap_samples}


def calibration(rows: Sequence[Scored], bins: int = CALIBRATION_BINS) -> dict:
    """Expected calibration error over equal-width confidence bins, and the bins."""
    confidence = np.array([row.confidence for row in rows], dtype=np.float64)
    correct = np.array([row.top[0] == row.label for row in rows], dtype=np.float64)
    # A confidence of exactly 1.0 belongs to the last bin, not a bin of its own.
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        mean_conf = float(confidence[inside].mean()) if count else None
        accuracy = float(correct[inside].mean()) if count else None
        if count:
            ece += count / len(rows) * abs(mean_conf - accuracy)
        table.append({"low": b / bins, "high": (b + 1) / bins, "count": count,
                      "confidence": mean_conf, "accuracy": accuracy})
    return {"ece": ece if rows else None, "bins": table}


def per_word(rows: Sequence[Scored], labels: Sequence[str], confusion: np.ndarray,
             homopheme: np.ndarray, classes: Mapping[str, str]) -> list[dict]:
    """Support, precision, recall (= per-word accuracy), top-5 and homopheme accuracy."""
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    correct = np.diag(confusion)
    top5 = np.zeros(len(labels), dtype=np.int64)
    homo = np.zeros(len(labels), dtype=np.int64)
    for row, hit in zip(rows, homopheme):
        top5[row.label] += row.label in row.top[:TOP_K]
        homo[row.label] += bool(hit)
    return [{"word": word, "support": int(support[i]), "predicted": int(predicted[i]),
             "correct": int(correct[i]), "precision": _share(int(correct[i]), int(predicted[i])),
             "recall": _share(int(correct[i]), int(support[i])),
             "accuracy": _share(int(correct[i]), int(support[i])),
             "top5": _share(int(top5[i]), int(support[i])),
             "homopheme_accuracy": _share(int(homo[i]), int(support[i])),
             "viseme_class": classes[word]}
            for i, word in enumerate(labels)]


def confused_pairs(confusion: np.ndarray, labels: Sequence[str], classes: Mapping[str, str],
                   limit: int = CONFUSED_PAIRS) -> list[dict]:
    """The most frequent (true, predicted) mistakes, most frequent first, ties by word."""
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    pairs = [(int(off[i, j]), labels[i], labels[j]) for i, j in zip(*np.nonzero(off))]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    return [{"true": t, "predicted": p, "count": c, "homophemes": classes[t] == classes[p]}
            for c, t, p in pairs[:limit]]


def _natural(value: str) -> list:
    """Sort key that puts "2 letters" before "10 letters"."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", value) if part]


def slice_accuracy(rows: Sequence[Scored]) -> dict[str, list[dict]]:
    """Top-1 per value of every slice key the rows carry, values sorted."""
    totals: dict[str, Counter] = {}
    hits: dict[str, Counter] = {}
    for row in rows:
        for key, value in row.slices.items():
            totals.setdefault(key, Counter())[value] += 1
            hits.setdefault(key, Counter())[value] += row.top[0] == row.label
    return {key: [{"value": value, "count": totals[key][value],
                   "top1": hits[key][value] / totals[key][value]}
                  for value in sorted(totals[key], key=_natural)]
            for key in sorted(totals)}


def error_breakdown(rows: Sequence[Scored], homopheme: np.ndarray) -> dict:
    """Top-1 errors, and how many of them are confusions within a viseme class."""
    wrong = np.array([row.top[0] != row.label for row in rows], dtype=bool)
    errors = int(wrong.sum())
    within = int((wrong & homopheme).sum())
    return {"count": errors, "homopheme": within, "homopheme_share": _share(within, errors)}


def compute_metrics(rows: Sequence[Scored], labels: Sequence[str], classes: Mapping[str, str],
                    config: MetricsConfig = MetricsConfig()) -> tuple[dict, np.ndarray]:
    """The scored part of metrics.json, and the confusion matrix over `labels`."""
    rows = sorted(rows, key=lambda row: row.clip_id)  # bootstrap draws must not depend on order
    confusion = confusion_matrix(rows, len(labels))
    homopheme = homopheme_hits(rows, labels, classes)
    correct = np.array([row.top[0] == row.label for row in rows], dtype=np.float64)
    return {
        "top1": bootstrap_interval(correct, config),
        "top5": top_k_accuracy(rows, TOP_K),
        "homopheme_top1": float(homopheme.mean()) if rows else None,
        "errors": error_breakdown(rows, homopheme),
        "calibration": calibration(rows),
        "per_word": per_word(rows, labels, confusion, homopheme, classes),
        "slices": slice_accuracy(rows),
        "confused_pairs": confused_pairs(confusion, labels, classes),
    }, confusion


def _delta(current: dict, baseline: dict, key: str) -> float | None:
    ours, theirs = current.get(key), baseline.get(key)
    if isinstance(ours, dict):
        ours, theirs = ours.get("value"), (theirs or {}).get("value")
    return None if ours is None or theirs is None else ours - theirs


def compare_to_baseline(current: dict, baseline: dict, path: str) -> dict:
    """Deltas against a baseline metrics.json, with a verdict on top-1.

    The two runs are treated as independent samples: the delta's standard error is the
    root sum of squares of both bootstrap standard errors. On the same test clips the
    runs are paired and the true interval is narrower, so the verdict errs toward
    "no significant difference", never toward a false promotion.
    """
    ours, theirs = current["top1"], baseline.get("top1") or {}
    delta = _delta(current, baseline, "top1")
    result = {"path": path, "top1": theirs.get("value"), "top1_delta": delta,
              "top5_delta": _delta(current, baseline, "top5"),
              "homopheme_top1_delta": _delta(current, baseline, "homopheme_top1"),
              "ci_low": None, "ci_high": None, "verdict": VERDICT_SAME}
    errors = (ours.get("std_error"), theirs.get("std_error"))
    if delta is None or None in errors:
        return result
    z = _normal_quantile(0.5 + ours["confidence"] / 2.0)
    half = z * math.hypot(*errors)
    result.update(ci_low=delta - half, ci_high=delta + half)
    if delta - half > 0:
        result["verdict"] = VERDICT_BETTER
    elif delta + half < 0:
        result["verdict"] = VERDICT_WORSE
    return result


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF, by bisection on math.erf (no SciPy needed)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2.0
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0
