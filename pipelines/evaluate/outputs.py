"""Stage 5: the summary -> metrics.json, confusion.csv, per_word.csv, report.html, manifest.json.

`metrics.json` is the machine-readable result (its fields are documented in
docs/outputs.md under "Evaluation outputs"; `schema_version` changes when they do). The
launcher knows everything that does not come from the data (models, vocabulary,
viseme classes, the baseline document) and passes it in as `RunContext`.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from dataclasses import dataclass, field

from apache_beam.io.filesystems import FileSystems

from pipelines.atomic_write import write_atomically
from pipelines.evaluate.context import ALONE_SLICE
from pipelines.evaluate.metrics import (METRICS_SCHEMA_VERSION, MetricsConfig,
                                        compare_to_baseline, compute_metrics)
from pipelines.evaluate.outcomes import summary_counts

METRICS_FILE = "metrics.json"
CONFUSION_FILE = "confusion.csv"
PER_WORD_FILE = "per_word.csv"
REPORT_FILE = "report.html"
MANIFEST_FILE = "manifest.json"
PER_WORD_COLUMNS = ("word", "support", "predicted", "correct", "precision", "recall",
                    "accuracy", "top5", "homopheme_accuracy", "viseme_class")


@dataclass(frozen=True)
class RunContext:
    """What the launcher knows: inputs, the scored vocabulary and its viseme classes."""

    output: str
    models: tuple[str, ...]
    model_vocabularies: tuple[tuple[str, ...], ...]   # each model's label order
    data: str
    split: str
    views: tuple[str, ...]
    vocabulary: tuple[str, ...]        # the union, in first-seen order: what is scored
    viseme_classes: dict
    homopheme_groups: tuple
    mapping: dict                      # {"name": ..., "citation": ...}
    metrics: MetricsConfig
    options: dict = field(default_factory=dict)
    baseline: dict | None = None       # a baseline metrics.json, already read
    baseline_path: str = ""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def context_block(rows, language: dict | None) -> dict | None:
    """What the predictions were decoded with, and top-1 of the model alone on the same
    clips (from each row's `model_alone` slice)."""
    if language is None:
        return None
    alone = [row.slices.get(ALONE_SLICE) == "right" for row in rows]
    return {**language, "top1_without_context": sum(alone) / len(alone) if alone else None}


def metrics_document(outcome: dict, context: RunContext, language: dict | None = None):
    """metrics.json as a dict, and the confusion matrix behind it."""
    scored, confusion = compute_metrics(outcome["rows"], context.vocabulary,
                                        context.viseme_classes, context.metrics)
    document = {
        "schema_version": METRICS_SCHEMA_VERSION, "created": _now(),
        "models": list(context.models), "data": context.data, "split": context.split,
        "tta": list(context.views), "viseme_mapping": context.mapping,
        "counts": summary_counts(outcome), "vocabulary_size": len(context.vocabulary),
        **scored,
        "homopheme_groups": [list(g) for g in context.homopheme_groups],
        "out_of_vocabulary_words": [{"word": w, "count": c}
                                    for w, c in sorted(outcome["oov"].items(),
                                                       key=lambda wc: (-wc[1], wc[0]))],
        "failures": dict(sorted(outcome["failures"].items())),
        "baseline": None,
        "context": context_block(outcome["rows"], language),
    }
    if context.baseline is not None:
        document["baseline"] = compare_to_baseline(document, context.baseline,
                                                   context.baseline_path)
    return document, confusion


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# such text is written with a leading apostrophe, which shows it as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """A CSV cell: text a spreadsheet would take for a formula made inert; others as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def confusion_csv(labels, confusion) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true\\predicted", *(_cell(word) for word in labels)])
    for word, row in zip(labels, confusion):
        writer.writerow([_cell(word), *(int(v) for v in row)])
    return buffer.getvalue()


def per_word_csv(per_word: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PER_WORD_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in per_word:
        writer.writerow({k: "" if row[k] is None else _cell(row[k]) for k in PER_WORD_COLUMNS})
    return buffer.getvalue()


def _write(path: str, text: str, mime: str) -> None:
    write_atomically(path, text.encode("utf-8"), mime)


def _json(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_outputs(outcome: dict, context: RunContext, language: dict | None = None) -> dict:
    """Writes every summary file into the output folder; returns metrics.json's content.
    `language` describes the sentence-context model the predictions were decoded with."""
    from pipelines.evaluate.report import render_report

    document, confusion = metrics_document(outcome, context, language)
    join = lambda name: FileSystems.join(context.output, name)  # noqa: E731
    _write(join(METRICS_FILE), _json(document), "application/json")
    _write(join(CONFUSION_FILE), confusion_csv(context.vocabulary, confusion), "text/csv")
    _write(join(PER_WORD_FILE), per_word_csv(document["per_word"]), "text/csv")
    _write(join(REPORT_FILE), render_report(document, context.vocabulary, confusion),
           "text/html")
    manifest = {"run": {**context.options, "finished_at": _now()},
                "counts": document["counts"], "failures": document["failures"]}
    _write(join(MANIFEST_FILE), _json(manifest), "application/json")
    return document
