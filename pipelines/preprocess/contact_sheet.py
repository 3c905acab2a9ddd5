"""A contact sheet: a PNG grid of word clips read back from the TFRecords, for a person to check.

Each row is one clip (every `step`-th frame of its window, word frames marked by a
white bar underneath), labelled with the word and the clip id.
"""

from __future__ import annotations

import functools
import glob
import json
import os

from PIL import Image, ImageDraw

from schemas.clip import BOUNDARY_MASK, CLIP_ID, FRAMES, WORD, parse_clip
from schemas.layout import (CLIP_FILE_PATTERN, DATASET_INFO_FILE, shard_mismatch,
                            tfrecord_compression)

_LABEL_HEIGHT = 14
_BAR_HEIGHT = 3


def check_against_card(data: str, files: list[str]) -> None:
    """ValueError when the word clips of a dataset folder (`data`, or the split folder
    `data` names) are not the files its dataset_info.json lists (shard_mismatch)."""
    folder = os.path.abspath(data)
    if not os.path.isfile(os.path.join(folder, DATASET_INFO_FILE)):
        folder = os.path.dirname(folder)
    card_path = os.path.join(folder, DATASET_INFO_FILE)
    if not os.path.isfile(card_path):
        return
    with open(card_path, encoding="utf-8") as handle:
        card = json.load(handle)
    by_split: dict[str, list[str]] = {}
    for path in files:
        split_folder, name = os.path.split(os.path.abspath(path))
        if os.path.dirname(split_folder) == folder:  # FOLDER/<split>/clips-*: word clips
            by_split.setdefault(os.path.basename(split_folder), []).append(name)
    for split, names in by_split.items():
        mismatch = shard_mismatch(card, split, names, folder)
        if mismatch:
            raise ValueError(mismatch)


def read_clips(data: str, limit: int) -> list[dict]:
    """The first `limit` clips under `data` as numpy dicts, through the schema's parser."""
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(data, "**", CLIP_FILE_PATTERN), recursive=True))
    if not files:
        raise ValueError(f"no {CLIP_FILE_PATTERN} files in {data!r}: run lipflow preprocess "
                         "first")
    check_against_card(data, files)
    records = [tf.data.TFRecordDataset(f, compression_type=tfrecord_compression(f))
               for f in files]
    dataset = functools.reduce(tf.data.Dataset.concatenate, records).map(parse_clip)
    return [{k: v.numpy() for k, v in clip.items()} for clip in dataset.take(limit)]


def _row(clip: dict, step: int) -> Image.Image:
    frames = clip[FRAMES][::step]
    mask = clip[BOUNDARY_MASK][::step]
    size = frames.shape[1]
    row = Image.new("L", (size * len(frames), _LABEL_HEIGHT + size + _BAR_HEIGHT), 0)
    draw = ImageDraw.Draw(row)
    label = f"{clip[WORD].decode()}  ({clip[CLIP_ID].decode()})"
    draw.text((2, 1), label, fill=255)
    for position, (frame, inside) in enumerate(zip(frames, mask)):
        row.paste(Image.fromarray(frame), (position * size, _LABEL_HEIGHT))
        if inside:
            draw.rectangle([position * size, _LABEL_HEIGHT + size,
                            (position + 1) * size - 1, _LABEL_HEIGHT + size + _BAR_HEIGHT - 1],
                           fill=255)
    return row


def contact_sheet(clips: list[dict], step: int = 3) -> Image.Image:
    """One image: a row per clip, every `step`-th frame."""
    if not clips:
        raise ValueError("no clips to draw")
    rows = [_row(clip, step) for clip in clips]
    sheet = Image.new("L", (max(r.width for r in rows), sum(r.height for r in rows)), 0)
    top = 0
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height
    return sheet


def write_contact_sheet(data: str, output: str, clips: int = 12, step: int = 3) -> str:
    """Draws the first `clips` clips under `data` into the PNG `output`; returns its path."""
    sheet = contact_sheet(read_clips(data, clips), step)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    sheet.save(output)
    return output
