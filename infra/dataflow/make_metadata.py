"""Writes each Flex Template's metadata.json from its job's own command-line parser.

    .venv/bin/python infra/dataflow/make_metadata.py          # rewrite the files
    .venv/bin/python infra/dataflow/make_metadata.py --check  # exit 1 if one is stale

One parameter per flag of `lipflow preprocess` / `lipflow evaluate`, named as the flag,
with its help text, whether it is required, and the regexes (and console input types)
that Dataflow checks before it starts a launcher: numbers, enumerations (taken from the
constants the jobs validate against) and Cloud Storage paths. A flag that a command
takes several times is one comma-separated parameter in a template (infra/dataflow/
launch.py splits it). Run it after adding or changing a flag; the tests compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOBS = ("preprocess", "evaluate")

_INT = r"^[0-9]+$"
_FLOAT = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$"
_BUCKET = r"gs://[a-z0-9][-_.a-z0-9]*[a-z0-9]"
_GCS_FOLDER = rf"^{_BUCKET}(/.*)?$"
_GCS_FOLDERS = rf"^{_BUCKET}(/[^,]*)?(,{_BUCKET}(/[^,]*)?)*$"

# Per job, flags whose values are Cloud Storage paths in a template: (console type, regex,
# what a template run needs beyond the flag's own help).
_PATHS = {
    "preprocess": {
        "input": ("GCS_READ_FILE", rf"^{_BUCKET}/.+\.(csv|jsonl)$",
                  "In a template: a gs:// CSV or JSON Lines manifest whose video and transcript "
                  "columns hold gs:// paths (folders cannot be listed there)."),
        "output": ("GCS_WRITE_FOLDER", _GCS_FOLDER, "In a template: a gs:// folder."),
        "vocabulary": ("GCS_READ_FILE", _GCS_FOLDER,
                       "In a template: a gs:// vocabulary.txt, export folder or dataset."),
    },
    "evaluate": {
        "data": ("GCS_READ_FOLDER", _GCS_FOLDER, "In a template: a gs:// folder."),
        "model": ("GCS_READ_FOLDER", _GCS_FOLDERS,
                  "In a template: gs:// export folders, several separated by commas."),
        "output": ("GCS_WRITE_FOLDER", _GCS_FOLDER, "In a template: a gs:// folder."),
        "baseline": ("GCS_READ_FILE", rf"^{_BUCKET}/.+\.json$",
                     "In a template: a gs:// path."),
    },
}
# Flags with a fixed pattern that neither their type nor an enumeration gives.
_PATTERNS = {
    "preprocess": {"landmark_device": (r"^(cpu|cuda(:[0-9]+)?)$", "")},
    "evaluate": {"slice": (r"^[a-z_]+(,[a-z_]+)*$",
                           "In a template: several keys separated by commas.")},
}
_LABELS = {
    "fps": "Output frame rate (fps)",
    "tta": "Test-time augmentation",
    "model": "Model export folders",
    "slice": "Extra slice keys",
    "input": "Input manifest",
    "data": "Dataset folder",
}


def _enumerations(job: str) -> dict[str, tuple[str, ...]]:
    """Flags whose values the job checks against a fixed tuple, by flag name."""
    if job == "preprocess":
        from pipelines.preprocess.config import UNITS
        from pipelines.preprocess.landmarks import BACKENDS
        from pipelines.preprocess.splits import SPLIT_KEYS

        return {"landmarks": tuple(BACKENDS), "split_by": tuple(SPLIT_KEYS),
                "unit": tuple(UNITS)}
    from pipelines.evaluate.homophemes import MAPPINGS
    from pipelines.preprocess.splits import SPLITS

    return {"split": tuple(SPLITS), "viseme_mapping": tuple(MAPPINGS)}


def job_parser(job: str) -> argparse.ArgumentParser:
    """The parser of `lipflow JOB`, built by the command's own module."""
    from lipflow.commands import evaluate, preprocess

    commands = {"preprocess": preprocess, "evaluate": evaluate}
    if job not in commands:
        raise ValueError(f"unknown job {job!r}; choose one of {JOBS}")
    subparsers = argparse.ArgumentParser(prog="lipflow").add_subparsers()
    return commands[job].add_parser(subparsers)


def flag_name(action: argparse.Action) -> str:
    """The long flag without its dashes: --window_length -> window_length."""
    long_flags = [s for s in action.option_strings if s.startswith("--")]
    if not long_flags:
        raise ValueError(f"option {action.option_strings} has no long form")
    return long_flags[0][2:]


def job_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's flags, in order, without --help."""
    return [a for a in parser._actions  # argparse keeps no public list of a parser's actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _help(action: argparse.Action) -> str:
    text = " ".join((action.help or "").split())
    return text % {"default": action.default} if "%(" in text else text


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " ").capitalize())


def _regex_or(values) -> str:
    return "^(" + "|".join(str(v) for v in values) + ")$"


def parameter(job: str, action: argparse.Action, enums: dict[str, tuple[str, ...]]) -> dict:
    """One metadata parameter for one flag; ValueError for a flag type without a rule."""
    name = flag_name(action)
    entry = {"name": name, "label": _label(name), "helpText": _help(action),
             "isOptional": not action.required}
    values = tuple(action.choices) if action.choices else enums.get(name)
    if name in _PATHS[job]:
        param_type, regex, note = _PATHS[job][name]
        entry.update(paramType=param_type, regexes=[regex])
        entry["helpText"] = f"{entry['helpText']}. {note}"
    elif values:
        entry.update(paramType="ENUM", regexes=[_regex_or(values)],
                     enumOptions=[{"value": str(v)} for v in values])
    elif name in _PATTERNS[job]:
        regex, note = _PATTERNS[job][name]
        entry.update(paramType="TEXT", regexes=[regex])
        if note:
            entry["helpText"] = f"{entry['helpText']}. {note}"
    elif action.type in (int, float):
        entry.update(paramType="NUMBER", regexes=[_INT if action.type is int else _FLOAT])
    elif action.type in (None, str):
        entry["paramType"] = "TEXT"
    else:
        raise ValueError(f"no template rule for --{name} of type {action.type!r}: add one to "
                         f"{os.path.relpath(__file__, ROOT)}")
    if action.default not in (None, "", []):
        entry["defaultValue"] = str(action.default)
    return entry


def _check_rules(job: str, names: set[str], enums: dict) -> None:
    """Every rule names a real flag of the job, so a renamed flag cannot lose its rule."""
    ruled = set(_PATHS[job]) | set(enums) | set(_PATTERNS[job])
    unknown = sorted(ruled - names)
    if unknown:
        raise ValueError(f"rules for flags that lipflow {job} does not have: {unknown}")


def metadata(job: str) -> dict:
    """The metadata.json document of `job`'s template."""
    parser = job_parser(job)
    options = job_options(parser)
    enums = _enumerations(job)
    _check_rules(job, {flag_name(a) for a in options}, enums)
    return {
        "name": f"lipflow {job}",
        "description": " ".join((parser.description or "").split()),
        "parameters": [parameter(job, a, enums) for a in options],
    }


def metadata_path(job: str) -> str:
    return os.path.join(HERE, job, "metadata.json")


def render(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare; exit 1 when a committed file differs")
    args = parser.parse_args(argv)
    stale = []
    for job in JOBS:
        text, path = render(metadata(job)), metadata_path(job)
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if text == current:
            continue
        if args.check:
            stale.append(os.path.relpath(path, ROOT))
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {os.path.relpath(path, ROOT)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run {os.path.relpath(__file__, ROOT)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.exit(main())
