"""Stage 4: every clip's outcome -> one summary, from which all outputs are written.

Outcomes are small events (a record read, a clip scored with its row, a word out of
vocabulary, an augmented copy skipped, a failure). One combine gathers them, so the
counts that must balance, `records == scored + out_of_vocabulary + augmented +
failed`, are checked on what actually happened, not on what was planned.
"""

from __future__ import annotations

from collections import Counter

import apache_beam as beam


def record_event(_) -> dict:
    return {"kind": "record"}


def scored_event(row) -> dict:
    return {"kind": "scored", "row": row}


def oov_event(word: str) -> dict:
    return {"kind": "oov", "word": word}


def augmented_event(_) -> dict:
    return {"kind": "augmented"}


def failure_event(record: dict) -> dict:
    return {"kind": "failure", "key": f"{record['stage']}/{record['reason']}",
            "records": record["words_affected"]}


class CollectOutcomesFn(beam.CombineFn):
    """Events -> {"rows": [Scored], "counts": Counter, "oov": Counter, "failures": Counter}."""

    def create_accumulator(self):
        return {"rows": [], "counts": Counter(), "oov": Counter(), "failures": Counter()}

    def add_input(self, acc, event):
        kind = event["kind"]
        if kind == "scored":
            acc["rows"].append(event["row"])
        elif kind == "oov":
            acc["oov"][event["word"]] += 1
        elif kind == "failure":
            acc["failures"][event["key"]] += 1
            acc["counts"]["failed"] += event["records"]
        elif kind not in ("record", "augmented"):
            raise ValueError(f"unknown outcome kind {kind!r}")
        acc["counts"][kind] += 1
        return acc

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for acc in accumulators:
            merged["rows"].extend(acc["rows"])
            for key in ("counts", "oov", "failures"):
                merged[key].update(acc[key])
        return merged

    def extract_output(self, acc):
        return acc


def summary_counts(outcome: dict) -> dict:
    """The accounting block of metrics.json and manifest.json."""
    counts = outcome["counts"]
    result = {"records": counts["record"], "scored": counts["scored"],
              "out_of_vocabulary": counts["oov"], "augmented_skipped": counts["augmented"],
              "dead_letters": counts["failed"],
              "corrupt_files": outcome["failures"].get("read/corrupt_file", 0)}
    result["balanced"] = result["records"] == (result["scored"] + result["out_of_vocabulary"]
                                               + result["augmented_skipped"]
                                               + result["dead_letters"])
    return result
