"""The `lipflow` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

EXIT_OK = 0
EXIT_FAILED_RUN = 1
EXIT_BAD_SETUP = 3

_DESCRIPTION = """\
lipflow turns talking-face video with word timings into word-aligned mouth-crop
datasets (and, as they are built, trains and evaluates lip-reading models on them).

Subcommands:
  preprocess      video + transcripts -> a dataset of word clips (train/val/test TFRecords)
  train           train a lip-reading model on such a dataset and export it
  evaluate        score exported models on a dataset split: metrics.json + report.html
  contact-sheet   draw clips read back from TFRecords into a PNG, to look at them

Run `lipflow SUBCOMMAND --help` for the flags of each."""


def _preprocess_parser(subparsers) -> argparse.ArgumentParser:
    from pipelines.preprocess.flags import add_preprocess_arguments

    parser = subparsers.add_parser(
        "preprocess", help="video + transcripts -> word-aligned mouth-crop TFRecords",
        description="Decodes each video at a constant frame rate, tracks 68 facial landmarks, "
                    "warps every frame to a mean face, crops the grey mouth region and cuts a "
                    "fixed window around each word. Writes clips-*.tfrecord.gz, "
                    "dead_letters.jsonl (every failure with its reason) and manifest.json "
                    "(accounts for every input) into --output. Flags this command does not "
                    "know are passed to Apache Beam (e.g. --runner DataflowRunner --project P "
                    "--region R --temp_location gs://...); without --runner it runs locally on "
                    "all cores.")
    add_preprocess_arguments(parser, required=True)
    return parser


def _train_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a model on a preprocessed dataset and export it",
        description="Trains a model on DATA/train (validating on DATA/val, or DATA/test when "
                    "val is empty), checkpointing every epoch. Rerunning the same command after "
                    "an interruption resumes from the last finished epoch. Writes "
                    "OUTPUT/checkpoints, OUTPUT/logs (TensorBoard, history.csv), "
                    "OUTPUT/export (SavedModel + model.keras + vocabulary.txt) and "
                    "OUTPUT/train_summary.json.")
    parser.add_argument("--data", required=True, help="what lipflow preprocess wrote")
    parser.add_argument("--config", default="demo",
                        help="preset: demo (minutes on a CPU), grid, lrw (default: demo)")
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


def _run_train(args: argparse.Namespace) -> int:
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


def _evaluate_parser(subparsers) -> argparse.ArgumentParser:
    from pipelines.evaluate.views import TTA_MODES

    parser = subparsers.add_parser(
        "evaluate", help="score exported models on a dataset split; metrics and an HTML report",
        description="Runs the exported model(s) over one split of a dataset with Beam's "
                    "RunInference and writes, into --output: metrics.json (top-1 with a "
                    "bootstrap interval, top-5, homopheme-aware top-1, per-word, per-slice, "
                    "calibration, most confused pairs), confusion.csv, per_word.csv, "
                    "report.html (self-contained, with plots), predictions.jsonl, "
                    "dead_letters.jsonl and manifest.json. Words are matched by string "
                    "through the model's own vocabulary; words it does not know are counted "
                    "as out of vocabulary, never scored. Flags this command does not know go "
                    "to Apache Beam (e.g. --runner DataflowRunner ...).")
    parser.add_argument("--data", required=True, help="what lipflow preprocess wrote")
    parser.add_argument("--model", required=True, action="append", metavar="EXPORT_DIR",
                        help="an export folder from lipflow train (OUTPUT/export); repeat the "
                             "flag to average several models as an ensemble")
    parser.add_argument("--output", required=True, help="folder for the metrics and report")
    parser.add_argument("--split", default="test", help="train, val or test (default: test)")
    parser.add_argument("--tta", default="none", choices=tuple(TTA_MODES),
                        help="test-time views averaged: none (centre crop), flip (+ mirror), "
                             "multi (centre and 4 corner crops, each also mirrored)")
    parser.add_argument("--baseline", default="",
                        help="metrics.json of the model in production: the report shows the "
                             "deltas and a verdict (better, worse, no significant difference)")
    parser.add_argument("--viseme_mapping", default="lee2002",
                        help="phoneme-to-viseme mapping for homophemes (default: lee2002)")
    parser.add_argument("--slice", action="append", default=[], dest="slices", metavar="KEY",
                        help="also break accuracy down by this clip context key (repeatable; "
                             "speaker, show, word length, face size, yaw and edge padding "
                             "are always reported)")
    parser.add_argument("--batch_size", type=int, default=32, help="clips per model call")
    parser.add_argument("--bootstrap_samples", type=int, default=1000,
                        help="bootstrap resamples for the top-1 interval (default: 1000)")
    return parser


def _run_evaluate(args: argparse.Namespace, beam_args: list[str]) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.evaluate import job as evaluate_job
    from pipelines.evaluate.config import EvaluateConfig
    from pipelines.preprocess.job import default_direct_options

    try:
        config = EvaluateConfig(
            models=tuple(args.model), split=args.split, tta=args.tta, batch_size=args.batch_size,
            viseme_mapping=args.viseme_mapping, extra_slices=tuple(args.slices),
            bootstrap_samples=args.bootstrap_samples, baseline=args.baseline)
        options = PipelineOptions(default_direct_options(beam_args))
        metrics = evaluate_job.run(config, args.data, args.output, options)
    except ValueError as err:
        print(f"lipflow evaluate: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    print(_evaluate_summary(metrics, args.output))
    counts = metrics["counts"]
    if not counts["balanced"]:
        print("lipflow evaluate: the counts do not balance (records != scored + out of "
              "vocabulary + skipped + failed); this is a bug, please report it",
              file=sys.stderr)
        return EXIT_FAILED_RUN
    if counts["scored"] == 0:
        print("lipflow evaluate: no clip was scored; see dead_letters.jsonl and the "
              "out-of-vocabulary words in metrics.json", file=sys.stderr)
        return EXIT_FAILED_RUN
    return EXIT_OK


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _evaluate_summary(metrics: dict, output: str) -> str:
    counts, top1 = metrics["counts"], metrics["top1"]
    lines = [f"lipflow evaluate: {counts['records']} clips read from {metrics['split']}: "
             f"{counts['scored']} scored, {counts['out_of_vocabulary']} out of vocabulary, "
             f"{counts['augmented_skipped']} augmented copies skipped, "
             f"{counts['dead_letters']} failed",
             f"  top-1 {_percent(top1['value'])} ({_percent(top1['ci_low'])}-"
             f"{_percent(top1['ci_high'])}), top-5 {_percent(metrics['top5'])}, "
             f"homopheme-aware top-1 {_percent(metrics['homopheme_top1'])}"]
    if metrics.get("baseline"):
        base = metrics["baseline"]
        lines.append(f"  against the baseline: {base['verdict']} (top-1 delta "
                     f"{_percent(base['top1_delta'])})")
    lines += [f"  report:  {output}/report.html",
              f"  metrics: {output}/metrics.json (confusion.csv, per_word.csv, "
              f"predictions.jsonl, dead_letters.jsonl, manifest.json beside it)"]
    return "\n".join(lines)


def _contact_sheet_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "contact-sheet", help="draw word clips from TFRecords into a PNG",
        description="Reads clips back through the schema's parser and draws one row per clip "
                    "(every --step-th frame; a white bar marks frames inside the word).")
    parser.add_argument("--data", required=True, help="folder holding clips-*.tfrecord.gz")
    parser.add_argument("--output", required=True, help="PNG file to write")
    parser.add_argument("--clips", type=int, default=12, help="number of clips (rows)")
    parser.add_argument("--step", type=int, default=3, help="draw every n-th frame")
    return parser


def _summary(manifest: dict, output: str) -> str:
    words, videos = manifest["words"], manifest["videos"]
    lines = [f"lipflow preprocess: {videos['seen']} videos, {words['seen']} words -> "
             f"{words['written']} clips written, {words['failed']} words failed "
             f"({videos['failed']} videos failed whole)"]
    lines += [f"  {count:6d}  {reason}" for reason, count in manifest["failures"].items()]
    lines += [f"  clips:        {output}/{{train,val,test}}/clips-*.tfrecord.gz",
              f"  transform:    {output}/transform_fn (vocabulary, label ids, pixel statistics)",
              f"  dead letters: {output}/dead_letters.jsonl",
              f"  manifest:     {output}/manifest.json",
              f"  dataset card: {output}/dataset_info.json"]
    return "\n".join(lines)


def _run_preprocess(args: argparse.Namespace, argv: list[str]) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.preprocess import job
    from pipelines.preprocess.inputs import list_inputs
    from pipelines.preprocess.landmarks import LandmarkModelUnavailable
    from pipelines.preprocess.options import config_from_options

    try:
        options = PipelineOptions(job.default_direct_options(argv))
        config = config_from_options(options)
        listing = list_inputs(args.input)
    except ValueError as err:
        print(f"lipflow preprocess: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    if not listing.videos:
        print(f"lipflow preprocess: no videos found in {args.input!r}", file=sys.stderr)
        return EXIT_BAD_SETUP
    try:
        manifest = job.run(listing, config, args.input, args.output, options)
    except LandmarkModelUnavailable as err:
        print(f"lipflow preprocess: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    from pipelines.preprocess.dataset_info import DATASET_INFO_FILE, summary_text

    print(_summary(manifest, args.output))
    with open(os.path.join(args.output, DATASET_INFO_FILE), encoding="utf-8") as handle:
        print(summary_text(json.load(handle)))
    return _verdict(manifest, config.max_failure_fraction)


def _verdict(manifest: dict, max_failure_fraction: float) -> int:
    words = manifest["words"]
    if not manifest["balanced"]:
        print("lipflow preprocess: the manifest does not balance (words seen != written + "
              "failed); this is a bug, please report it with the manifest", file=sys.stderr)
        return EXIT_FAILED_RUN
    if words["written"] == 0:
        print("lipflow preprocess: no clip was written; see dead_letters.jsonl for why",
              file=sys.stderr)
        return EXIT_FAILED_RUN
    failed_share = words["failed"] / max(words["seen"], 1)
    if failed_share > max_failure_fraction:
        print(f"lipflow preprocess: {failed_share:.0%} of words failed, more than "
              f"--max_failure_fraction {max_failure_fraction}; see dead_letters.jsonl",
              file=sys.stderr)
        return EXIT_FAILED_RUN
    return EXIT_OK


def _run_contact_sheet(args: argparse.Namespace) -> int:
    from pipelines.preprocess.contact_sheet import write_contact_sheet

    try:
        path = write_contact_sheet(args.data, args.output, args.clips, args.step)
    except ValueError as err:
        print(f"lipflow contact-sheet: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    print(f"lipflow contact-sheet: wrote {path}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lipflow", description=_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    _preprocess_parser(subparsers)
    _train_parser(subparsers)
    _evaluate_parser(subparsers)
    _contact_sheet_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    # TensorFlow's C++ start-up banner is noise to a user; its warnings still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lipflow import logs

    logs.configure(args.log_level)
    if args.command == "preprocess":
        return _run_preprocess(args, argv[argv.index("preprocess") + 1:])
    if args.command == "evaluate":
        return _run_evaluate(args, unknown)
    if unknown:
        parser.error(f"unrecognised arguments: {' '.join(unknown)}")
    if args.command == "train":
        return _run_train(args)
    return _run_contact_sheet(args)


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
