"""`lipflow train`: train a model on a preprocessed dataset and export it."""

from __future__ import annotations

import argparse
import sys

from lipflow.commands.exit_codes import EXIT_BAD_SETUP, EXIT_OK


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a model on a preprocessed dataset and export it",
        description="Trains a model on DATA/train, validating on DATA/val (never on test: "
                    "without val clips it stops, unless --set require_validation=false), "
                    "checkpointing every epoch. Rerunning the same command after "
                    "an interruption resumes from the last finished epoch. Writes "
                    "OUTPUT/checkpoints, OUTPUT/logs (TensorBoard, history.csv), "
                    "OUTPUT/export (SavedModel + model.keras + vocabulary.txt) and "
                    "OUTPUT/train_summary.json.")
    parser.add_argument("--data", required=True, help="what lipflow preprocess wrote")
    parser.add_argument("--config", default="demo",
                        help="preset: demo (minutes on a CPU), grid, grid_gpu, lrw "
                             "(default: demo)")
    parser.add_argument("--output", required=True, help="folder for checkpoints, logs, export")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set model.name=c3d --set epochs=3 "
                             "--set input.batch_size=8 (repeatable)")
    parser.add_argument("--warm_start", default=None,
                        help="start from a .keras checkpoint or an export folder (layers whose "
                             "names and shapes match are copied)")
    parser.add_argument("--freeze_front_end", action="store_true",
                        help="with --warm_start: keep the front end's weights fixed")
    return parser


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from trainer import config as config_lib

    try:
        config = config_lib.with_overrides(config_lib.preset(args.config), args.set)
        if args.freeze_front_end:
            config = dataclasses.replace(config, freeze_front_end=True)
        from trainer.train import train

        summary = train(args.data, config, args.output, args.warm_start)
    except ValueError as err:
        print(f"lipflow train: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    scores = summary["validation"]
    quality = (f"{summary['validation_split']} top-1 {scores.get('top1', 0):.3f}, "
               f"top-5 {scores.get('top5', 0):.3f}" if scores else "no validation split")
    print(f"lipflow train: {summary['config']['model']['name']} on {summary['classes']} words, "
          f"{summary['epochs_run']} epochs in {summary['train_seconds']:.0f} s; {quality}\n"
          f"  model:   {summary['export']} (SavedModel; model.keras; vocabulary.txt)\n"
          f"  logs:    {args.output}/logs (tensorboard --logdir {args.output}/logs)\n"
          f"  summary: {args.output}/train_summary.json")
    return EXIT_OK
