"""`lipflow contact-sheet`: draw clips read back from TFRecords into a PNG."""

from __future__ import annotations

import argparse
import sys

from lipflow.commands.exit_codes import EXIT_BAD_SETUP, EXIT_OK


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "contact-sheet", help="draw word clips from TFRecords into a PNG",
        description="Reads clips back through the schema's parser and draws one row per clip "
                    "(every --step-th frame; a white bar marks frames inside the word).")
    parser.add_argument("--data", required=True, help="folder holding clips-*.tfrecord.gz")
    parser.add_argument("--output", required=True, help="PNG file to write")
    parser.add_argument("--clips", type=int, default=12, help="number of clips (rows)")
    parser.add_argument("--step", type=int, default=3, help="draw every n-th frame")
    return parser


def run(args: argparse.Namespace) -> int:
    from pipelines.preprocess.contact_sheet import write_contact_sheet

    try:
        path = write_contact_sheet(args.data, args.output, args.clips, args.step)
    except ValueError as err:
        print(f"lipflow contact-sheet: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    print(f"lipflow contact-sheet: wrote {path}")
    return EXIT_OK
