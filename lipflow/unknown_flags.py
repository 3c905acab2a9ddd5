"""Flags a command does not define: Beam's go on to Beam, anything else is refused.

Beam itself drops a flag it cannot parse with no more than a log line, so a misspelt
`--max_jiter 0.05` would run the whole job with the default. Each leftover is checked
against every option Beam knows (its own classes and ours) before anything runs, and a
refusal names the nearest valid flag.
"""

from __future__ import annotations

import argparse
import difflib


def beam_parser() -> argparse.ArgumentParser:
    """A parser of Beam's own pipeline options, built as Beam builds its parser (one
    instance of each options class). lipflow's options classes are left out: the
    command's parser holds their flags, and they mark --input and --output required."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    classes = {str(cls): cls for cls in PipelineOptions.__subclasses__()
               if cls.__module__.startswith("apache_beam.")}
    for cls in classes.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    return parser


def option_strings(*parsers: argparse.ArgumentParser) -> list[str]:
    """The long flags the parsers define, in order, without repeats."""
    flags = (opt for parser in parsers for action in parser._actions  # noqa: SLF001
             for opt in action.option_strings if opt.startswith("--"))
    return list(dict.fromkeys(flags))


def not_understood(tokens: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The tokens `parser` leaves unparsed."""
    _, left = parser.parse_known_args(tokens)
    return left


def refusal(left: list[str], valid: list[str]) -> str:
    """The message for tokens nobody understood, each flag with its nearest valid flag."""
    parts = []
    for token in left:
        if not token.startswith("-"):
            parts.append(repr(token))
            continue
        name = token.split("=", 1)[0]
        nearest = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        parts.append(f"{name} (did you mean {nearest[0]}?)" if nearest else name)
    return "unknown arguments: " + ", ".join(parts)
