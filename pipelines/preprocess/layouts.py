"""Corpus layouts: what a folder's structure says about each video's split and group.

The public lip-reading corpora put their splits and their sources in their folder names.
Given the video ids of an input (paths relative to it, `/`-separated, without suffix),
`recognise_layout` names the layout and gives every video a `Placement`:

* `split`: the corpus's own split (`train`, `val`, `test`), training material
  (`trainval`, `pretrain`: train, or val with its whole group, never test), or empty
  (drawn from the group's hash, `splits.py`);
* `group`: the source that must stay in one split, as a key (`programme:<id>`).

| layout | every video at | split | group |
| --- | --- | --- | --- |
| `lrw` | `P/WORD/{train,val,test}/WORD_NNNNN` | its folder's | `video:<id>` |
| `lrs2` | `P/{main,pretrain}/<programme>/<clip>` | LRS2's lists | `programme:<id>` |
| `lrs3` | `P/{pretrain,trainval,test}/<youtube id>/<clip>` | `test/`; material | `youtube:<id>` |
| `folders` | anything else | a split folder on the path | `folder:<path>`, `video:<id>` |

`P/` is a prefix that all share, maybe none (`mvlrs_v1/`, `lipread_mp4/`). LRS2 is told
from LRS3 by a `main/` folder, its list files, or all-digit programme folders. For
`folders`, a video's group is its folder with split folder names left out, so
`trainval/x/1` and `pretrain/x/2` share `folder:x`; it is the video alone when it lies
directly in the input or in a split folder, or when the videos lie in fewer than two
folders (GRID's one `video/` folder).

Then, across the input, training material never reaches test and stays whole: a group
that holds some is training material throughout (its clips without a split join it: LRS2
without lists draws a programme to train, val or test unless it has `pretrain/` clips).
It goes to train where the input names a `val` split of its own (no val is carved) or the
group has clips named train, else to train or val by the group's hash. A group that the
input's own splits put in two splits is kept so, and reported in the log.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from pipelines import storage
from pipelines.preprocess.splits import TRAINING_MATERIAL

SPLIT_FOLDERS = ("train", "val", "test")
NAMED_FOLDERS = SPLIT_FOLDERS + TRAINING_MATERIAL
LRS2_LISTS = {"train.txt": "train", "val.txt": "val", "test.txt": "test"}
LRS2_PRETRAIN_LIST = "pretrain.txt"  # names pretrain/ clips: read past, not a transcript
LRS2_PARTS = ("main", "pretrain")
LRS3_PARTS = ("pretrain", "trainval", "test")
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """What the layout says about one video: its split (or empty) and its group key."""

    split: str
    group: str


@dataclass(frozen=True)
class Layout:
    """A recognised layout: one placement per video id, in the order given.

    `list_files` are the split lists read (they are not transcripts); with
    `transcripts_beside`, a video's transcript is only looked for beside it, since every
    source folder of these corpora holds clips of the same names (`00001.txt`).
    """

    name: str
    placements: tuple[Placement, ...]
    list_files: tuple[str, ...] = ()
    transcripts_beside: bool = False


@dataclass(frozen=True)
class _CorpusPath:
    """A video id as `prefix/part/folder/clip`."""

    prefix: str
    part: str
    folder: str
    clip: str


def _corpus_paths(video_ids: Sequence[str]) -> list[_CorpusPath] | None:
    """Each id as (prefix, part, folder, clip), or None unless all share one prefix."""
    paths = []
    for video_id in video_ids:
        parts = video_id.split("/")
        if len(parts) < 3:
            return None
        paths.append(_CorpusPath("/".join(parts[:-3]), parts[-3], parts[-2], parts[-1]))
    if not paths or len({p.prefix for p in paths}) != 1:
        return None
    return paths


def _lrw(video_ids: Sequence[str], root: str | None) -> Layout | None:
    paths = _corpus_paths(video_ids)
    if paths is None or not all(p.folder in SPLIT_FOLDERS and p.clip.startswith(f"{p.part}_")
                                for p in paths):
        return None
    return Layout("lrw", tuple(Placement(p.folder, f"video:{v}")
                               for p, v in zip(paths, video_ids)), transcripts_beside=True)


def _list_folders(root: str | None, prefix: str) -> list[str]:
    if root is None:
        return []
    folders = [root, os.path.join(root, prefix)] if prefix else [root]
    return [f for f in folders if storage.is_dir(f)]


def read_lrs2_list(path: str) -> list[str]:
    """The clips an LRS2 list names, as `programme/clip`.

    A line is `PROGRAMME/CLIP`, possibly followed by more tokens (the test list's `NF`,
    `MV` marks) that are read past; a leading `main/` and a `.mp4` suffix are dropped.
    """
    clips = []
    for number, line in enumerate(storage.read_text(path).split("\n"), start=1):
        tokens = line.split()
        if not tokens:
            continue
        name = tokens[0].removeprefix("main/").removesuffix(".mp4")
        if name.count("/") != 1 or name.startswith("/") or name.endswith("/"):
            raise ValueError(f"{path!r} line {number}: {line.strip()!r} does not name a "
                             f"clip as PROGRAMME/CLIP (an LRS2 split list)")
        clips.append(name)
    return clips


def _lrs2_lists(root: str | None, prefix: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """`programme/clip` -> split from the LRS2 lists found, and the list files read."""
    listed: dict[str, str] = {}
    where: dict[str, str] = {}
    files = []
    for folder in _list_folders(root, prefix):
        pretrain_list = os.path.join(folder, LRS2_PRETRAIN_LIST)
        if storage.is_file(pretrain_list):
            files.append(pretrain_list)
        for name, split in LRS2_LISTS.items():
            path = os.path.join(folder, name)
            if not storage.is_file(path):
                continue
            files.append(path)
            for clip in read_lrs2_list(path):
                if listed.get(clip, split) != split:
                    raise ValueError(f"LRS2 clip {clip!r} is in two split lists: "
                                     f"{where[clip]!r} and {path!r}")
                listed[clip], where[clip] = split, path
    return listed, tuple(files)


def _clip_name(clip: str) -> str:
    """A clip's name without a video suffix (an id keeps it where two would collide)."""
    stem, suffix = os.path.splitext(clip)
    return stem if suffix else clip


def _lrs2(video_ids: Sequence[str], root: str | None) -> Layout | None:
    paths = _corpus_paths(video_ids)
    if paths is None or not all(p.part in LRS2_PARTS for p in paths):
        return None
    listed, files = _lrs2_lists(root, paths[0].prefix)
    if not (files or any(p.part == "main" for p in paths)
            or all(p.folder.isdigit() for p in paths)):
        return None
    placements = []
    unlisted = 0
    for path in paths:
        group = f"programme:{path.folder}"
        if path.part == "pretrain":
            placements.append(Placement("pretrain", group))
            continue
        split = listed.get(f"{path.folder}/{_clip_name(path.clip)}")
        if listed and split is None:
            unlisted += 1
        # Without lists, main/ is drawn by programme; an unlisted clip is training material.
        placements.append(Placement(split or ("trainval" if listed else ""), group))
    if unlisted:
        _LOG.warning("%d LRS2 main/ clips are in none of the split lists; they are training "
                     "material", unlisted)
    return Layout("lrs2", tuple(placements), list_files=files, transcripts_beside=True)


def _lrs3(video_ids: Sequence[str], root: str | None) -> Layout | None:
    paths = _corpus_paths(video_ids)
    if paths is None or not all(p.part in LRS3_PARTS for p in paths):
        return None
    return Layout("lrs3", tuple(Placement(p.part, f"youtube:{p.folder}") for p in paths),
                  transcripts_beside=True)


def folder_split(video_id: str) -> str:
    """The split the nearest split folder on the path names (LRW: WORD/train/x), else empty."""
    folders = video_id.split("/")[:-1]
    return next((f for f in reversed(folders) if f in NAMED_FOLDERS), "")


def _source_folder(video_id: str) -> str:
    """The video's folder without split folder names; empty where it has no folder of its own."""
    folders = video_id.split("/")[:-1]
    if not folders or folders[-1] in NAMED_FOLDERS:
        return ""
    return "/".join(f for f in folders if f not in NAMED_FOLDERS)


def folders_layout(video_ids: Sequence[str]) -> Layout:
    """Any other folder: split folders on the path name the split; groups are folders."""
    sources = [_source_folder(v) for v in video_ids]
    flat = len({s for s in sources if s}) < 2
    return Layout("folders", tuple(
        Placement(folder_split(v), f"video:{v}" if flat or not s else f"folder:{s}")
        for v, s in zip(video_ids, sources)))


def _kind(split: str) -> str:
    """A split name as compared here: `Validation ` is val; unknown names stay as they are."""
    name = split.strip().lower()
    return "val" if name == "validation" else name


def _settled(placements: Sequence[Placement]) -> tuple[Placement, ...]:
    """Training material made whole and never test: a group holding some is training
    material throughout (its clips without a split join it), and it goes to train where
    the input names a val split of its own or the group has clips named train."""
    material = {p.group for p in placements if _kind(p.split) in TRAINING_MATERIAL}
    has_val = any(_kind(p.split) == "val" for p in placements)
    trained = {p.group for p in placements if _kind(p.split) == "train"}

    def settle(placement: Placement) -> Placement:
        is_material = _kind(placement.split) in TRAINING_MATERIAL
        joins_material = not placement.split and placement.group in material
        if not (is_material or joins_material):
            return placement
        if has_val or placement.group in trained:
            return Placement("train", placement.group)
        return Placement(placement.split or "trainval", placement.group)

    return tuple(settle(p) for p in placements)


def groups_in_several_splits(placements: Sequence[Placement]) -> dict[str, list[str]]:
    """Groups to which the input itself gives more than one split (training material as
    train), with those splits: the corpus's own split is kept, so they are reported."""
    splits = defaultdict(set)
    for placement in placements:
        if placement.split:
            named = _kind(placement.split)
            splits[placement.group].add("train" if named in TRAINING_MATERIAL else named)
    return {g: sorted(s) for g, s in sorted(splits.items()) if len(s) > 1}


def _overridden(placements: Sequence[Placement],
                given: Sequence[Placement]) -> tuple[Placement, ...]:
    return tuple(Placement(g.split or p.split, g.group or p.group)
                 for p, g in zip(placements, given))


def recognise_layout(video_ids: Sequence[str], root: str | None = None,
                     given: Sequence[Placement] | None = None) -> Layout:
    """The layout of an input's videos, with every video's split and group.

    `root` is the folder the ids are relative to, where LRS2's split lists are looked for
    (and in the corpus folder below it). `given` holds what the input names itself (a
    manifest's `split` and `group` columns, empty where it names nothing), one per id;
    it wins over the layout.
    """
    layout = None
    for recognise in (_lrw, _lrs2, _lrs3):
        layout = recognise(video_ids, root)
        if layout is not None:
            break
    layout = layout or folders_layout(video_ids)
    placements = layout.placements
    if given is not None:
        if len(given) != len(placements):
            raise ValueError(f"{len(given)} given placements for {len(placements)} videos")
        placements = _overridden(placements, given)
    placements = _settled(placements)
    shared = groups_in_several_splits(placements)
    if shared:
        group, splits = next(iter(shared.items()))
        _LOG.warning("%d groups are in more than one of the input's own splits (e.g. %s in "
                     "%s); the input's splits are kept", len(shared), group, " and ".join(splits))
    _LOG.info("input layout %s: %d videos in %d groups", layout.name, len(placements),
              len({p.group for p in placements}))
    return Layout(layout.name, placements, layout.list_files, layout.transcripts_beside)
