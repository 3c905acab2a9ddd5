"""The promotion gate: a paired comparison of candidate and production on the same clips.

Both models are scored on the same test clips, so the comparison is paired: what counts
is the clips one model gets right and the other wrong. Two tests, both must agree before
a candidate replaces production:

- exact McNemar (one-sided): among the discordant clips, is "candidate right, production
  wrong" more frequent than chance (Binomial(b + c, 1/2)) would make it;
- paired bootstrap of the top-1 difference: resampling clips (both models' outcomes
  together), the lower confidence bound of candidate - production must exceed `margin`.

Pure numpy; nothing here reads files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GateConfig:
    """margin: top-1 gain (a share, 0.01 = one point) the candidate must exceed with
    confidence `confidence`; bootstrap resamples and their seed."""

    margin: float = 0.0
    confidence: float = 0.95
    bootstrap_samples: int = 2000
    seed: int = 0

    def __post_init__(self):
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"confidence must be in [0.5, 1), got {self.confidence!r}")
        if not -1.0 < self.margin < 1.0:
            raise ValueError(f"margin must be in (-1, 1), got {self.margin!r}")
        if self.bootstrap_samples < 100:
            raise ValueError(f"bootstrap_samples must be >= 100, got {self.bootstrap_samples!r}")


def mcnemar_exact(candidate_only: int, production_only: int) -> tuple[float, float]:
    """(one-sided p that the candidate is better, two-sided p) of the exact McNemar test.

    candidate_only: clips the candidate gets right and production wrong (b);
    production_only: the reverse (c). Under no difference b ~ Binomial(b + c, 1/2).
    """
    if candidate_only < 0 or production_only < 0:
        raise ValueError(f"counts must be >= 0, got {candidate_only!r}, {production_only!r}")
    n = candidate_only + production_only
    if n == 0:
        return 1.0, 1.0
    tail = [math.comb(n, k) for k in range(candidate_only, n + 1)]
    one_sided = sum(tail) / 2 ** n
    low = min(candidate_only, production_only)
    two_sided = min(1.0, 2 * sum(math.comb(n, k) for k in range(0, low + 1)) / 2 ** n)
    return one_sided, two_sided


def paired_bootstrap(candidate: np.ndarray, production: np.ndarray, samples: int,
                     confidence: float, seed: int) -> tuple[float, float]:
    """(lower one-sided bound, upper bound) of mean(candidate - production) at `confidence`.

    candidate, production: bool [N], whether each model's top-1 is right on clip i (the
    same clip at the same index). Clips are resampled with both outcomes together.
    """
    if candidate.shape != production.shape or candidate.ndim != 1 or not candidate.size:
        raise ValueError(f"need two equal, non-empty 1-D outcome arrays, got "
                         f"{candidate.shape!r} and {production.shape!r}")
    difference = candidate.astype(np.float64) - production.astype(np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, difference.size, size=(samples, difference.size))
    means = difference[picks].mean(axis=1)
    return (float(np.quantile(means, 1.0 - confidence)),
            float(np.quantile(means, confidence)))


def compare(candidate: np.ndarray, production: np.ndarray, config: GateConfig) -> dict:
    """The gate's record: counts, both tests, and `promote` (both say better by the margin)."""
    candidate = np.asarray(candidate, bool)
    production = np.asarray(production, bool)
    only_candidate = int(np.count_nonzero(candidate & ~production))
    only_production = int(np.count_nonzero(production & ~candidate))
    one_sided, two_sided = mcnemar_exact(only_candidate, only_production)
    low, high = paired_bootstrap(candidate, production, config.bootstrap_samples,
                                 config.confidence, config.seed)
    alpha = 1.0 - config.confidence
    delta = float(candidate.mean() - production.mean())
    promote = bool(one_sided < alpha and low > config.margin and delta > config.margin)
    return {
        "clips": int(candidate.size), "candidate_top1": float(candidate.mean()),
        "production_top1": float(production.mean()), "top1_delta": delta,
        "candidate_only_right": only_candidate, "production_only_right": only_production,
        "mcnemar_p_one_sided": one_sided, "mcnemar_p_two_sided": two_sided,
        "bootstrap_delta_low": low, "bootstrap_delta_high": high,
        "margin": config.margin, "confidence": config.confidence,
        "bootstrap_samples": config.bootstrap_samples, "promote": promote,
        "reason": _reason(promote, delta, low, one_sided, config),
    }


def _reason(promote: bool, delta: float, low: float, p: float, config: GateConfig) -> str:
    if promote:
        return (f"better: top-1 +{delta:.3f}, lower bound {low:.3f} > margin {config.margin}, "
                f"McNemar p {p:.4f}")
    return (f"not better by the margin with {config.confidence:.0%} confidence: top-1 delta "
            f"{delta:+.3f}, bootstrap lower bound {low:+.3f} (margin {config.margin}), "
            f"McNemar one-sided p {p:.4f}")


def paired_outcomes(candidate_rows: list[dict], production_rows: list[dict]
                    ) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """Joins two predictions.jsonl row lists on clip id.

    Returns candidate and production correctness bool [N] over every clip either model
    scored (sorted by clip id), those ids, and how many clips only one of them scored. A
    clip a model did not score counts as wrong for that model: dropping it instead would
    let a model that fails on hard clips (out of its vocabulary, an error) skip them.
    """
    candidate = {row["clip_id"]: bool(row["correct"]) for row in candidate_rows}
    production = {row["clip_id"]: bool(row["correct"]) for row in production_rows}
    clips = sorted(candidate.keys() | production.keys())
    unpaired = {"candidate_only": len(candidate.keys() - production.keys()),
                "production_only": len(production.keys() - candidate.keys())}
    return (np.array([candidate.get(c, False) for c in clips], bool),
            np.array([production.get(c, False) for c in clips], bool), clips, unpaired)
