"""`lipflow preprocess`: video + transcripts -> a dataset of word clips."""

from __future__ import annotations

import argparse
import json
import sys

from lipflow.commands.exit_codes import EXIT_BAD_SETUP, EXIT_FAILED_RUN, EXIT_OK


def add_parser(subparsers) -> argparse.ArgumentParser:
    from pipelines.preprocess.flags import add_preprocess_arguments

    parser = subparsers.add_parser(
        "preprocess", help="video + transcripts -> word-aligned mouth-crop TFRecords",
        description="Decodes each video at a constant frame rate on the container's clock, "
                    "finds shot cuts, tracks every face with 68 facial landmarks, picks the "
                    "speaking face by audio-visual sync where several are on screen, warps "
                    "each frame to a mean face, crops the grey mouth region and cuts a fixed "
                    "window around each word inside its shot. Long programmes are processed "
                    "in chunks of whole shots. Writes clips-*.tfrecord[.gz], "
                    "dead_letters.jsonl (every word that failed, was dropped or had no clip, with its reason), shots.jsonl (the "
                    "cuts of each video) and manifest.json (accounts for every input) into "
                    "--output. Flags this command does not "
                    "know are passed to Apache Beam (e.g. --runner DataflowRunner --project P "
                    "--region R --temp_location gs://...), and one Beam does not know either is "
                    "refused, naming the nearest valid flag; without --runner it runs "
                    "locally on all cores.")
    add_preprocess_arguments(parser, required=True)
    return parser


def _dead_letter_lines(manifest: dict) -> list[str]:
    """Words lost per stage/reason, under the heading of their kind."""
    from pipelines.preprocess.dead_letters import DROPPED, FAILURE, NO_CLIP

    headings = ((FAILURE, "failed (counted against --max_failure_fraction):"),
                (DROPPED, "dropped on purpose:"), (NO_CLIP, "no clip could be cut:"))
    lines = []
    for kind, heading in headings:
        keys = [k for k in manifest["failures"] if manifest["reason_kinds"][k] == kind]
        if keys:
            lines.append(f"  {heading}")
        lines += [_reason_line(k, manifest["failed_words"][k], manifest["failures"][k])
                  for k in keys]
    return lines


def _reason_line(key: str, words: int, letters: int) -> str:
    # A video lost whole is one dead letter for all of its words.
    grouped = "" if letters == words else f" (in {letters} dead letter{'s' * (letters != 1)})"
    return f"    {words:6d} words  {key}{grouped}"


def run_summary(manifest: dict, output: str) -> str:
    """The lines printed at the end of a run: words by outcome, the reasons behind the
    failed, dropped and clip-less ones, and where the outputs are."""
    words, videos = manifest["words"], manifest["videos"]
    lines = [f"lipflow preprocess: {videos['seen']} videos, {words['seen']} words -> "
             f"{words['written']} clips written, {words['failed']} words failed, "
             f"{words['dropped']} dropped, {words['no_clip']} without a clip "
             f"({videos['failed']} videos lost whole)"]
    lines += _dead_letter_lines(manifest)
    lines += [f"  clips:        {output}/{{train,val,test}}/clips-*.tfrecord[.gz]",
              f"  transform:    {output}/transform_fn (vocabulary, label ids, pixel statistics)",
              f"  dead letters: {output}/dead_letters.jsonl",
              f"  shot lists:   {output}/shots.jsonl",
              f"  manifest:     {output}/manifest.json",
              f"  dataset card: {output}/dataset_info.json"]
    return "\n".join(lines)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.preprocess import job
    from pipelines.preprocess.inputs import list_inputs
    from pipelines.preprocess.landmarks import LandmarkModelUnavailable
    from pipelines.preprocess.options import config_from_options
    from pipelines.preprocess.output_folder import OutputInUse
    from pipelines.preprocess.vocabulary import read_fixed_vocabulary

    try:
        options = PipelineOptions(job.default_direct_options(argv))
        config = config_from_options(options)
        if config.vocabulary:
            read_fixed_vocabulary(config.vocabulary)  # a bad list fails before any work
        listing = list_inputs(args.input)
    except ValueError as err:
        print(f"lipflow preprocess: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    if not listing.videos:
        print(f"lipflow preprocess: no videos found in {args.input!r}", file=sys.stderr)
        return EXIT_BAD_SETUP
    try:
        manifest = job.run(listing, config, args.input, args.output, options, args.overwrite)
    except (LandmarkModelUnavailable, OutputInUse) as err:
        print(f"lipflow preprocess: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    from apache_beam.io.filesystems import FileSystems

    from pipelines.preprocess.dataset_info import summary_text
    from schemas.layout import DATASET_INFO_FILE

    print(run_summary(manifest, args.output))
    # Through Beam's file systems: --output may be gs://.
    with FileSystems.open(FileSystems.join(args.output, DATASET_INFO_FILE)) as handle:
        print(summary_text(json.loads(handle.read().decode("utf-8"))))
    return exit_code(manifest, config.max_failure_fraction)


def exit_code(manifest: dict, max_failure_fraction: float) -> int:
    """The run's exit status from its manifest: 1 when it does not balance, wrote no clip,
    or more than `max_failure_fraction` of its words failed (dropped words do not count);
    the reason is printed to stderr."""
    words = manifest["words"]
    if not manifest["balanced"]:
        print("lipflow preprocess: the manifest does not balance (words seen != written + "
              "failed + dropped + no_clip); this is a bug, please report it with the manifest",
              file=sys.stderr)
        return EXIT_FAILED_RUN
    if words["written"] == 0:
        print("lipflow preprocess: no clip was written; see dead_letters.jsonl for why",
              file=sys.stderr)
        return EXIT_FAILED_RUN
    # Only failures count: words dropped on purpose or without a clip are the data's nature.
    failed_share = words["failed"] / max(words["seen"], 1)
    if failed_share > max_failure_fraction:
        print(f"lipflow preprocess: {failed_share:.0%} of words failed, more than "
              f"--max_failure_fraction {max_failure_fraction}; see the dead letters of kind "
              "failure in dead_letters.jsonl", file=sys.stderr)
        return EXIT_FAILED_RUN
    return EXIT_OK
