"""Local scale: the preprocess and evaluation jobs give the same outputs on several local
worker processes as on one (same clip ids, splits and contents, up to shard layout)."""

import glob
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from schemas.clip import decode_clip
from tests import media
from tests.runs import lipflow

CLIPS = ("bbaf3s", "lgiz3s", "pbai7a", "srwi5a")
ONE_WORKER = ("--direct_running_mode", "in_memory", "--direct_num_workers", "1")
TWO_WORKERS = ("--direct_running_mode", "multi_processing", "--direct_num_workers", "2")


def _clips_by_id(data: str) -> dict[str, dict]:
    """clip id -> decoded clip, over every split's files (shard layout ignored)."""
    found = {}
    for path in sorted(glob.glob(os.path.join(data, "*", "clips-*.tfrecord.gz"))):
        split = os.path.basename(os.path.dirname(path))
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            clip = decode_clip(record.numpy())
            key = f"{clip['clip_id']}#copy{clip['augment_copy']}"
            if key in found:
                raise ValueError(f"clip {key!r} written twice")
            found[key] = {**clip, "file_split": split}
    return found


def _same_clip(one: dict, other: dict) -> bool:
    for key, value in one.items():
        if isinstance(value, np.ndarray):
            if not np.array_equal(value, other[key]):
                return False
        elif isinstance(value, float) and np.isnan(value):
            if not np.isnan(other[key]):
                return False
        elif value != other[key]:
            return False
    return True


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale_videos")
    for kind in ("video", "align"):
        os.makedirs(root / kind)
    for clip in CLIPS:
        shutil.copyfile(media.sample_video(clip), root / "video" / f"{clip}.mpg")
        shutil.copyfile(media.sample_align(clip), root / "align" / f"{clip}.align")
    outputs = {}
    for name, flags in (("one", ONE_WORKER), ("two", TWO_WORKERS)):
        output = tmp_path_factory.mktemp(f"scale_{name}")
        result = lipflow("preprocess", "--input", str(root), "--output", str(output),
                         "--split_by", "video", "--train_fraction", "0.5", "--val_fraction",
                         "0.25", "--augment_copies", "1", *flags)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[name] = str(output)
    return outputs


@pytest.mark.slow
def test_two_workers_write_the_same_clips_as_one(two_runs):
    one, two = _clips_by_id(two_runs["one"]), _clips_by_id(two_runs["two"])
    assert len(one) >= 24  # 4 sentences of 6 words, train ones with an augmented copy
    assert sorted(one) == sorted(two)
    assert {k: c["file_split"] for k, c in one.items()} == {
        k: c["file_split"] for k, c in two.items()}
    differing = [k for k in one if not _same_clip(one[k], two[k])]
    assert differing == []


@pytest.mark.slow
def test_two_workers_write_the_same_dataset_card_and_dead_letters(two_runs):
    def card(data):
        with open(os.path.join(data, "dataset_info.json"), encoding="utf-8") as handle:
            info = json.load(handle)
        return {k: info[k] for k in ("splits", "words_per_split", "vocabulary", "pixel_mean",
                                     "pixel_std", "out_of_vocabulary_clips")}

    def dead(data):
        with open(os.path.join(data, "dead_letters.jsonl"), encoding="utf-8") as handle:
            return sorted(handle.read().splitlines())

    assert card(two_runs["one"]) == card(two_runs["two"])
    assert dead(two_runs["one"]) == dead(two_runs["two"])


@pytest.mark.slow
def test_two_workers_evaluate_the_same_as_one(small_dataset, small_model, tmp_path):
    export = os.path.join(small_model, "export")
    results = {}
    for name, flags in (("one", ONE_WORKER), ("two", TWO_WORKERS)):
        output = tmp_path / name
        result = lipflow("evaluate", "--data", small_dataset, "--model", export, "--output",
                         str(output), "--split", "train", *flags)
        assert result.returncode == 0, result.stderr[-3000:]
        with open(output / "predictions.jsonl", encoding="utf-8") as handle:
            rows = sorted((json.loads(line) for line in handle), key=lambda r: r["clip_id"])
        with open(output / "metrics.json", encoding="utf-8") as handle:
            results[name] = (rows, json.load(handle))
    (rows_one, metrics_one), (rows_two, metrics_two) = results["one"], results["two"]
    assert len(rows_one) >= 20
    assert [(r["clip_id"], r["word"], r["top_words"], r["correct"]) for r in rows_one] == [
        (r["clip_id"], r["word"], r["top_words"], r["correct"]) for r in rows_two]
    # The workers batch the clips differently, and a batched float32 convolution rounds
    # with its batch's make-up (up to about 1.3e-6 seen), so confidences agree to 1e-5.
    assert [r["confidence"] for r in rows_one] == pytest.approx(
        [r["confidence"] for r in rows_two], abs=1e-5)
    assert metrics_one["counts"] == metrics_two["counts"]
    assert metrics_one["top1"]["value"] == metrics_two["top1"]["value"]


def test_local_workers_follow_the_cpus_the_process_may_use(tmp_path, monkeypatch):
    from pipelines.preprocess import job

    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(job.os, "sched_getaffinity", lambda pid: {0})  # taskset -c 0
    assert job.usable_cpus(str(tmp_path / "none")) == 1
    assert "1" == job.default_direct_options([])[1]
    monkeypatch.setattr(job.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    quota.write_text("150000 100000\n")  # a container allowed 1.5 CPUs of the 4
    assert job.usable_cpus(str(quota)) == 2
    quota.write_text("max 100000\n")
    assert job.usable_cpus(str(quota)) == 4
    assert job.default_direct_options(["--direct_num_workers", "3"]) == [
        "--direct_num_workers", "3"]
