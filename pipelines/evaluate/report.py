"""report.html: one self-contained page a person can open offline and read top to bottom.

The page is built from metrics.json's content and the confusion matrix. It loads nothing:
CSS is inline, plots are PNG data URIs, there is no script, and a Content-Security-Policy
says so to the browser. Every string that comes from the data (words, paths, slice values,
citations) goes through `_text`, so a word like "<script>" shows as text, never markup.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Collection, Iterable, Sequence

import numpy as np

from pipelines.evaluate import plots

PLOT_IDS = ("confusion", "per_word", "reliability")
_VERDICT_CLASSES = {"better": "better", "worse": "worse", "no significant difference": "same"}
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS = """
body{margin:0;background:#f5f6f8;color:#1f2937;font:15px/1.5 system-ui,"Segoe UI",
"DejaVu Sans",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 8px;
border-bottom:2px solid #e5e7eb;padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}
.meta dt{color:#6b7280}.meta dd{margin:0;overflow-wrap:anywhere}
.note{color:#4b5563;font-size:14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{flex:1 1 200px;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px}
.card .value{font-size:28px;font-weight:600}.card .label{color:#6b7280;font-size:13px}
.verdict{border-radius:8px;padding:12px 16px;margin:12px 0;border-left:6px solid}
.verdict.better{background:#ecfdf5;border-color:#059669}
.verdict.worse{background:#fef2f2;border-color:#dc2626}
.verdict.same{background:#f3f4f6;border-color:#6b7280}
.verdict .title{font-size:18px;font-weight:600}
figure{margin:16px 0}figure img{max-width:100%;height:auto;border:1px solid #e5e7eb}
figcaption{color:#4b5563;font-size:13px}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
th,td{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:left}
th{background:#f9fafb}td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{max-height:480px;overflow:auto;border:1px solid #e5e7eb;display:inline-block}
.scroll table{margin:0}.scroll th{position:sticky;top:0}
.track{display:inline-block;width:100px;height:10px;background:#e5e7eb;vertical-align:middle}
.bar{display:block;height:10px;background:#2563a8}
.tag{background:#dbeafe;border-radius:4px;padding:0 6px;font-size:12px}
.groups li{margin:2px 0}
"""


def _text(value) -> str:
    return html.escape(str(value), quote=True)


def _percent(value) -> str:
    return "n/a" if value is None else f"{100.0 * value:.1f}%"


def _points(value) -> str:
    """A difference of two accuracies, in percentage points with its sign."""
    return "n/a" if value is None else f"{100.0 * value:+.1f} pp"


def _row(cells: Sequence, numeric: Collection[int]) -> str:
    return "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                   for i, c in enumerate(cells))


def _table(head: Sequence[str], rows: Iterable[Sequence], numeric: Collection[int] = (),
           scroll: bool = False) -> str:
    """An HTML table; `head` and `rows` are markup already (escape data before)."""
    body = "".join(f"<tr>{_row(row, numeric)}</tr>" for row in rows)
    table = f"<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{body}</table>"
    return f'<div class="scroll">{table}</div>' if scroll else table


def _context_text(context: dict | None) -> str:
    if not context:
        return "none (each clip scored alone)"
    return _text(f"{context.get('model', '')}, {context.get('classes')} word classes, weight "
                 f"{context.get('weight')}, from {context.get('training_videos')} training "
                 f"videos; top-1 without it {_percent(context.get('top1_without_context'))}")


def _header(metrics: dict, labels: Sequence[str]) -> str:
    counts = metrics.get("counts", {})
    fields = [("Models", "<br>".join(_text(m) for m in metrics.get("models", []))),
              ("Data", _text(metrics.get("data", ""))), ("Split", _text(metrics.get("split", ""))),
              ("Created", _text(metrics.get("created", ""))),
              ("Test-time views", _text(", ".join(metrics.get("tta", [])) or "none")),
              ("Sentence context", _context_text(metrics.get("context"))),
              ("Vocabulary", f"{len(labels)} words"),
              ("Clips", f"{counts.get('records', 0)} read, {counts.get('scored', 0)} scored, "
                        f"{counts.get('out_of_vocabulary', 0)} out of vocabulary, "
                        f"{counts.get('dead_letters', 0)} dead letters")]
    meta = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in fields)
    return ("<h1>lipflow evaluation</h1>"
            f'<dl class="meta">{meta}</dl>'
            '<p class="note">Out-of-vocabulary clips (words the model has no class for) are '
            "not scored: they count in no accuracy below and are listed at the end. Dead "
            "letters are clips that failed to read or to run and are not scored either.</p>")


def _card(value: str, label: str) -> str:
    return f'<div class="card"><div class="value">{value}</div><div class="label">{label}</div></div>'


def _interval(top1: dict) -> str:
    if top1.get("value") is None:
        return "no clips scored"
    if not top1.get("bootstrap_samples"):
        return "no interval: bootstrap off"
    return (f"{round(100 * top1.get('confidence', 0.95))}% CI {_percent(top1.get('ci_low'))} to "
            f"{_percent(top1.get('ci_high'))}, {top1['bootstrap_samples']} bootstrap samples "
            "over clips")


def _headline(metrics: dict) -> str:
    top1, errors = metrics.get("top1") or {}, metrics.get("errors") or {}
    share = (f"{errors.get('homopheme', 0)} of {errors.get('count', 0)} top-1 errors "
             "are confusions within a viseme class")
    return ("<h2>Headline</h2><div class=\"cards\">"
            + _card(_percent(top1.get("value")), f"top-1 accuracy<br>{_interval(top1)}")
            + _card(_percent(metrics.get("top5")), "top-5 accuracy")
            + _card(_percent(metrics.get("homopheme_top1")), "homopheme-aware top-1")
            + _card(_percent(errors.get("homopheme_share")), f"of errors are homophemes<br>{share}")
            + "</div>" + _verdict(metrics.get("baseline"), top1.get("confidence", 0.95)))


def _verdict(baseline: dict | None, confidence: float) -> str:
    if not baseline:
        return '<p class="note">No baseline was given, so there is no comparison.</p>'
    verdict = str(baseline.get("verdict", ""))
    interval = (f"{round(100 * confidence)}% CI {_points(baseline.get('ci_low'))} to "
                f"{_points(baseline.get('ci_high'))}" if baseline.get("ci_low") is not None
                else "no CI: a run without a bootstrap standard error")
    return (f'<div class="verdict {_VERDICT_CLASSES.get(verdict, "same")}">'
            f'<div class="title">Against the baseline: {_text(verdict)}</div>'
            f"<div>Baseline {_text(baseline.get('path', ''))}, top-1 "
            f"{_percent(baseline.get('top1'))}.</div>"
            f"<div>Top-1 {_points(baseline.get('top1_delta'))} ({interval}); top-5 "
            f"{_points(baseline.get('top5_delta'))}; homopheme-aware top-1 "
            f"{_points(baseline.get('homopheme_top1_delta'))}.</div></div>")


def _homophemes(metrics: dict) -> str:
    mapping = metrics.get("viseme_mapping") or {}
    groups = metrics.get("homopheme_groups") or []
    listed = ("<ul class=\"groups\">" + "".join(
        f"<li>{' &middot; '.join(_text(w) for w in group)}</li>" for group in groups) + "</ul>"
        if groups else "<p>No two words of the vocabulary share a viseme class, so "
        "homopheme-aware accuracy equals top-1.</p>")
    return ("<h2>Homophemes</h2>"
            "<p>Words such as <i>mark</i>, <i>park</i> and <i>bark</i> look the same on the lips: "
            "their sounds map to the same visemes. Homopheme-aware accuracy counts a prediction "
            "as right when it falls in the true word's viseme class; its gap to top-1 is the part "
            "of the error that the mouth alone cannot resolve.</p>"
            f"<p>Viseme mapping: <b>{_text(mapping.get('name', 'unknown'))}</b>, "
            f"{_text(mapping.get('citation', ''))}</p>"
            f"<h3>Groups of homophemes in the vocabulary ({len(groups)})</h3>{listed}")


def _image(plot_id: str, png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img id="{plot_id}" alt="{plot_id.replace("_", " ")} plot" '
            f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>')


def _plots(metrics: dict, labels: Sequence[str], confusion: np.ndarray) -> str:
    per_word = metrics.get("per_word") or []
    seen = sum(1 for row in per_word if row.get("support"))
    capped = (f" Only the {plots.PER_WORD_BARS} words with the most clips are drawn; "
              "the table below has every word." if seen > plots.PER_WORD_BARS else "")
    return ("<h2>Plots</h2>"
            + _image("confusion", plots.confusion_png(labels, confusion),
                     f"Up to {plots.CONFUSED_WORDS} words from the largest off-diagonal counts. "
                     "Each row is divided by all clips of its true word; cells show clip counts.")
            + _image("per_word", plots.per_word_png(per_word),
                     "Dark bars: exact top-1 per word. Light bars: homopheme-aware accuracy."
                     + capped)
            + _image("reliability", plots.reliability_png(metrics.get("calibration") or {}),
                     "A calibrated model's bars follow the diagonal; ECE is the clip-weighted "
                     "mean gap between confidence and accuracy."))


def _per_word_table(per_word: list[dict]) -> str:
    rows = [(_text(r["word"]), _text(r.get("viseme_class", "")), r["support"], r["predicted"],
             r["correct"], _percent(r.get("precision")), _percent(r.get("accuracy")),
             _percent(r.get("top5")), _percent(r.get("homopheme_accuracy")))
            for r in per_word]
    head = ("word", "viseme class", "clips", "predicted", "correct", "precision",
            "accuracy (recall)", "top-5", "homopheme-aware")
    return f"<h2>Per word ({len(rows)})</h2>" + _table(head, rows, set(range(2, 9)), scroll=True)


def _pairs_table(pairs: list[dict]) -> str:
    if not pairs:
        return "<h2>Most confused pairs</h2><p>No confusions.</p>"
    rows = [(_text(p["true"]), _text(p["predicted"]), p["count"],
             '<span class="tag">homophemes</span>' if p.get("homophemes") else "")
            for p in pairs]
    return ("<h2>Most confused pairs</h2>"
            + _table(("true word", "predicted as", "clips", "same viseme class"), rows, {2}))


def _slice_tables(slices: dict) -> str:
    if not slices:
        return "<h2>Accuracy by slice</h2><p>No slices.</p>"
    tables = []
    for key, values in slices.items():
        rows = [(_text(v["value"]), v["count"], _percent(v.get("top1")),
                 f'<span class="track"><span class="bar" '
                 f'style="width:{round(100 * (v.get("top1") or 0))}px"></span></span>')
                for v in values]
        tables.append(f"<h3>{_text(key)}</h3>" + _table((_text(key), "clips", "top-1", ""),
                                                       rows, {1, 2}))
    return "<h2>Accuracy by slice</h2>" + "".join(tables)


def _oov_table(words: list[dict]) -> str:
    title = "<h2>Out-of-vocabulary words (not scored)</h2>"
    if not words:
        return title + "<p>Every clip's word is in the model vocabulary.</p>"
    rows = [(_text(w["word"]), w["count"]) for w in words]
    return title + _table(("word", "clips"), rows, {1}, scroll=True)


def render_report(metrics: dict, labels: Sequence[str], confusion: np.ndarray) -> str:
    """The whole report as one HTML document.

    metrics: metrics.json's content. confusion: int [V, V] over `labels` (the model
    vocabulary); confusion[i, j] counts clips of true word labels[i] predicted as labels[j].
    """
    confusion = np.asarray(confusion)
    if confusion.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion has shape {confusion.shape}, expected "
                         f"{(len(labels), len(labels))} for {len(labels)} labels")
    title = f"lipflow evaluation: {metrics.get('split', '')} of {metrics.get('data', '')}"
    body = (_header(metrics, labels) + _headline(metrics) + _homophemes(metrics)
            + _plots(metrics, labels, confusion) + _per_word_table(metrics.get("per_word") or [])
            + _pairs_table(metrics.get("confused_pairs") or [])
            + _slice_tables(metrics.get("slices") or {})
            + _oov_table(metrics.get("out_of_vocabulary_words") or []))
    return html_page(title, body)


def write_report(path: str, metrics: dict, labels: Sequence[str], confusion: np.ndarray) -> str:
    """Writes the report to a local `path` as UTF-8; returns the path."""
    Path(path).write_text(render_report(metrics, labels, confusion), encoding="utf-8")
    return path


# The building blocks other self-contained lipflow pages share (predict's predictions.html).
escaped = _text
html_table = _table
png_figure = _image
PAGE_CSS = _CSS
PAGE_POLICY = _POLICY


def html_page(title: str, body: str, css: str = "") -> str:
    """A whole self-contained document in the report's style around `body` (markup)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_text(title)}</title><style>{_CSS}{css}</style></head>"
            f"<body><main>{body}</main></body></html>\n")
