"""Copies a trained export into the repository as a shipped model, with its evaluation.

    .venv/bin/python infra/models/ship_model.py --export RUN/export --evaluation EVAL \
        --output data/models/grid_s1_words --report docs/reports/grid_shipped_model

The shipped folder is what `lipflow predict` and `lipflow evaluate` read (the SavedModel,
vocabulary.txt, preprocessing.json). `model.keras`, which only a warm start reads, is
left out: it holds the same weights again. The evaluation's metrics.json and
per_word.csv, and the run's train_summary.json (its paths made relative to the current
folder), go to --report: the evidence of the figures the model's README quotes.
Refuses a folder over --max_mb (the repository carries it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

LEFT_OUT = ("model.keras",)
EVIDENCE = ("metrics.json", "per_word.csv")


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(folder) for name in names)


def ship(export: str, output: str) -> int:
    """Copies the export without LEFT_OUT into `output` (replaced); returns its size."""
    if not os.path.isfile(os.path.join(export, "saved_model.pb")):
        raise SystemExit(f"{export!r} holds no saved_model.pb: pass RUN/export")
    if os.path.isdir(output):
        shutil.rmtree(output)
    shutil.copytree(export, output, ignore=shutil.ignore_patterns(*LEFT_OUT))
    return folder_bytes(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", required=True, help="RUN/export written by lipflow train")
    parser.add_argument("--evaluation", required=True, help="--output of lipflow evaluate")
    parser.add_argument("--output", required=True, help="folder to ship the model in")
    parser.add_argument("--report", required=True, help="folder for the evaluation evidence")
    parser.add_argument("--max_mb", type=float, default=10.0)
    args = parser.parse_args(argv)
    size = ship(args.export, args.output)
    if size > args.max_mb * 1e6:
        shutil.rmtree(args.output)
        raise SystemExit(f"the export is {size / 1e6:.1f} MB, over --max_mb {args.max_mb}")
    os.makedirs(args.report, exist_ok=True)
    for name in EVIDENCE:
        shutil.copyfile(os.path.join(args.evaluation, name), os.path.join(args.report, name))
    run_folder = os.path.dirname(os.path.abspath(args.export))
    with open(os.path.join(run_folder, "train_summary.json"), encoding="utf-8") as handle:
        summary = handle.read().replace(os.getcwd() + os.sep, "")
    with open(os.path.join(args.report, "train_summary.json"), "w", encoding="utf-8") as handle:
        handle.write(summary)
    print(f"shipped {args.output} ({size / 1e6:.2f} MB); evidence in {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
