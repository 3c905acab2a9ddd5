"""The `lipflow` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from lipflow.commands import contact_sheet, evaluate, predict, preprocess, retrain, train
from lipflow.unknown_flags import beam_parser, not_understood, option_strings, refusal

# The jobs that run on Beam: flags they do not define go on to Beam's options.
BEAM_COMMANDS = ("preprocess", "evaluate", "retrain")

_DESCRIPTION = """\
lipflow turns talking-face video with word timings into word-aligned mouth-crop
datasets, trains and evaluates lip-reading models on them, reads lips on new videos and
retrains on new broadcasts.

Subcommands:
  predict         read lips on your own videos with an exported model
  preprocess      video + transcripts -> a dataset of word clips (train/val/test TFRecords)
  train           train a lip-reading model on such a dataset and export it
  evaluate        score exported models on a dataset split: metrics.json + report.html
  retrain         new videos -> preprocess -> train -> paired gate -> model registry
  contact-sheet   draw clips read back from TFRecords into a PNG, to look at them

Run `lipflow SUBCOMMAND --help` for the flags of each."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lipflow", description=_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # Underscores, as every other flag (Beam's too); the dashed spelling is still read.
    parser.add_argument("--log_level", "--log-level", dest="log_level", default="INFO",
                        type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging level (default: INFO)")
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's and CUDA's start-up messages")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for command in (predict, preprocess, train, evaluate, retrain, contact_sheet):
        command_parser = command.add_parser(subparsers)
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    # TensorFlow's C++ start-up banner is noise to a user; its warnings still show.
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lipflow import logs

    logs.configure(args.log_level)
    if args.verbose:
        return _run_command(args, argv, unknown)
    # Beam's local worker processes inherit the filtered stderr and are quiet too.
    with logs.native_noise_filtered():
        return _run_command(args, argv, unknown)


def _refuse_unknown_flags(args: argparse.Namespace, unknown: list[str]) -> None:
    """Exits (2) naming the nearest valid flag when a leftover is no Beam option (for the
    Beam jobs) or when there is any leftover (for the others)."""
    if not unknown:
        return
    command_parser = args.command_parser
    valid = [command_parser]
    if args.command in BEAM_COMMANDS:
        valid.append(beam_parser())
        if args.command == "retrain":  # retrain hands preprocess's flags to each batch
            from pipelines.preprocess.flags import add_preprocess_arguments

            preprocess_flags = argparse.ArgumentParser(add_help=False)
            add_preprocess_arguments(preprocess_flags, required=False)
            valid.append(preprocess_flags)
    left = unknown
    for extra in valid[1:]:
        left = not_understood(left, extra)
    if left:
        valid_flags = option_strings(*valid)
        hint = ("; the trainer's settings go in --set KEY=VALUE (e.g. --set epochs=3)"
                if "--set" in valid_flags else "")
        command_parser.error(refusal(left, valid_flags) + hint)


def _run_command(args: argparse.Namespace, argv: list[str], unknown: list[str]) -> int:
    _refuse_unknown_flags(args, unknown)
    if args.command == "preprocess":
        return preprocess.run(args, argv[argv.index("preprocess") + 1:])
    if args.command == "evaluate":
        return evaluate.run(args, unknown)
    if args.command == "retrain":
        return retrain.run(args, unknown)
    if args.command == "train":
        return train.run(args)
    if args.command == "predict":
        return predict.run(args)
    return contact_sheet.run(args)


def run() -> None:
    """Console entry point: main(), then an exit that skips interpreter teardown.

    A process that ran a tf.Transform analysis crashes with SIGSEGV while the interpreter
    tears down (after all output is written and checked). lipflow has nothing left to do
    by then, so it flushes its streams and leaves with main()'s exit code directly.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
