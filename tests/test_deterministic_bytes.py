"""Reruns write the same bytes: the real preprocess command, killed partway and rerun into
the same folder (GZIP files), and run afresh in another process with uncompressed files,
writes byte-identical records and the same manifest and dataset card.

The compression changes only the container around the records, so the two runs double as
the rerun check and the check of `--compression none`, at the cost of two runs. One sample
GRID video (6 words) with one augmented copy per clip, so the seeded augmentation is
covered too. Records are compared raw (TFRecordDataset without parsing), keyed by clip id,
since Beam assigns records to shards at random.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import tensorflow as tf

from pipelines.preprocess.write_clips import KILL_AFTER_RECORDS_ENV
from schemas.clip import CLIP_ID, decode_clip
from tests import media
from trainer.input import InputConfig, load_stats, make_dataset, split_files

VIDEO = "bbaf3s"
FLAGS = ("--train_fraction", "1.0", "--val_fraction", "0.0", "--augment_copies", "1",
         "--direct_running_mode", "in_memory")
# Fields that name the run rather than its data.
RUN_FIELDS = {"manifest.json": ("started_at", "output"), "dataset_info.json": ("created_at",)}


def _command(source, output, *extra) -> list[str]:
    return [sys.executable, "-m", "lipflow", "preprocess", "--input", str(source),
            "--output", str(output), *FLAGS, *extra]


def _preprocess(source, output, *extra) -> None:
    result = subprocess.run(_command(source, output, *extra), capture_output=True, text=True,
                            check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def _killed_while_writing_clips(source, output) -> None:
    """Runs the command with the sink's kill hook: it kills itself (SIGKILL) after writing 5
    of its 12 records into Beam's temporary files, so the rerun starts over a half-written
    folder."""
    result = subprocess.run(_command(source, output), capture_output=True, text=True,
                            check=False, timeout=600,
                            env={**os.environ, KILL_AFTER_RECORDS_ENV: "5"})
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    assert glob.glob(os.path.join(output, "train", "beam-temp-clips-*", "*"))
    assert not os.path.exists(os.path.join(output, "dataset_info.json"))


def _records(data_dir) -> dict[str, dict[str, bytes]]:
    """{split: {clip id: the record's raw bytes}} for the splits that have clips."""
    out = {}
    for split in ("train", "val", "test"):
        try:
            files = split_files(str(data_dir), split)
        except ValueError:
            continue
        compression = "GZIP" if files[0].endswith(".gz") else ""
        raw = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type=compression)]
        if raw:
            out[split] = {decode_clip(r)[CLIP_ID]: r for r in raw}
            assert len(out[split]) == len(raw), "clip ids are not unique"
    return out


def _card(data_dir, name: str) -> dict:
    with open(os.path.join(data_dir, name), encoding="utf-8") as handle:
        card = json.load(handle)
    for field in RUN_FIELDS[name]:
        card.pop(field)
    return card


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("reruns")
    source = root / "in"
    for folder in ("video", "align"):
        (source / folder).mkdir(parents=True)
    shutil.copyfile(media.sample_video(VIDEO), source / "video" / f"{VIDEO}.mpg")
    shutil.copyfile(media.sample_align(VIDEO), source / "align" / f"{VIDEO}.align")
    rerun, plain = root / "rerun", root / "plain"
    _killed_while_writing_clips(source, rerun)
    _preprocess(source, rerun)
    _preprocess(source, plain, "--compression", "none")
    return {"rerun": rerun, "plain": plain}


@pytest.mark.slow
def test_two_runs_write_byte_identical_records(runs):
    rerun, plain = _records(runs["rerun"]), _records(runs["plain"])
    assert list(rerun) == ["train"] and len(rerun["train"]) == 12  # 6 words, 1 copy each
    assert rerun.keys() == plain.keys()
    for split in rerun:
        assert rerun[split].keys() == plain[split].keys()
        for clip_id, record in rerun[split].items():
            assert plain[split][clip_id] == record, f"{clip_id} differs in bytes"


@pytest.mark.slow
def test_two_runs_write_the_same_manifest_and_dataset_card(runs):
    for name in RUN_FIELDS:
        rerun, plain = _card(runs["rerun"], name), _card(runs["plain"], name)
        assert rerun["options"].pop("compression") == "gzip"
        assert plain["options"].pop("compression") == "none"
        if name == "dataset_info.json":
            assert rerun.pop("files")["train"] == "train/clips-*.tfrecord.gz"
            assert plain.pop("files")["train"] == "train/clips-*.tfrecord"
            assert ({s: [n.replace(".gz", "") for n in names]
                     for s, names in rerun.pop("shards").items()} == plain.pop("shards"))
        assert rerun == plain


@pytest.mark.slow
def test_uncompressed_files_are_plain_tfrecords_the_trainer_reads_alike(runs):
    files = split_files(str(runs["plain"]), "train")
    assert all(f.endswith(".tfrecord") for f in files)
    with open(files[0], "rb") as handle:
        assert handle.read(2) != b"\x1f\x8b"  # not a GZIP stream
    # Beam shards records at random, so the clips are compared as sorted sets.
    clips = {}
    for name in ("rerun", "plain"):
        stats = load_stats(str(runs[name]))
        dataset = make_dataset(str(runs[name]), "train", InputConfig(batch_size=5), stats,
                               training=False)
        clips[name] = sorted((int(label), frames.tobytes()) for f, labels in dataset
                             for frames, label in zip(f["frames"].numpy(), labels.numpy()))
    assert len(clips["rerun"]) == 12
    assert clips["rerun"] == clips["plain"]
