"""Scores trained GRID models on the val split, alone and as ensembles, with and without
the sentence context, and keeps the evidence: the selection step before a test-split row.

    python benchmarks/grid_val.py --data out/grid/data \
        --model s0=out/grid/grid_preset_x2_seed0 --model s1=out/grid/grid_preset_x2_seed1 \
        --ensemble s0+s1 --context none bigram \
        --output docs/reports/grid_selection_val/seed_pair

Each candidate (every model alone, then each `--ensemble` of named models, probabilities
averaged) is scored with `lipflow evaluate --split val` once per `--context`; the models
are the train folders of `lipflow train` (their `export/` is scored, their
`train_summary.json` read). OUTPUT/<candidate>_<context>/ keeps `metrics.json`,
`per_word.csv` and `predictions.jsonl`, OUTPUT/<model>/ its `train_summary.json` and
`history.csv`;
OUTPUT/summary.json holds, per candidate, val top-1 with its 95% interval,
top-5, homopheme-aware top-1, top-1 per GRID word class, the models' training seconds, and
every command. The test split is never read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from grid_table import class_accuracy, lipflow, run  # noqa: E402  (beside this script)
from bench_utils import cpu_model  # noqa: E402

KEPT = ("metrics.json", "per_word.csv", "predictions.jsonl")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the dataset lipflow preprocess wrote")
    parser.add_argument("--model", action="append", required=True, metavar="NAME=TRAIN_DIR",
                        help="a model to score, named (repeatable)")
    parser.add_argument("--ensemble", action="append", default=[], metavar="NAME+NAME...",
                        help="named models scored together (repeatable)")
    parser.add_argument("--context", nargs="+", default=["none"], choices=["none", "bigram"])
    parser.add_argument("--work", default=os.path.join(os.path.dirname(HERE), "out", "grid",
                                                       "val"), help="evaluation folders")
    parser.add_argument("--output", required=True, help="evidence folder (summary.json)")
    parser.add_argument("--question", default="", help="what the runs are to settle")
    return parser.parse_args(argv)


def named_models(pairs: list[str]) -> dict[str, str]:
    """NAME=TRAIN_DIR pairs -> {name: train folder}, each folder checked for an export."""
    models = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not name or "+" in name:
            raise SystemExit(f"--model {pair!r}: give NAME=TRAIN_DIR (a name without '+')")
        if not os.path.isdir(os.path.join(folder, "export")):
            raise SystemExit(f"--model {pair!r}: {folder} has no export/ (train it first)")
        models[name] = folder
    return models


def candidates(models: dict[str, str], ensembles: list[str]) -> dict[str, list[str]]:
    """{candidate name: its models' names}: each model alone, then each ensemble."""
    chosen = {name: [name] for name in models}
    for ensemble in ensembles:
        members = ensemble.split("+")
        unknown = [m for m in members if m not in models]
        if unknown or len(members) < 2:
            raise SystemExit(f"--ensemble {ensemble!r}: name two or more --model names "
                             f"(unknown: {unknown})")
        chosen["+".join(members)] = members
    return chosen


def keep_training_evidence(folder: str, kept: str) -> dict:
    """Copies a model's train_summary.json and history.csv into `kept`; returns its facts."""
    os.makedirs(kept, exist_ok=True)
    shutil.copyfile(os.path.join(folder, "train_summary.json"),
                    os.path.join(kept, "train_summary.json"))
    shutil.copyfile(os.path.join(folder, "logs", "history.csv"), os.path.join(kept, "history.csv"))
    with open(os.path.join(folder, "train_summary.json"), encoding="utf-8") as handle:
        trained = json.load(handle)
    return {"train_dir": folder, "seed": trained["config"]["input"]["seed"],
            "epochs_run": trained["epochs_run"], "train_seconds": trained["train_seconds"]}


def training_seconds(folder: str) -> float:
    with open(os.path.join(folder, "train_summary.json"), encoding="utf-8") as handle:
        return json.load(handle)["train_seconds"]


def score(data: str, folders: list[str], context: str, eval_dir: str) -> tuple[str, dict]:
    """Runs lipflow evaluate on val; returns its command and metrics.json."""
    # The recorded command names the folder relative to here, not this machine's layout.
    command = lipflow("evaluate", "--data", data,
                      *[item for f in folders for item in ("--model", os.path.join(f, "export"))],
                      "--output", os.path.relpath(eval_dir), "--split", "val",
                      *(["--context", context] if context != "none" else []))
    if os.path.isdir(eval_dir):
        shutil.rmtree(eval_dir)
    run(command)
    with open(os.path.join(eval_dir, "metrics.json"), encoding="utf-8") as handle:
        return " ".join(command[2:]), json.load(handle)


def summary_entry(metrics: dict, per_word_csv: str, folders: list[str]) -> dict:
    top1 = metrics["top1"]
    return {"val_top1": round(top1["value"], 4),
            "val_top1_95ci": [round(top1["ci_low"], 4), round(top1["ci_high"], 4)],
            "val_top5": round(metrics["top5"], 4),
            "val_homopheme_top1": round(metrics["homopheme_top1"], 4),
            "per_class_top1": class_accuracy(per_word_csv),
            "errors": metrics["errors"],
            "train_seconds": [training_seconds(f) for f in folders]}


def main(argv=None) -> dict:
    args = parse_args(argv)
    models = named_models(args.model)
    runs, commands = {}, {}
    for candidate, members in candidates(models, args.ensemble).items():
        folders = [models[m] for m in members]
        for context in args.context:
            name = f"{candidate}_{context}"
            eval_dir = os.path.join(args.work, name)
            commands[name], metrics = score(args.data, folders, context, eval_dir)
            kept = os.path.join(args.output, name)
            os.makedirs(kept, exist_ok=True)
            for file in KEPT:
                shutil.copyfile(os.path.join(eval_dir, file), os.path.join(kept, file))
            runs[name] = summary_entry(metrics, os.path.join(kept, "per_word.csv"), folders)
    summary = {"split": "val", "data": args.data, "question": args.question,
               "machine": f"{os.cpu_count()}-core {cpu_model()}",
               "models": {name: keep_training_evidence(folder, os.path.join(args.output, name))
                          for name, folder in models.items()},
               "runs": runs, "commands": commands}
    with open(os.path.join(args.output, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1)
        handle.write("\n")
    for name, entry in runs.items():
        print(f"{name}: val top-1 {entry['val_top1']:.3f}, homopheme-aware "
              f"{entry['val_homopheme_top1']:.3f}, letters {entry['per_class_top1']['letter']}")
    return summary


if __name__ == "__main__":
    main()
