"""The GRID table (docs/results/grid.md): train each row's model, score it on the test split, keep the
evidence under docs/reports/, and print the table.

    python benchmarks/grid_table.py --grid GRID_S1 [--work out/grid] [--rows grid_c3d ...]
    python benchmarks/grid_table.py --table-only    # the table from the committed reports

GRID_S1 is a folder with GRID's `video/` and `align/` of one speaker (the table's figures:
all 390 recordings of speaker 1). The script runs the real commands a user runs:
`lipflow preprocess` (once, into WORK/data), then per row `lipflow train` with the row's
preset and overrides, chosen on the val split, and `lipflow evaluate --split test` (the
test videos are never seen in training or model selection). Each row's report folder
gets `train_summary.json`, `history.csv`, `metrics.json`, `per_word.csv` and `report.html`,
plus `row.json` with the exact commands; an ensemble row's `single_models.json` holds each
member scored alone with the same flags. A model whose train folder in WORK already holds
its `train_summary.json` is scored as it is, not trained again (`train_wall_seconds` null in
`row.json`; the table's minutes come from the train summaries either way). Top-1 per word
class is computed from `per_word.csv` (GRID's grammar: command colour preposition letter
digit adverb).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REPORTS = os.path.join(ROOT, "docs", "reports")

WORD_CLASSES = {
    "command": ("bin", "lay", "place", "set"),
    "colour": ("blue", "green", "red", "white"),
    "preposition": ("at", "by", "in", "with"),
    "letter": tuple("abcdefghijklmnopqrstuvxyz"),  # GRID has no letter w
    "digit": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "adverb": ("again", "now", "please", "soon"),
}

# Each row: a preset and its overrides. The `grid` preset is the selected setting; the
# others are the family members measured beside it, in the same data and budget. A row
# with `seeds` trains one model per seed (`input.seed`, which also seeds the weights) and
# scores their ensemble (probabilities averaged) with the row's `tta`. `grid_final` is the
# preset's final fit: the same settings trained on train + val together for all epochs
# (nothing of it is chosen on its own val figures, which are training figures). A row with
# `models_of` trains nothing: it scores that row's models (trained earlier in the same
# WORK folder) with its own `evaluate` flags, here the sentence context. A row with
# `members` trains one model per member (its own overrides on top of the row's `set`) and
# scores them together, like `seeds` but across the family.
ROWS = {
    "grid_preset": {"config": "grid", "set": []},
    "grid_final": {"config": "grid", "set": ["fit_on_val=true"]},
    "grid_ensemble": {"config": "grid", "set": ["input.speed=0"], "seeds": [0, 1],
                      "tta": "none"},  # trained before the preset took input.speed
    "grid_preset_context": {"models_of": "grid_preset", "evaluate": ["--context", "bigram"]},
    "grid_final_context": {"models_of": "grid_final", "evaluate": ["--context", "bigram"]},
    # The recurrent back end of the family, sent to test by the rule fixed before it was
    # trained (docs/reports/grid_selection_val/bigru/RULE.md).
    "grid_bigru": {"config": "grid", "set": ["model.name=resnet_bigru"]},
    "grid_bigru_context": {"models_of": "grid_bigru", "evaluate": ["--context", "bigram"]},
    # Six models of the family averaged, sent to test by the rule fixed before it was
    # scored on val (docs/reports/grid_selection_val/family6/RULE.md).
    "grid_family6": {"config": "grid", "set": [], "tta": "none", "members": {
        "s0": ["input.seed=0"], "s1": ["input.seed=1"],
        "p0": ["phoneme_loss=1.0", "input.seed=0"], "p1": ["phoneme_loss=1.0", "input.seed=1"],
        "g0": ["model.name=resnet_bigru", "input.seed=0"],
        "g1": ["model.name=resnet_bigru", "input.seed=1"]}},
    "grid_family6_context": {"models_of": "grid_family6",
                             "evaluate": ["--context", "bigram"]},
}


def lipflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "lipflow", *args]


def run(command: list[str]) -> float:
    """Runs a command, failing loudly; returns its wall seconds."""
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def class_accuracy(per_word_csv: str) -> dict[str, float | None]:
    """Top-1 per GRID word class: correct / support over the class's words."""
    totals = {name: [0, 0] for name in WORD_CLASSES}
    owner = {word: name for name, words in WORD_CLASSES.items() for word in words}
    with open(per_word_csv, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = owner.get(row["word"])
            if name is None:
                raise ValueError(f"{row['word']!r} is not a GRID word")
            totals[name][0] += int(row["correct"])
            totals[name][1] += int(row["support"])
    return {name: (round(correct / support, 4) if support else None)
            for name, (correct, support) in totals.items()}


def model_suffixes(spec: dict) -> dict[str, list[str]]:
    """Each model of a row: its file and folder suffix -> its own overrides. One model
    (suffix ""), one per seed (_seedK) or one per member (_NAME)."""
    if "members" in spec:
        return {f"_{name}": list(extra) for name, extra in spec["members"].items()}
    if "seeds" in spec:
        return {f"_seed{seed}": [f"input.seed={seed}"] for seed in spec["seeds"]}
    return {"": []}


def keep_evidence(row: str, trained: dict[str, str], eval_dir: str, facts: dict) -> str:
    """Copies each model's train summary and history (`trained`: suffix -> train folder;
    the files get the suffix) and the evaluation's metrics, per-word table and report into
    docs/reports/ROW/."""
    folder = os.path.join(REPORTS, row)
    os.makedirs(folder, exist_ok=True)
    for suffix, train_dir in trained.items():
        for source, name in ((os.path.join(train_dir, "train_summary.json"),
                              f"train_summary{suffix}.json"),
                             (os.path.join(train_dir, "logs", "history.csv"),
                              f"history{suffix}.csv")):
            shutil.copyfile(source, os.path.join(folder, name))
    for name in ("metrics.json", "per_word.csv", "report.html"):
        shutil.copyfile(os.path.join(eval_dir, name), os.path.join(folder, name))
    with open(os.path.join(folder, "row.json"), "w", encoding="utf-8") as handle:
        json.dump(facts, handle, indent=2)
        handle.write("\n")
    return folder


def training_runs(row: str, spec: dict, work: str, data: str
                  ) -> tuple[list[list[str]], dict[str, str]]:
    """The train commands of a row and its train folders (suffix -> folder); a `models_of`
    row has no commands and the folders of the row it borrows from."""
    source = spec.get("models_of", row)
    own = model_suffixes(ROWS[source])
    trained = {suffix: os.path.join(work, source + suffix) for suffix in own}
    if source != row:
        missing = [d for d in trained.values() if not os.path.isdir(os.path.join(d, "export"))]
        if missing:
            raise SystemExit(f"row {row} scores the models of {source}, which are not in "
                             f"{work}: run --rows {source} {row}")
        return [], trained
    trains = [lipflow("train", "--data", data, "--config", spec["config"], "--output", folder,
                      *(item for pair in spec["set"] + own[suffix] for item in ("--set", pair)))
              for suffix, folder in trained.items()]
    return trains, trained


def finished(train_dir: str) -> bool:
    """A model trained to the end before (its train_summary.json is written last): it is
    scored as it is, not trained again, so an interrupted table resumes where it stopped."""
    return os.path.exists(os.path.join(train_dir, "train_summary.json"))


def test_command(spec: dict, folders: list[str], data: str, eval_dir: str) -> list[str]:
    """lipflow evaluate on the test split for these train folders, with the row's flags."""
    models = [item for d in folders for item in ("--model", os.path.join(d, "export"))]
    return lipflow("evaluate", "--data", data, *models, "--output", eval_dir, "--split",
                   "test", *(["--tta", spec["tta"]] if spec.get("tta") else []),
                   *spec.get("evaluate", []))


def single_model_scores(row: str, spec: dict, trained: dict[str, str], work: str,
                        data: str) -> dict:
    """Each member of an ensemble row scored alone, with the row's evaluate flags: the
    single-model figures beside the ensemble's (single_models.json)."""
    scores = {}
    for suffix, folder in trained.items():
        eval_dir = os.path.join(work, f"{row}{suffix}_alone_test")
        command = test_command(spec, [folder], data, eval_dir)
        run(command)
        with open(os.path.join(eval_dir, "metrics.json"), encoding="utf-8") as handle:
            metrics = json.load(handle)
        scores[suffix.lstrip("_")] = {
            "command": " ".join(command[2:]), "top1": metrics["top1"],
            "top5": metrics["top5"], "homopheme_top1": metrics["homopheme_top1"],
            "per_class_top1": class_accuracy(os.path.join(eval_dir, "per_word.csv"))}
    return scores


def train_and_score(row: str, spec: dict, work: str, data: str) -> None:
    trains, trained = training_runs(row, spec, work, data)
    eval_dir = os.path.join(work, f"{row}_test")
    score = test_command(spec, list(trained.values()), data, eval_dir)
    facts = {"row": row, "commands": [" ".join(c[2:]) for c in (*trains, score)],
             "train_wall_seconds": [round(run(train), 1) if not finished(folder) else None
                                    for train, folder in zip(trains, trained.values())],
             "evaluate_wall_seconds": round(run(score), 1), "cpu_count": os.cpu_count(),
             "load_average_after": round(os.getloadavg()[0], 2)}
    folder = keep_evidence(row, trained, eval_dir, facts)
    if len(trained) > 1:
        with open(os.path.join(folder, "single_models.json"), "w", encoding="utf-8") as handle:
            json.dump(single_model_scores(row, spec, trained, work, data), handle, indent=2)
            handle.write("\n")


def row_summaries(row: str) -> list[dict]:
    """The train summary of each model of a row (one, or one per seed or member), in the
    row's order."""
    folder = os.path.join(REPORTS, row)
    summaries = []
    for suffix in model_suffixes(ROWS[ROWS[row].get("models_of", row)]):
        with open(os.path.join(folder, f"train_summary{suffix}.json"), encoding="utf-8") as f:
            summaries.append(json.load(f))
    return summaries


def model_label(config: dict) -> str:
    label = f"{config['model']['name']} w{config['model']['width']}"
    return label + (" (phoneme head)" if config.get("phoneme_loss") else "")


def ensemble_label(summaries: list[dict]) -> str:
    """`resnet_tcn w16` for one model, `2 x resnet_tcn w16` for seeds of one design, and
    each design counted, in the row's order, for a row across the family."""
    counts = Counter(model_label(s["config"]) for s in summaries)
    if len(summaries) == 1:
        return next(iter(counts))
    return " & ".join(f"{count} x {label}" for label, count in counts.items())


def table_row(row: str) -> str:
    folder = os.path.join(REPORTS, row)
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as handle:
        metrics = json.load(handle)
    summaries = row_summaries(row)
    classes = class_accuracy(os.path.join(folder, "per_word.csv"))
    label = ensemble_label(summaries)
    if len(summaries) > 1:
        label += f", views {'+'.join(metrics['tta'])}"
    if summaries[0]["config"].get("fit_on_val"):
        label += ", train + val"
    if metrics.get("context"):
        label += f", sentence context ({metrics['context']['classes']} word classes)"
    cells = [f"[{row}](docs/reports/{row}/)", label,
             f"{metrics['top1']['value']:.1%}", f"{metrics['top5']:.1%}",
             f"{metrics['homopheme_top1']:.1%}",
             *(f"{classes[name]:.0%}" if classes[name] is not None else "-"
               for name in WORD_CLASSES),
             f"{sum(s['train_seconds'] for s in summaries) / 60:.0f}"]
    return "| " + " | ".join(cells) + " |"


def print_table(rows: list[str]) -> None:
    header = ["row", "model", "top-1", "top-5", "homopheme top-1", *WORD_CLASSES,
              "train min"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print(table_row(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", help="GRID folder with video/ and align/")
    # Relative, so the committed reports name repository folders, not this machine's.
    parser.add_argument("--work", default=os.path.relpath(os.path.join(ROOT, "out", "grid")))
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS),
                        help="rows to run, in order (a row that scores another's models "
                             "comes after it)")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table from the committed reports, run nothing")
    args = parser.parse_args(argv)
    if not args.table_only:
        if not args.grid:
            parser.error("--grid is needed unless --table-only")
        data = os.path.join(args.work, "data")
        if not os.path.exists(os.path.join(data, "dataset_info.json")):
            run(lipflow("preprocess", "--input", args.grid, "--output", data, *GRID_CROPS))
        for row in args.rows:
            train_and_score(row, ROWS[row], args.work, data)
    print_table(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
