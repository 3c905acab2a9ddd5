"""Leak-free train/val/test splits: every clip of a group lands in the same split.

The group is, by default (`--split_by folder`), the source the input's layout names: an
LRS2 programme, an LRS3 YouTube id, a video's folder, or the video alone where there is
no folder to go by (`layouts.py`), or a manifest's `group` column. `--split_by video`,
`speaker` or `show` group by the video file, or by the speaker or show a manifest names.
A group's split follows from a SHA-256 of its key alone, so it is the same on every run,
machine and runner, and adding videos never moves an existing group. Inputs that name a
split (LRW's folders, LRS2's lists, LRS3's `test/`, a manifest's column) keep it; training
material (`trainval`, `pretrain`) goes to train, or to val with its group, never to test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SPLITS = ("train", "val", "test")
SPLIT_KEYS = ("folder", "video", "speaker", "show")
TRAINING_MATERIAL = ("trainval", "pretrain")
_HASH_SPACE = float(2**64)


@dataclass(frozen=True)
class SplitRatios:
    """Shares of groups in train and val; test takes the rest."""

    train: float = 0.8
    val: float = 0.1

    def __post_init__(self):
        if not (0.0 <= self.train <= 1.0 and 0.0 <= self.val <= 1.0
                and self.train + self.val <= 1.0 + 1e-9):
            raise ValueError(f"split fractions must lie in [0, 1] and add up to at most 1, "
                             f"got train={self.train!r}, val={self.val!r}")

    @property
    def test(self) -> float:
        return max(0.0, 1.0 - self.train - self.val)


def group_fraction(group: str) -> float:
    """A stable number in [0, 1) for a group key (first 8 bytes of its SHA-256)."""
    digest = hashlib.sha256(group.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SPACE


def split_of_group(group: str, ratios: SplitRatios) -> str:
    """train, val or test for a group key."""
    fraction = group_fraction(group)
    if fraction < ratios.train:
        return "train"
    if fraction < ratios.train + ratios.val:
        return "val"
    return "test"


def group_key(video_id: str, speaker: str, split_by: str, show: str = "",
              group: str = "") -> str:
    """The key a clip is grouped by; raises ValueError when it cannot be had.

    `group` is the input's own group (`programme:<id>`, `folder:<path>`, ...) that
    `split_by="folder"` takes; a clip whose input named none is its own group.
    """
    if split_by == "folder":
        return group or f"video:{video_id}"
    if split_by == "video":
        return f"video:{video_id}"
    named = {"speaker": speaker, "show": show}
    if split_by not in named:
        raise ValueError(f"split_by must be one of {SPLIT_KEYS}, got {split_by!r}")
    if not named[split_by]:
        raise ValueError(f"--split_by {split_by} but video {video_id!r} names no {split_by}")
    return f"{split_by}:{named[split_by]}"


def named_split(name: str) -> str:
    """The input's own split name, normalised ('validation' is val; 'trainval' is not a split)."""
    normal = {"train": "train", "val": "val", "validation": "val", "test": "test"}
    key = name.strip().lower()
    if key not in normal:
        raise ValueError(f"unknown split {name!r}: use one of train, val (validation), test, "
                         f"or training material ({', '.join(TRAINING_MATERIAL)})")
    return normal[key]


def clip_split(named: str, group: str, ratios: SplitRatios) -> str:
    """train, val or test for a clip whose input names `named` (maybe empty) in `group`.

    A named split is kept; training material (`trainval`, `pretrain`) goes to val when its
    group's hash falls in the val share and to train otherwise, never to test; an empty
    name is drawn from the group's hash.
    """
    if not named:
        return split_of_group(group, ratios)
    if named.strip().lower() in TRAINING_MATERIAL:
        return "val" if split_of_group(group, ratios) == "val" else "train"
    return named_split(named)
