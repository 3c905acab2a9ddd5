"""The preprocess job's output folder: one run's dataset, never two mixed.

Beam's sinks delete only earlier shards named like their own (the same `-of-N`), and the
shard count changes with the runner and its workers, `--compression` changes the suffix:
a second run into a used folder would leave the first run's clips beside its own, and
every reader takes all of them. So before a run:

- a folder that holds another run's dataset (another input or other options, as its
  `run.json`, or for older datasets its `manifest.json`, records) is refused, unless
  `--overwrite` is given;
- the outputs of the run being repeated (or, with `--overwrite`, of any run) are deleted:
  only the names the job writes, nothing else in the folder;
- `run.json` records this run's input and options before any clip is written, so a run
  that stops half way is still known for what it was.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from pipelines.atomic_write import write_json_atomically
from pipelines.preprocess.splits import SPLITS
from schemas.layout import DATASET_INFO_FILE, SENTENCES_DIR, TRANSFORM_DIR

RUN_FILE = "run.json"
# Everything the job writes into its output folder (files and folders).
JOB_OUTPUTS = (*SPLITS, SENTENCES_DIR, TRANSFORM_DIR, "tmp_tft", "dead_letters.jsonl",
               "shots.jsonl", "manifest.json", DATASET_INFO_FILE, RUN_FILE)


class OutputInUse(ValueError):
    """The output folder holds another run's dataset; the message says how to go on."""


def _recorded_run(output: str) -> dict | None:
    """The input and options the folder's dataset was made with (None: no record)."""
    for name in (RUN_FILE, "manifest.json"):
        path = FileSystems.join(output, name)
        if FileSystems.exists(path):
            with FileSystems.open(path) as handle:
                try:
                    document = json.loads(handle.read().decode("utf-8"))
                except ValueError:
                    return {}
            return {"input": document.get("input"), "options": document.get("options")}
    return None


def _present(output: str) -> list[str]:
    return [name for name in JOB_OUTPUTS if FileSystems.exists(FileSystems.join(output, name))]


def _differences(recorded: dict, this_run: dict) -> list[str]:
    if recorded.get("input") != this_run["input"]:
        return [f"input {recorded.get('input')!r} (now {this_run['input']!r})"]
    before, now = recorded.get("options") or {}, this_run["options"]
    return [f"{key} {before.get(key)!r} (now {now.get(key)!r})"
            for key in sorted(set(before) | set(now)) if before.get(key) != now.get(key)]


def prepare_output(output: str, input_path: str, options: dict, overwrite: bool) -> None:
    """Makes `output` ready for a run of `input_path` with `options` (see the module doc);
    OutputInUse when it holds another run's dataset and `overwrite` is False."""
    if not FileSystems.exists(output):
        FileSystems.mkdirs(output)
    this_run = {"input": input_path, "options": options}
    present = _present(output)
    if present and not overwrite:
        recorded = _recorded_run(output)
        why = (["no record of the run that wrote them"] if recorded is None
               else _differences(recorded, this_run))
        if why:
            raise OutputInUse(
                f"--output {output!r} already holds a dataset ({', '.join(present[:4])}) made "
                f"differently: {'; '.join(why[:3])}. Writing into it would mix the two; "
                "pass --overwrite to delete it first, or choose another --output")
    if present:
        FileSystems.delete([FileSystems.join(output, name) for name in present])
    write_json_atomically(FileSystems.join(output, RUN_FILE), this_run)
