"""The report's figures as PNG bytes: confusion heat map, per-word accuracy, reliability.

Each figure is a plain matplotlib `Figure` on its own Agg canvas (no pyplot), so drawing
keeps no global state and needs no display. Words come from the data, so every figure is
drawn with mathtext off: a word like "$x$" stays text instead of becoming a formula.
Every figure draws something readable for degenerate inputs (one word, no scored clips,
no confusions) instead of raising.
"""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

CONFUSED_WORDS = 20        # words in the confusion heat map
PER_WORD_BARS = 60         # bars in the per-word chart; beyond it the table has them all
LABEL_CHARS = 18           # longer words are cut in tick labels (the tables show them whole)
DPI = 100
ACCURACY_COLOUR = "#2563a8"
HOMOPHEME_COLOUR = "#a9c8ea"
_STYLE = {"text.parse_math": False, "font.size": 9, "axes.titlesize": 10,
          "axes.spines.top": False, "axes.spines.right": False}


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _short(word: str) -> str:
    return word if len(word) <= LABEL_CHARS else word[:LABEL_CHARS - 1] + "\u2026"


def _message_png(title: str, message: str) -> bytes:
    """A small figure saying why there is nothing to plot."""
    figure = Figure(figsize=(7, 1.6), layout="constrained")
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title)
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555",
              transform=axes.transAxes)
    return _png(figure)


def most_confused(confusion: np.ndarray, limit: int = CONFUSED_WORDS) -> list[int]:
    """Indices of up to `limit` words taken from the largest off-diagonal counts, in the
    order they first appear there (so the worst pairs sit together near the top left)."""
    off = np.asarray(confusion, dtype=np.int64).copy()
    np.fill_diagonal(off, 0)
    chosen: list[int] = []
    for flat in np.argsort(-off, axis=None, kind="stable"):
        if off.flat[flat] == 0 or len(chosen) >= limit:
            break
        for index in np.unravel_index(flat, off.shape):
            if int(index) not in chosen and len(chosen) < limit:
                chosen.append(int(index))
    return chosen


def confusion_png(labels: Sequence[str], confusion: np.ndarray,
                  limit: int = CONFUSED_WORDS) -> bytes:
    """Row-normalised heat map over the most confused words; cells show clip counts."""
    with matplotlib.rc_context(_STYLE):
        title = "Confusions among the most confused words"
        if confusion.sum() == 0:
            return _message_png(title, "no scored clips")
        chosen = most_confused(confusion, limit)
        if not chosen:
            return _message_png(title, "no confusions: every scored clip was predicted right")
        # Rows are divided by all clips of the true word, not only those predicted as a
        # shown word, so a cell reads as "share of this word's clips".
        totals = np.maximum(confusion.sum(axis=1), 1)[chosen]
        counts = confusion[np.ix_(chosen, chosen)]
        shares = counts / totals[:, None]
        return _png(_heat_map([_short(labels[i]) for i in chosen], counts, shares, title))


def _heat_map(names: list[str], counts: np.ndarray, shares: np.ndarray, title: str) -> Figure:
    side = 2.6 + 0.32 * len(names)
    figure = Figure(figsize=(side + 1.4, side), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = np.arange(len(names))
    axes.set_xticks(ticks, names, rotation=60, ha="right", rotation_mode="anchor")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted word")
    axes.set_ylabel("true word")
    axes.set_title(f"{title} (top {len(names)})")
    for (row, column), count in np.ndenumerate(counts):
        if count:
            colour = "white" if shares[row, column] > 0.55 else "#1f2937"
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7,
                      color=colour)
    bar = figure.colorbar(image, ax=axes, shrink=0.8, format=PercentFormatter(1.0))
    bar.set_label("share of the true word's clips")
    return figure


def per_word_png(per_word: Sequence[dict], limit: int = PER_WORD_BARS) -> bytes:
    """Horizontal bars of per-word top-1, weakest first, homopheme-aware accuracy behind.

    Over `limit` words, the bars show the words with the most clips (their accuracies
    are the steadiest); words without clips have no accuracy and are left out.
    """
    with matplotlib.rc_context(_STYLE):
        seen = [row for row in per_word if row.get("support")]
        if not seen:
            return _message_png("Per-word accuracy", "no scored clips")
        shown = sorted(seen, key=lambda row: -row["support"])[:limit]
        shown.sort(key=lambda row: (row["accuracy"] or 0.0, row["word"]))
        return _png(_bars(shown, _per_word_title(len(shown), len(seen), len(per_word))))


def _per_word_title(shown: int, seen: int, total: int) -> str:
    title = "Per-word accuracy, weakest first"
    if shown < seen:
        title += f" ({shown} of {seen} words shown: those with the most clips)"
    unseen = total - seen
    if unseen:
        title += f"\n{unseen} vocabulary word{'s' if unseen > 1 else ''} without clips not shown"
    return title


def _bars(rows: list[dict], title: str) -> Figure:
    figure = Figure(figsize=(8, 1.5 + 0.2 * len(rows)), layout="constrained")
    axes = figure.add_subplot()
    places = np.arange(len(rows))
    # Homopheme-aware accuracy is never below top-1, so drawn behind it, only its surplus
    # shows: the share of a word's clips lost to look-alike words.
    axes.barh(places, [row.get("homopheme_accuracy") or 0.0 for row in rows], height=0.7,
              color=HOMOPHEME_COLOUR, label="homopheme-aware (viseme class right)")
    axes.barh(places, [row["accuracy"] or 0.0 for row in rows], height=0.7,
              color=ACCURACY_COLOUR, label="top-1 (exact word)")
    axes.set_yticks(places, [f"{_short(row['word'])} ({row['support']})" for row in rows])
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.set_xlim(0.0, 1.0)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("accuracy (clips per word in brackets)")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    figure.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return figure


def reliability_png(calibration: dict) -> bytes:
    """Accuracy against confidence per bin with the diagonal, and the clips in each bin."""
    with matplotlib.rc_context(_STYLE):
        bins = calibration.get("bins") or []
        ece = calibration.get("ece")
        figure = Figure(figsize=(6.5, 6), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        top.plot([0, 1], [0, 1], linestyle="--", color="#888888", label="perfectly calibrated")
        filled = [b for b in bins if b.get("count")]
        top.bar([b["low"] for b in filled], [b["accuracy"] for b in filled],
                width=[b["high"] - b["low"] for b in filled], align="edge",
                color=ACCURACY_COLOUR, alpha=0.8, edgecolor="white", label="accuracy in bin")
        top.plot([b["confidence"] for b in filled], [b["accuracy"] for b in filled], "o",
                 color="#c2410c", markersize=4, label="bin (mean confidence, accuracy)")
        if not filled:
            top.text(0.65, 0.25, "no scored clips", ha="center", fontsize=12, color="#555555")
        top.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
        top.yaxis.set_major_formatter(PercentFormatter(1.0))
        top.set_title("Reliability diagram, ECE " + ("n/a" if ece is None else f"{ece:.3f}"))
        top.legend(loc="upper left", fontsize=8)
        _bin_counts(bottom, bins)
        return _png(figure)


def _bin_counts(axes, bins: list[dict]) -> None:
    counts = [b.get("count", 0) for b in bins]
    axes.bar([b["low"] for b in bins], counts, width=[b["high"] - b["low"] for b in bins],
             align="edge", color="#9ca3af", edgecolor="white")
    for b, count in zip(bins, counts):
        axes.text((b["low"] + b["high"]) / 2, count, str(count), ha="center", va="bottom",
                  fontsize=7)
    axes.set_ylim(0, max(counts, default=0) * 1.3 + 1)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    axes.set(xlabel="confidence of the top-1 prediction", ylabel="clips")
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
