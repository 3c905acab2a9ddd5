"""What to process: videos, each with its transcript, from a folder or a manifest file.

A folder is searched recursively. A video's transcript is the file with the same
stem and a transcript suffix, beside it or in a sibling folder (GRID keeps `video/`
and `align/` side by side); in a recognised corpus layout (LRW, LRS2, LRS3), only beside
it. A manifest is a CSV (header row) or JSON Lines file with a `video` column and
optional `transcript`, `speaker`, `show`, `group` and `split` columns; relative paths are
relative to the manifest. Each video's split and group come from the layout of the paths
(`layouts.py`) unless a manifest names them. Transcripts that no video claims are listed
so that the run can report them instead of ignoring them.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import defaultdict
from dataclasses import dataclass

from pipelines import storage
from pipelines.preprocess.layouts import Placement, recognise_layout
from pipelines.preprocess.transcripts import TRANSCRIPT_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".ts",
                  ".flv", ".wmv")
MANIFEST_SUFFIXES = (".csv", ".jsonl")


@dataclass(frozen=True)
class VideoInput:
    """One video to process. `transcript` is None when none was found.

    `split` is the input's own split: `train`, `val`, `test`, training material
    (`trainval`, `pretrain`: train, or val with its group) or empty (drawn by group).
    `group` is the source that must stay in one split (`programme:<id>`, `youtube:<id>`,
    `folder:<path>`, `video:<id>`, a manifest's `group:<name>`); clips carry it to the
    split stage.
    """

    video: str
    video_id: str
    transcript: str | None
    speaker: str = ""
    show: str = ""
    split: str = ""
    group: str = ""


@dataclass(frozen=True)
class InputListing:
    """The videos found, and transcripts that belong to no video."""

    videos: tuple[VideoInput, ...]
    orphan_transcripts: tuple[str, ...]


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _transcript_index(paths: list[str]) -> dict[tuple[str, str], list[str]]:
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in paths:
        if _suffix(path) in TRANSCRIPT_SUFFIXES:
            stem = os.path.splitext(os.path.basename(path))[0]
            index[(os.path.dirname(path), stem)].append(path)
    for candidates in index.values():
        candidates.sort(key=lambda p: TRANSCRIPT_SUFFIXES.index(_suffix(p)))
    return index


def _sibling_folders(folder: str) -> list[str]:
    return [f for f in storage.subfolders(os.path.dirname(folder)) if f != folder]


def find_transcript(video: str, index: dict[tuple[str, str], list[str]],
                    beside_only: bool = False) -> str | None:
    """The video's transcript: same stem, beside it first, else in a sibling folder."""
    folder, name = os.path.split(video)
    stem = os.path.splitext(name)[0]
    folders = [folder] if beside_only else [folder] + _sibling_folders(folder)
    for candidate_folder in folders:
        if index.get((candidate_folder, stem)):
            return index[(candidate_folder, stem)][0]
    return None


def _video_ids(videos: list[str], root: str) -> list[str]:
    """Path relative to `root` without suffix; with suffix where two would collide."""
    bare = [os.path.splitext(os.path.relpath(v, root))[0].replace(os.sep, "/") for v in videos]
    counts: dict[str, int] = defaultdict(int)
    for video_id in bare:
        counts[video_id] += 1
    return [vid if counts[vid] == 1 else os.path.relpath(v, root).replace(os.sep, "/")
            for vid, v in zip(bare, videos)]


def list_folder(root: str) -> InputListing:
    """Videos under `root` (recursively) with their transcripts, splits and groups."""
    if not storage.is_dir(root):
        raise ValueError(f"input folder {root!r} does not exist or is not a folder")
    paths = storage.walk_files(root)
    videos = [p for p in paths if _suffix(p) in VIDEO_SUFFIXES]
    video_ids = _video_ids(videos, root)
    layout = recognise_layout(video_ids, root)
    lists = {storage.normalise(p) for p in layout.list_files}
    index = _transcript_index([p for p in paths if storage.normalise(p) not in lists])
    transcripts = [find_transcript(v, index, layout.transcripts_beside) for v in videos]
    claimed = {t for t in transcripts if t}
    orphans = tuple(p for group in index.values() for p in group if p not in claimed)
    listed = tuple(VideoInput(video=v, video_id=vid, transcript=t, split=place.split,
                              group=place.group)
                   for v, vid, t, place in zip(videos, video_ids, transcripts,
                                               layout.placements))
    return InputListing(videos=listed, orphan_transcripts=tuple(sorted(orphans)))


def _manifest_rows(path: str) -> list[dict]:
    text = storage.read_text(path)
    if _suffix(path) == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"manifest {path!r} line {number} is not JSON: {err}") from err
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("video"):
            raise ValueError(f"manifest {path!r} entry {number} has no 'video': {row!r}")
    return rows


def _text(value) -> str:
    """A manifest cell as text: None is empty, a JSON number such as speaker 0 is kept."""
    return "" if value is None else str(value)


def _resolve(path: str, base: str) -> str:
    if "://" in path or os.path.isabs(path):
        return path
    return storage.normalise(os.path.join(base, path))


def _named_group(value) -> str:
    """A manifest's `group` cell as a group key (empty where the cell is)."""
    name = _text(value)
    return f"group:{name}" if name else ""


def list_manifest(path: str) -> InputListing:
    """Videos named by a CSV or JSON Lines manifest."""
    if _suffix(path) not in MANIFEST_SUFFIXES:
        raise ValueError(f"manifest {path!r} must end in one of {MANIFEST_SUFFIXES}")
    base = os.path.dirname(path if storage.is_remote(path) else os.path.abspath(path))
    rows = _manifest_rows(path)
    videos = [_resolve(row["video"], base) for row in rows]
    video_ids = _video_ids(videos, base)
    given = [Placement(_text(row.get("split")), _named_group(row.get("group"))) for row in rows]
    layout = recognise_layout(video_ids, base, given)
    # Only videos without a transcript column are looked for: listing folders costs a
    # request per folder in a bucket.
    index = _transcript_index([p for row, v in zip(rows, videos) if not row.get("transcript")
                               for p in _nearby_files(v)])
    listed = []
    for row, video, video_id, place in zip(rows, videos, video_ids, layout.placements):
        transcript = (_resolve(row["transcript"], base) if row.get("transcript")
                      else find_transcript(video, index, layout.transcripts_beside))
        listed.append(VideoInput(video=video, video_id=video_id, transcript=transcript,
                                 speaker=_text(row.get("speaker")),
                                 show=_text(row.get("show")),
                                 split=place.split, group=place.group))
    return InputListing(videos=tuple(listed), orphan_transcripts=())


def _nearby_files(video: str) -> list[str]:
    folder = os.path.dirname(video)
    files = []
    for candidate in [folder] + _sibling_folders(folder):
        try:
            files.extend(storage.list_files(candidate))
        except OSError:
            continue
    return files


def transcript_for(video: str) -> str | None:
    """The transcript of one video as a folder listing would find it (same stem, beside it
    first, else in a sibling folder, word-timed formats before subtitles), or None."""
    return find_transcript(video, _transcript_index(_nearby_files(video)))


def list_inputs(path: str) -> InputListing:
    """A folder of videos or a manifest file, as an InputListing."""
    if storage.is_dir(path):
        return list_folder(path)
    if storage.is_file(path):
        return list_manifest(path)
    raise ValueError(f"--input {path!r} is neither a folder nor a manifest file")
