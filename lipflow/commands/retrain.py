"""`lipflow retrain`: new videos -> preprocess -> rebuilt dataset -> train -> gate -> registry."""

from __future__ import annotations

import argparse
import sys

from lipflow.commands.exit_codes import EXIT_BAD_SETUP, EXIT_FAILED_RUN, EXIT_OK


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "retrain", help="scheduled retraining: new videos -> candidate model -> promotion gate",
        description="Finds the videos of --input that no earlier run processed (by content "
                    "hash, in WORKDIR/state.json), preprocesses only those into a new batch "
                    "(labelled with the production model's vocabulary), rebuilds the dataset "
                    "from every batch (a video keeps the split it was first given), trains a "
                    "candidate warm-started from production, evaluates candidate and "
                    "production on the same clips and promotes the candidate only when a "
                    "paired test (exact McNemar and a paired bootstrap) says it is better by "
                    "--margin with --confidence. Every version, promoted or refused, is kept "
                    "in WORKDIR/registry with its metrics, data hashes, code version and "
                    "configs. A killed run resumes where it stopped; a run with nothing new "
                    "does nothing. Flags this command does not know go to lipflow preprocess "
                    "for every batch (e.g. --split_by video) and to Apache Beam; they must "
                    "stay the same from cycle to cycle. A flag neither knows is refused, "
                    "naming the nearest valid flag.")
    parser.add_argument("--input", help="folder of videos or a CSV / JSON Lines manifest, "
                                        "as for lipflow preprocess (new videos are added to it)")
    parser.add_argument("--workdir", required=True,
                        help="folder for state.json, batches/, datasets/ and registry/")
    parser.add_argument("--config", default="demo",
                        help="trainer preset: demo, grid, grid_gpu, lrw (default: demo)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a trainer config field, as for lipflow train (repeatable)")
    parser.add_argument("--margin", type=float, default=0.0,
                        help="top-1 gain (0.01 = one point) the candidate must exceed, at the "
                             "lower confidence bound, to be promoted (default: 0)")
    parser.add_argument("--confidence", type=float, default=0.95,
                        help="confidence of the paired tests (default: 0.95)")
    parser.add_argument("--bootstrap_samples", type=int, default=2000,
                        help="paired bootstrap resamples (default: 2000)")
    parser.add_argument("--gate_split", default="val", choices=("train", "val", "test"),
                        help="split both models are compared on (default: val). The test "
                             "split is scored once, for the registry, when a model is "
                             "promoted, so no decision is tuned on it")
    parser.add_argument("--no_warm_start", action="store_true",
                        help="train the candidate from scratch instead of from production")
    parser.add_argument("--until", default="", choices=("", "preprocessed", "dataset_built",
                                                        "trained", "evaluated"),
                        help="stop after this step; the next run resumes from it (a scheduler "
                             "runs the Beam jobs, training and the gate as separate tasks)")
    parser.add_argument("--keep", type=int, default=0, metavar="N",
                        help="keep only the N newest datasets/VERSION folders (and "
                             "production's); batches stay, so any can be rebuilt "
                             "(default: 0, keep all)")
    parser.add_argument("--status", action="store_true",
                        help="print the registry (versions, status, metrics, data) and exit")
    return parser


def run(args: argparse.Namespace, extra: list[str]) -> int:
    from pipelines.retrain import registry as registry_lib
    from pipelines.retrain.cycle import check_workdir

    try:
        check_workdir(args.workdir)
    except ValueError as err:
        print(f"lipflow retrain: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    if args.status:
        print(registry_lib.status_text(registry_lib.load_registry(args.workdir)))
        return EXIT_OK
    if not args.input:
        print("lipflow retrain: --input is required (except with --status)", file=sys.stderr)
        return EXIT_BAD_SETUP
    from pipelines.retrain.cycle import RetrainConfig, run_cycle
    from pipelines.retrain.gate import GateConfig
    from pipelines.retrain.lock import WorkdirBusy

    try:
        config = RetrainConfig(
            train_config=args.config, train_overrides=tuple(args.set),
            gate=GateConfig(margin=args.margin, confidence=args.confidence,
                            bootstrap_samples=args.bootstrap_samples),
            gate_split=args.gate_split, warm_start=not args.no_warm_start,
            preprocess_args=tuple(extra), until=args.until, keep=args.keep)
        config.train()  # a bad preset or override fails before any work
        result = run_cycle(args.input, args.workdir, config)
    except (ValueError, WorkdirBusy) as err:
        print(f"lipflow retrain: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    print(_summary(result, args.workdir))
    return EXIT_FAILED_RUN if result["outcome"] == "no_clips" else EXIT_OK


def _summary(result: dict, workdir: str) -> str:
    outcome = result["outcome"]
    if outcome == "nothing_new":
        return "lipflow retrain: no new videos; nothing to do"
    if outcome == "paused":
        return (f"lipflow retrain: {result['version']} ({result['batch']}) stopped after "
                f"{result['step']}; run again without --until to finish it")
    if outcome == "no_clips":
        return (f"lipflow retrain: {result['batch']} gave no clip; see "
                f"{workdir}/batches/{result['batch']}/dead_letters.jsonl")
    gate = result["gate"]
    verb = "promoted to production" if outcome == "promoted" else "refused (kept, marked refused)"
    return (f"lipflow retrain: {result['version']} {verb}: {gate['reason']}\n"
            f"  registry: {workdir}/registry/registry.json (lipflow retrain --status "
            f"--workdir {workdir})")
