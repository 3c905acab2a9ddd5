"""Word classes for a class bigram: the exchange algorithm on transcript pair counts.

A word bigram counted on a lip-reading dataset's transcripts is sparse: most word pairs
are seen once or never, and trusting those counts says more about which sentences were
recorded than about the language. A class bigram, P(b | a) = P(C(b) | C(a)) P(b | C(b)),
shares the evidence of all words of a class; the classes are found without labels by the
exchange algorithm (Kneser and Ney 1993; Martin, Liermann and Ney 1998): each word in turn
moves to the class that most raises the training likelihood of the class bigram, until
no move helps. How many classes is chosen on held-out transcripts (`choose_classes`).
"""

from __future__ import annotations

import numpy as np

MAX_ITERATIONS = 20


def _xlogx(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values * np.log(np.where(values > 0, values, 1.0)), 0.0)


def class_counts(pairs: np.ndarray, assign: np.ndarray, classes: int) -> np.ndarray:
    one_hot = np.zeros((assign.size, classes))
    one_hot[np.arange(assign.size), assign] = 1.0
    return one_hot.T @ pairs @ one_hot


def _move_gains(counts: np.ndarray, outgoing: np.ndarray, incoming: np.ndarray,
                self_pairs: float) -> np.ndarray:
    """Change of sum N log N - sum Nout log Nout - sum Nin log Nin for each class k when
    a word with these per-class pair counts (itself excluded) joins class k."""
    diagonal = np.diag(counts)
    row_new = _xlogx(counts + outgoing[None, :]).sum(axis=1) - _xlogx(diagonal + outgoing)
    col_new = _xlogx(counts + incoming[:, None]).sum(axis=0) - _xlogx(diagonal + incoming)
    row_old = _xlogx(counts).sum(axis=1) - _xlogx(diagonal)
    col_old = _xlogx(counts).sum(axis=0) - _xlogx(diagonal)
    cells = (row_new + col_new + _xlogx(diagonal + outgoing + incoming + self_pairs)
             - row_old - col_old - _xlogx(diagonal))
    out_totals, in_totals = counts.sum(axis=1), counts.sum(axis=0)
    total_out, total_in = outgoing.sum(), incoming.sum()
    shared_out = _xlogx(out_totals + incoming).sum()
    shared_in = _xlogx(in_totals + outgoing).sum()
    outs = (shared_out - _xlogx(out_totals + incoming)
            + _xlogx(out_totals + incoming + total_out + self_pairs) - _xlogx(out_totals).sum())
    ins = (shared_in - _xlogx(in_totals + outgoing)
           + _xlogx(in_totals + outgoing + total_in + self_pairs) - _xlogx(in_totals).sum())
    return cells - outs - ins


def exchange_classes(pairs: np.ndarray, classes: int, fixed: int) -> np.ndarray:
    """Class of each word (rows of the square pair-count matrix `pairs`); word `fixed`
    (the start symbol) keeps a class of its own, the last one. Deterministic: words start
    in classes by frequency rank and are visited in that order."""
    size = pairs.shape[0]
    movable = [w for w in np.argsort(-(pairs.sum(axis=0) + pairs.sum(axis=1)), kind="stable")
               if w != fixed]
    classes = max(1, min(classes, len(movable)))
    assign = np.empty(size, dtype=np.int64)
    assign[movable] = np.arange(len(movable)) % classes
    assign[fixed] = classes
    counts = class_counts(pairs, assign, classes + 1)
    for _ in range(MAX_ITERATIONS):
        moved = 0
        for word in movable:
            out_row, in_col = pairs[word].copy(), pairs[:, word].copy()
            self_pairs = out_row[word]
            out_row[word] = in_col[word] = 0.0
            outgoing = np.bincount(assign, weights=out_row, minlength=classes + 1)
            incoming = np.bincount(assign, weights=in_col, minlength=classes + 1)
            current = assign[word]
            counts[current, :] -= outgoing
            counts[:, current] -= incoming
            counts[current, current] -= self_pairs
            gains = _move_gains(counts, outgoing, incoming, self_pairs)[:classes]
            best = int(np.argmax(gains)) if gains.max() > gains[current] + 1e-9 else current
            counts[best, :] += outgoing
            counts[:, best] += incoming
            counts[best, best] += self_pairs
            moved += best != current
            assign[word] = best
        if not moved:
            break
    return assign
