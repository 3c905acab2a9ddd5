"""One dataset a folder: a used --output is refused or cleared, and readers check the
clip files against the card, so two runs' clips are never read together."""

import json
import os

import pytest

from pipelines.evaluate.read_clips import split_files as evaluate_split_files
from pipelines.preprocess.output_folder import RUN_FILE, OutputInUse, prepare_output
from schemas.layout import shard_mismatch
from tests import media
from tests.runs import lipflow
from trainer.input import split_files as trainer_split_files

OPTIONS = {"compression": "gzip", "num_shards": 0}


def _touch(path) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"x")


def test_an_empty_folder_gets_the_runs_record(tmp_path):
    prepare_output(str(tmp_path / "out"), "in", OPTIONS, overwrite=False)
    with open(tmp_path / "out" / RUN_FILE, encoding="utf-8") as handle:
        assert json.load(handle) == {"input": "in", "options": OPTIONS}


def test_another_runs_dataset_is_refused_unless_overwritten(tmp_path):
    out = tmp_path / "out"
    prepare_output(str(out), "in", OPTIONS, overwrite=False)
    _touch(out / "train" / "clips-00000-of-00002.tfrecord.gz")
    _touch(out / "notes.txt")  # not the job's: never deleted
    other = {**OPTIONS, "compression": "none"}
    with pytest.raises(OutputInUse, match=r"compression 'gzip' \(now 'none'\).*--overwrite"):
        prepare_output(str(out), "in", other, overwrite=False)
    with pytest.raises(OutputInUse, match="input 'in'"):
        prepare_output(str(out), "elsewhere", OPTIONS, overwrite=False)
    prepare_output(str(out), "in", other, overwrite=True)
    assert not (out / "train").exists() and (out / "notes.txt").exists()


def test_a_rerun_of_the_same_run_starts_clean(tmp_path):
    out = tmp_path / "out"
    prepare_output(str(out), "in", OPTIONS, overwrite=False)
    _touch(out / "train" / "clips-00000-of-00003.tfrecord.gz")  # another shard count
    prepare_output(str(out), "in", OPTIONS, overwrite=False)
    assert not (out / "train").exists()


def test_clips_without_a_record_of_their_run_are_refused(tmp_path):
    _touch(tmp_path / "out" / "val" / "clips-00000-of-00001.tfrecord")
    with pytest.raises(OutputInUse, match="no record of the run"):
        prepare_output(str(tmp_path / "out"), "in", OPTIONS, overwrite=False)


def test_shard_mismatch_names_what_differs():
    card = {"shards": {"train": ["clips-00000-of-00001.tfrecord.gz"]}}
    assert shard_mismatch(card, "train", ["/d/train/clips-00000-of-00001.tfrecord.gz"],
                          "/d") is None
    found = ["/d/train/clips-00000-of-00001.tfrecord.gz", "/d/train/clips-00000-of-00002.tfrecord"]
    assert "clips-00000-of-00002.tfrecord" in shard_mismatch(card, "train", found, "/d")
    assert "missing" in shard_mismatch(card, "train", [], "/d")
    assert shard_mismatch({}, "train", found, "/d") is None  # a card from before the lists


def test_a_used_output_is_refused_then_overwritten_and_readers_check_the_card(tmp_path):
    data = media.grid_folder(tmp_path / "in", ["bbaf3s", "bbiz1s"])
    out = str(tmp_path / "out")
    common = ("--train_fraction", "1.0", "--val_fraction", "0.0", "--direct_running_mode",
              "in_memory")
    first = lipflow("preprocess", "--input", data, "--output", out, *common)
    assert first.returncode == 0, first.stderr[-2000:]
    other = lipflow("preprocess", "--input", data, "--output", out, "--compression", "none",
                    *common)
    assert other.returncode == 3 and "--overwrite" in other.stderr
    assert all(name.endswith(".gz") for name in os.listdir(os.path.join(out, "train")))
    again = lipflow("preprocess", "--input", data, "--output", out, "--compression", "none",
                    "--overwrite", *common)
    assert again.returncode == 0, again.stderr[-2000:]
    names = sorted(os.listdir(os.path.join(out, "train")))
    assert names and not any(name.endswith(".gz") for name in names)
    with open(os.path.join(out, "dataset_info.json"), encoding="utf-8") as handle:
        assert json.load(handle)["shards"]["train"] == names
    assert len(trainer_split_files(out, "train")) == len(names)
    _touch(os.path.join(out, "train", "clips-00000-of-00009.tfrecord.gz"))  # a stray shard
    for read in (trainer_split_files, evaluate_split_files):
        with pytest.raises(ValueError, match="do not match its dataset_info.json"):
            read(out, "train")
