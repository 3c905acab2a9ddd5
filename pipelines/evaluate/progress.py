"""Progress of the evaluation job: clips done of the split's clips, clips per second, time left.

A tap on the outcome events (the ones CollectOutcomes sums) counts records read and
records done: scored, out of vocabulary, augmented copy skipped, or failed. The total
is the split's clip count in the dataset card, or the records read so far without one.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from pipelines.human_time import duration
from pipelines.progress import Counts, Event, RecordProgress
from schemas.layout import DATASET_INFO_FILE


def split_clips(data: str, split: str) -> int:
    """Clips the dataset card lists for `split` (augmented copies included), or 0."""
    path = FileSystems.join(data, DATASET_INFO_FILE)
    if not FileSystems.exists(path):
        return 0
    with FileSystems.open(path) as handle:
        info = json.loads(handle.read().decode("utf-8"))
    return int(info.get("splits", {}).get(split, {}).get("clips", 0))


def outcome_events(event: dict) -> list[Event]:
    if event["kind"] == "record":
        return [("read", "", 1)]
    records = event["records"] if event["kind"] == "failure" else 1
    return [("done", "", records)]


def record_progress(folder: str, events) -> None:
    """Adds the tap on the PCollection of outcome events."""
    events | "ProgressOutcomes" >> RecordProgress(folder, outcome_events)


def progress_line(counts: Counts, seconds: float, expected: int) -> str:
    """`120/400 clips done, 35 clips/s, about 8 s left` from the tap's counts."""
    done, read = counts.get(("done", ""), 0), counts.get(("read", ""), 0)
    total = max(expected, read)
    rate = done / max(seconds, 1e-9)
    line = f"evaluate: {done:.0f}/{total:.0f} clips done"
    if done:
        line += f", {rate:.1f} clips/s"
    if 0 < done < total:
        line += f", about {duration((total - done) / rate)} left"
    return line
