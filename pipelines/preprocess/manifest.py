"""Stage 5: the run's manifest, which accounts for every input.

Each outcome becomes a small event (a video seen, the words a transcript holds, a clip
written, a dead letter and the words it ends); one combine turns them into counts for
which `videos.seen == videos.processed + videos.failed` and
`words.seen == words.written + words.failed + words.dropped + words.no_clip` must hold.
A dead letter's words go to `failed`, `dropped` or `no_clip` by its kind (the table is
`dead_letters.KIND_BY_REASON`). `balanced` records whether the words add up; the command
line refuses to call an unbalanced run a success.
"""

from __future__ import annotations

from collections import Counter

import apache_beam as beam

from pipelines.atomic_write import write_json_atomically
from pipelines.preprocess.dead_letters import DROPPED, FAILURE, NO_CLIP, kind_of
from schemas.clip import SCHEMA_VERSION

# manifest["words"] key of the words each kind of dead letter ends
WORDS_KEY = {FAILURE: "failed", DROPPED: "dropped", NO_CLIP: "no_clip"}


def video_seen_event(video) -> dict:
    return {"kind": "video"}


def words_seen_event(job) -> dict:
    # Every word the transcript accounts for: for subtitles, every cue word (aligned later
    # or dead-lettered by the align-subtitles stage), so seen = written + dead letters holds.
    return {"kind": "words", "count": job.transcript.word_count}


def clip_written_event(clip) -> dict:
    return {"kind": "clip", "video_id": clip.video_id, "split": clip.split, "word": clip.word,
            "group": clip.group, "copy": clip.augment_copy, "unit": clip.unit}


def failure_event(record: dict) -> dict:
    """The event of one dead letter (of any kind: failure, dropped, no_clip)."""
    if record["kind"] not in WORDS_KEY:
        raise ValueError(f"dead letter of unknown kind {record['kind']!r}: {record!r}")
    return {"kind": "dead_letter", "key": f"{record['stage']}/{record['reason']}",
            "outcome": record["kind"],
            "words": record["words_affected"], "video_id": record["video_id"],
            "sentence": record.get("unit") == "sentence",
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
        elif kind == "dead_letter":
            acc["failures:" + event["key"]] += 1
            acc["words." + WORDS_KEY[event["outcome"]]] += event["words"]
            acc["failed_words:" + event["key"]] += event["words"]
            if event.get("sentence"):
                acc["sentences." + WORDS_KEY[event["outcome"]]] += 1
            if event["video_level"]:
                acc["videos.failed"] += 1
        else:
            raise ValueError(f"unknown manifest event kind {kind!r}")
        return acc

    @staticmethod
    def _add_clip(acc: Counter, event: dict) -> None:
        split = event.get("split", "")
        if event.get("unit") == "sentence":  # sentence clips account for no word of their own
            acc["sentences.written"] += 1
            acc[f"split_sentences:{split}"] += 1
            return
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


def sentence_counts(counts: dict) -> dict:
    """Sentence clips (--unit sentence) written per split, and those not cut by kind."""
    written = _prefixed(counts, "split_sentences:")
    not_cut = {key: counts.get("sentences." + key, 0) for key in WORDS_KEY.values()}
    return {"written": counts.get("sentences.written", 0), "per_split": written, **not_cut}


def build_manifest(counts: dict, run_info: dict) -> dict:
    """The manifest document from the combined counts and what the launcher knows."""
    videos_seen = counts.get("videos.seen", 0)
    videos_failed = counts.get("videos.failed", 0)
    words = {"seen": counts.get("words.seen", 0), "written": counts.get("words.written", 0)}
    words.update({key: counts.get("words." + key, 0) for key in WORDS_KEY.values()})
    videos = {"seen": videos_seen, "processed": videos_seen - videos_failed,
              "failed": videos_failed}
    failures = _prefixed(counts, "failures:")
    return {
        "schema_version": SCHEMA_VERSION,
        **run_info,
        "videos": videos,
        "words": words,
        "balanced": words["seen"] == words["written"] + sum(
            words[key] for key in WORDS_KEY.values()),
        "clips_per_video": _prefixed(counts, "clips_per_video:"),
        "splits": split_counts(counts),
        "words_per_split": _nested(counts, "split_words:"),
        "failures": failures,
        "failed_words": _prefixed(counts, "failed_words:"),
        "reason_kinds": {key: kind_of(*key.split("/", 1)) for key in failures},
        "sentences": sentence_counts(counts),
    }


def _write_json(document: dict, path: str) -> str:
    return write_json_atomically(path, document)


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
