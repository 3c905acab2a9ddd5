"""Stage 5: the run's manifest, which accounts for every input.

Each outcome becomes a small event (a video seen, the words a transcript holds, a clip
written, a failure and the words it ends); one combine turns them into counts for
which `videos.seen == videos.processed + videos.failed` and
`words.seen == words.written + words.failed` must hold. `balanced` records whether
they do; the command line refuses to call an unbalanced run a success.
"""

from __future__ import annotations

import json
from collections import Counter

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from schemas.clip import SCHEMA_VERSION


def video_seen_event(video) -> dict:
    return {"kind": "video"}


def words_seen_event(job) -> dict:
    # Every word the transcript accounts for: for subtitles, every cue word (aligned later
    # or dead-lettered by the align-subtitles stage), so seen = written + failed holds.
    return {"kind": "words", "count": job.transcript.word_count}


def clip_written_event(clip) -> dict:
    return {"kind": "clip", "video_id": clip.video_id, "split": clip.split, "word": clip.word,
            "group": clip.group, "copy": clip.augment_copy}


def failure_event(record: dict) -> dict:
    return {"kind": "failure", "key": f"{record['stage']}/{record['reason']}",
            "words": record["words_affected"], "video_id": record["video_id"],
            # Failures not tied to a video (a transcript with no video) count under failures only.
            "video_level": record["word_index"] < 0 and bool(record["video_id"])}


class SummarizeOutcomesFn(beam.CombineFn):
    """Events -> counts (a Counter of named totals and of per-video / per-reason keys)."""

    def create_accumulator(self):
        return Counter()

    def add_input(self, acc, event):
        kind = event["kind"]
        if kind == "video":
            acc["videos.seen"] += 1
        elif kind == "words":
            acc["words.seen"] += event["count"]
        elif kind == "clip":
            self._add_clip(acc, event)
        elif kind == "failure":
            acc["failures:" + event["key"]] += 1
            acc["words.failed"] += event["words"]
            acc["failed_words:" + event["key"]] += event["words"]
            if event["video_level"]:
                acc["videos.failed"] += 1
        else:
            raise ValueError(f"unknown manifest event kind {kind!r}")
        return acc

    @staticmethod
    def _add_clip(acc: Counter, event: dict) -> None:
        split = event.get("split", "")
        acc[f"split_clips:{split}"] += 1
        if event.get("copy", 0):
            acc[f"split_augmented:{split}"] += 1
            return
        # Only originals account for transcript words; augmented copies are extra.
        acc["words.written"] += 1
        acc["clips_per_video:" + event["video_id"]] += 1
        acc[f"split_words:{split}\x00{event.get('word', '')}"] += 1
        acc[f"split_groups:{split}\x00{event.get('group', '')}"] = 1

    def merge_accumulators(self, accumulators):
        merged = Counter()
        for acc in accumulators:
            merged.update(acc)
        for key in [k for k in merged if k.startswith("split_groups:")]:
            merged[key] = 1  # a set of groups, not a count
        return merged

    def extract_output(self, acc):
        return dict(acc)


def _prefixed(counts: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def _nested(counts: dict, prefix: str) -> dict:
    nested: dict = {}
    for key, value in _prefixed(counts, prefix).items():
        outer, inner = key.split("\x00", 1)
        nested.setdefault(outer, {})[inner] = value
    return nested


def split_counts(counts: dict) -> dict:
    """Per split: clips written (with copies), augmented copies, distinct groups."""
    clips = _prefixed(counts, "split_clips:")
    augmented = _prefixed(counts, "split_augmented:")
    groups = _nested(counts, "split_groups:")
    return {split: {"clips": clips[split], "augmented_clips": augmented.get(split, 0),
                    "original_clips": clips[split] - augmented.get(split, 0),
                    "groups": len(groups.get(split, {}))} for split in clips}


def build_manifest(counts: dict, run_info: dict) -> dict:
    """The manifest document from the combined counts and what the launcher knows."""
    videos_seen = counts.get("videos.seen", 0)
    videos_failed = counts.get("videos.failed", 0)
    words = {"seen": counts.get("words.seen", 0), "written": counts.get("words.written", 0),
             "failed": counts.get("words.failed", 0)}
    videos = {"seen": videos_seen, "processed": videos_seen - videos_failed,
              "failed": videos_failed}
    return {
        "schema_version": SCHEMA_VERSION,
        **run_info,
        "videos": videos,
        "words": words,
        "balanced": words["seen"] == words["written"] + words["failed"],
        "clips_per_video": _prefixed(counts, "clips_per_video:"),
        "splits": split_counts(counts),
        "words_per_split": _nested(counts, "split_words:"),
        "failures": _prefixed(counts, "failures:"),
        "failed_words": _prefixed(counts, "failed_words:"),
    }


def _write_json(document: dict, path: str) -> str:
    with FileSystems.create(path, mime_type="application/json") as handle:
        handle.write(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True).encode())
    return path


class WriteManifest(beam.PTransform):
    """PCollection[event] -> `path` (manifest.json), written once by one worker."""

    def __init__(self, path: str, run_info: dict):
        super().__init__()
        self._path = path
        self._run_info = run_info

    def expand(self, events):
        return (events
                | "CountOutcomes" >> beam.CombineGlobally(SummarizeOutcomesFn())
                | "BuildManifest" >> beam.Map(build_manifest, self._run_info)
                | "WriteManifestJson" >> beam.Map(_write_json, self._path))
