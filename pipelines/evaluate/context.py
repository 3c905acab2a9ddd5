"""Sentence context: a class bigram of the train split's transcripts, decoded with each
clip's neighbours.

A word clip's model sees about a second of mouth movement and no language. Speech
recognisers pair such a per-word model with a language model; here the language model is
a class bigram counted on the train split's transcripts (consecutive words of one video,
by `word_index`; classes from pipelines.evaluate.word_classes), and each run of
consecutive scored clips of a video is decoded as a chain:

    p(w_1..w_n | clips)  ~  prod_i p(w_i | clip_i) * [P(w_i | w_i-1) / P(w_i)] ** weight

p(w | clip) is the model's posterior; dividing the bigram by the train split's word
frequency P(w) turns the posterior into a likelihood (the model already learned that
prior), and `weight` 0 gives back the model alone. With classes the ratio is
P(C(b) | C(a)) / P(C(b)): a word's share of its class cancels, so the context says which
slot comes next and never which word of a slot, which a sparse word bigram would guess
from the few sentences recorded. Forward-backward returns each clip's marginal over
words, so top-1, top-5, confidences and every metric downstream read the decoded
distribution. A run breaks where a word of the transcript was not scored (out of
vocabulary, dropped by quality, in another split), and only a run that starts at the
transcript's first word uses the start-of-transcript row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from pipelines.evaluate.word_classes import class_counts, exchange_classes

START = "<s>"
# Held-out gains under this (nats per word pair) are noise: the fewest such classes win.
TOLERANCE = 0.01
MAX_CLASSES = 128  # more classes than this find no more structure in transcripts this size
ALONE_SLICE = "model_alone"  # slice: whether the model without context had the clip right
_FLOOR = 1e-12


def transcript_pairs(entries: Iterable[tuple[int, str]]) -> Counter:
    """(word_index, word) entries of one video -> counts of its consecutive pairs."""
    ordered = sorted(set(entries))
    pairs: Counter = Counter()
    previous_index, previous_word = -1, START
    for index, word in ordered:
        if index == previous_index + 1 or index == 0:
            pairs[(START if index == 0 else previous_word, word)] += 1
        previous_index, previous_word = index, word
    return pairs


@dataclass(frozen=True)
class BigramContext:
    """log [P(b | a) / P(b)] for a in vocabulary + START (last row), b in vocabulary."""

    vocabulary: tuple[str, ...]
    log_ratio: np.ndarray      # [V + 1, V]
    weight: float
    classes: int
    held_out: dict             # classes tried -> held-out log-likelihood per pair
    pairs: int                 # pair tokens counted

    def describe(self) -> dict:
        return {"model": "class bigram (exchange algorithm)", "weight": self.weight,
                "classes": self.classes, "pairs_counted": self.pairs,
                "held_out_log_likelihood": self.held_out}


def pair_matrix(transcripts: Sequence[Counter], index: dict[str, int]) -> np.ndarray:
    """Pair counts [V + 1, V + 1] (START last) of words in `index`; others are ignored."""
    size = len(index)
    table = np.zeros((size + 1, size + 1))
    for pairs in transcripts:
        for (first, second), count in pairs.items():
            row = size if first == START else index.get(first)
            if row is not None and second in index:
                table[row, index[second]] += count
    return table


def fit_class_bigram(table: np.ndarray, classes: int):
    """(class of each word, smoothed class transitions, class prior, P(word | class))."""
    start = table.shape[0] - 1
    assign = exchange_classes(table, classes, fixed=start)
    count = assign.max() + 1
    counts = class_counts(table, assign, count)
    arrivals = counts.sum(axis=0) + 1.0
    prior = arrivals / arrivals.sum()
    transitions = (counts + prior[None, :]) / (counts.sum(axis=1, keepdims=True) + 1.0)
    frequency = table.sum(axis=0) + 1.0
    class_totals = np.bincount(assign, weights=frequency, minlength=count)
    return assign, transitions, prior, frequency / class_totals[assign]


def held_out_likelihood(train: np.ndarray, held: np.ndarray, classes: int) -> float:
    """Mean log-probability of the held-out pairs under a class bigram fitted on `train`."""
    assign, transitions, _, word_given_class = fit_class_bigram(train, classes)
    first, second = np.nonzero(held)
    weights = held[first, second]
    logs = (np.log(transitions[assign[first], assign[second]])
            + np.log(word_given_class[second]))
    return float((weights * logs).sum() / max(weights.sum(), 1.0))


def class_candidates(words: int) -> list[int]:
    """Class counts tried: 1, 2, 3, 4, 6, 9, 13, 19, ... (about x1.5 a step) up to the
    vocabulary size or MAX_CLASSES."""
    limit, candidates, value = min(words, MAX_CLASSES), [], 1
    while value < limit:
        candidates.append(value)
        value = max(value + 1, value * 3 // 2)
    return candidates + [limit]


def bigram_context(transcripts: Sequence[Counter], vocabulary: Sequence[str], weight: float,
                   classes: int = 0) -> BigramContext:
    """The class bigram over `vocabulary` from each training video's pair counts (in a
    fixed order); `classes` 0 chooses how many on every tenth video held out."""
    index = {w: i for i, w in enumerate(vocabulary)}
    held_out: dict = {}
    if classes <= 0:
        train = pair_matrix([t for i, t in enumerate(transcripts) if i % 10 != 9], index)
        held = pair_matrix([t for i, t in enumerate(transcripts) if i % 10 == 9], index)
        for candidate in class_candidates(len(index)):
            held_out[candidate] = round(held_out_likelihood(train, held, candidate), 4)
        best = max(held_out.values())
        classes = min(k for k, value in held_out.items() if value >= best - TOLERANCE)
    table = pair_matrix(transcripts, index)
    assign, transitions, prior, _ = fit_class_bigram(table, classes)
    size = len(index)
    log_ratio = (np.log(transitions[assign][:, assign[:size]])
                 - np.log(prior[assign[:size]])[None, :])
    return BigramContext(tuple(vocabulary), log_ratio, weight, int(classes),
                         {str(k): v for k, v in held_out.items()}, int(table.sum()))


def _logsumexp(values: np.ndarray, axis: int) -> np.ndarray:
    top = values.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(values - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def decode_run(posteriors: np.ndarray, context: BigramContext, starts_transcript: bool
               ) -> np.ndarray:
    """Posteriors [n, V] of n consecutive words -> marginals [n, V] under the bigram."""
    emission = np.log(np.maximum(np.asarray(posteriors, dtype=np.float64), _FLOOR))
    transition = context.weight * context.log_ratio[:-1]
    start = context.weight * context.log_ratio[-1] if starts_transcript else 0.0
    steps = emission.shape[0]
    forward = np.empty_like(emission)
    backward = np.zeros_like(emission)
    forward[0] = emission[0] + start
    for i in range(1, steps):
        forward[i] = emission[i] + _logsumexp(forward[i - 1][:, None] + transition, axis=0)
    for i in range(steps - 2, -1, -1):
        backward[i] = _logsumexp(transition + (emission[i + 1] + backward[i + 1])[None, :],
                                 axis=1)
    joint = forward + backward
    joint -= _logsumexp(joint, axis=1)[:, None]
    return np.exp(joint).astype(np.float32)


def consecutive_runs(indices: Sequence[int]) -> list[list[int]]:
    """Positions of `indices` (sorted word indices) grouped into runs of consecutive words."""
    runs: list[list[int]] = []
    for position, word_index in enumerate(indices):
        if runs and word_index == indices[runs[-1][-1]] + 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    return runs


def decode_video(items: Sequence[tuple[int, np.ndarray]], context: BigramContext
                 ) -> list[np.ndarray]:
    """(word_index, posterior) of one video's scored clips, in any order -> their
    marginals, in the same order."""
    order = sorted(range(len(items)), key=lambda i: items[i][0])
    indices = [items[i][0] for i in order]
    result: list = [None] * len(items)
    for run in consecutive_runs(indices):
        members = [order[p] for p in run]
        marginals = decode_run(np.stack([items[m][1] for m in members]), context,
                               starts_transcript=indices[run[0]] == 0)
        for member, row in zip(members, marginals):
            result[member] = row
    return result
