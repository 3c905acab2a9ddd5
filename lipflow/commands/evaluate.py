"""`lipflow evaluate`: score exported models on a dataset split; metrics and a report."""

from __future__ import annotations

import argparse
import sys

from lipflow.commands.exit_codes import EXIT_BAD_SETUP, EXIT_FAILED_RUN, EXIT_OK


def add_parser(subparsers) -> argparse.ArgumentParser:
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
                    "to Apache Beam (e.g. --runner DataflowRunner ...); one Beam does not "
                    "know either is refused, naming the nearest valid flag.")
    parser.add_argument("--data", required=True, help="what lipflow preprocess wrote")
    parser.add_argument("--model", required=True, action="append", metavar="EXPORT_DIR",
                        help="an export folder from lipflow train (OUTPUT/export); repeat the "
                             "flag to average several models as an ensemble")
    parser.add_argument("--output", required=True, help="folder for the metrics and report")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"),
                        help="the split to score (default: test)")
    parser.add_argument("--tta", default="none", choices=tuple(TTA_MODES),
                        help="test-time views averaged: none (centre crop), flip (+ mirror), "
                             "multi (centre and 4 corner crops, each also mirrored), time (the "
                             "centre crop at the word's centre and one frame either side), "
                             "flip_time (centre and mirror at those three placements)")
    parser.add_argument("--baseline", default="",
                        help="metrics.json of the model in production: the report shows the "
                             "deltas and a verdict (better, worse, no significant difference)")
    parser.add_argument("--viseme_mapping", default="lee2002",
                        help="phoneme-to-viseme mapping for homophemes (default: lee2002)")
    parser.add_argument("--slice", action="append", default=[], dest="slices", metavar="KEY",
                        help="also break accuracy down by this clip context key (repeatable; "
                             "speaker, show, word length, face size, yaw and edge padding "
                             "are always reported)")
    parser.add_argument("--context", default="none", choices=("none", "bigram"),
                        help="none: each clip alone; bigram: decode each video's consecutive "
                             "words together with a class bigram counted on the train split's "
                             "transcripts (the word classes found from them), so a word's "
                             "neighbours inform it; metrics.json's `context` gives the model "
                             "and the top-1 without it")
    parser.add_argument("--context_weight", type=float, default=0.25,
                        help="weight of the context against the visual model (default 0.25, "
                             "chosen on GRID's val split)")
    parser.add_argument("--context_classes", type=int, default=0,
                        help="word classes of the class bigram (default 0: chosen by the "
                             "likelihood of every tenth training video held out)")
    parser.add_argument("--batch_size", type=int, default=32, help="clips per model call")
    parser.add_argument("--bootstrap_samples", type=int, default=1000,
                        help="bootstrap resamples for the top-1 interval (default: 1000)")
    return parser


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.evaluate import job as evaluate_job
    from pipelines.evaluate.config import EvaluateConfig
    from pipelines.preprocess.job import default_direct_options

    try:
        config = EvaluateConfig(
            models=tuple(args.model), split=args.split, tta=args.tta, batch_size=args.batch_size,
            viseme_mapping=args.viseme_mapping, extra_slices=tuple(args.slices),
            bootstrap_samples=args.bootstrap_samples, baseline=args.baseline,
            context=args.context, context_weight=args.context_weight,
            context_classes=args.context_classes)
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
    if metrics.get("context"):
        lines.append(f"  with sentence context ({metrics['context']['classes']} word classes); "
                     f"top-1 without it {_percent(metrics['context']['top1_without_context'])}")
    if metrics.get("baseline"):
        base = metrics["baseline"]
        lines.append(f"  against the baseline: {base['verdict']} (top-1 delta "
                     f"{_percent(base['top1_delta'])})")
    lines += [f"  report:  {output}/report.html",
              f"  metrics: {output}/metrics.json (confusion.csv, per_word.csv, "
              f"predictions.jsonl, dead_letters.jsonl, manifest.json beside it)"]
    return "\n".join(lines)
