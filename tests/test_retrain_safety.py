"""Retrain run by hand beside a scheduled run: the work folder's lock, the refusal of an
object-store work folder, files written whole or not at all, and dataset pruning."""

import json
import os

import pytest

from pipelines.atomic_write import write_atomically
from pipelines.evaluate import outputs
from pipelines.preprocess import manifest
from pipelines.preprocess.dataset_info import write_dataset_info
from pipelines.retrain import registry as registry_lib
from pipelines.retrain import state as state_lib
from pipelines.retrain.cycle import DATASETS_DIR, prune_datasets
from pipelines.retrain.lock import WorkdirBusy, workdir_lock
from tests.runs import lipflow


def test_a_second_run_on_a_held_work_folder_is_refused_and_touches_nothing(tmp_path):
    workdir, empty = tmp_path / "work", tmp_path / "videos"
    empty.mkdir()
    with workdir_lock(str(workdir)):
        refused = lipflow("retrain", "--input", str(empty), "--workdir", str(workdir))
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert "in use by another lipflow retrain" in refused.stderr
    assert f"pid {os.getpid()}" in refused.stderr  # names who holds it
    assert not (workdir / state_lib.STATE_FILE).exists()
    after = lipflow("retrain", "--input", str(empty), "--workdir", str(workdir))
    assert after.returncode == 0, after.stderr[-2000:]  # the lock went with its holder
    assert "no new videos" in after.stdout


def test_the_lock_is_exclusive_and_released_on_exit(tmp_path):
    with workdir_lock(str(tmp_path)):
        with pytest.raises(WorkdirBusy):
            with workdir_lock(str(tmp_path)):
                pass
    with workdir_lock(str(tmp_path)):
        pass


def test_an_object_store_work_folder_is_refused_at_once(tmp_path):
    result = lipflow("retrain", "--input", str(tmp_path), "--workdir", "gs://bucket/work",
                     cwd=str(tmp_path))
    assert result.returncode == 3
    assert "object store URL" in result.stderr and "FUSE" in result.stderr
    assert os.listdir(tmp_path) == []  # no local "gs:" folder made by mistake


def _manifest(path, document):
    manifest._write_json(document, path)


def _summary(path, document):
    outputs._write(path, json.dumps(document), "application/json")


WRITERS = {
    "state.json": lambda path, doc: state_lib.save_state(os.path.dirname(path), doc),
    "registry.json": lambda path, doc: registry_lib.save_registry(
        os.path.dirname(os.path.dirname(path)), doc),
    "dataset_info.json": lambda path, doc: write_dataset_info(doc, path),
    "manifest.json": _manifest,
    "metrics.json": _summary,
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_crash_before_the_bytes_are_safe_leaves_the_old_file_whole(name, tmp_path,
                                                                      monkeypatch):
    folder = tmp_path / "registry" if name == "registry.json" else tmp_path
    folder.mkdir(exist_ok=True)
    path = folder / name
    WRITERS[name](str(path), {"version": "old"})

    def power_cut(fd):
        raise OSError("simulated crash before the data reached the disk")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError, match="simulated crash"):
        WRITERS[name](str(path), {"version": "new", "padding": "x" * 100_000})
    assert json.loads(path.read_text()) == {"version": "old"}
    assert os.listdir(folder) == [name]  # no temporary file left behind


def test_an_atomic_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "a" / "file.json"
    write_atomically(str(path), b"first, and longer")
    write_atomically(str(path), b"second")
    assert path.read_bytes() == b"second" and os.listdir(path.parent) == ["file.json"]


def test_pruning_keeps_the_newest_datasets_and_production(tmp_path):
    for version in ("v0001", "v0002", "v0003", "v0004"):
        (tmp_path / DATASETS_DIR / version).mkdir(parents=True)
    registry_lib.save_registry(str(tmp_path), {"production": "v0001", "versions": {}})
    assert prune_datasets(str(tmp_path), keep=2) == ["v0002"]
    assert sorted(os.listdir(tmp_path / DATASETS_DIR)) == ["v0001", "v0003", "v0004"]


@pytest.mark.slow
def test_where_hard_links_fail_a_dataset_lists_the_batch_files_and_copies_none(
        small_dataset, tmp_path, monkeypatch):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.evaluate.read_clips import split_files as evaluate_files
    from pipelines.retrain.merge_datasets import merge_batches
    from trainer.input import InputConfig, load_stats, make_dataset
    from trainer.input import split_files as trainer_files

    def no_links(source, target):
        raise OSError(18, "Invalid cross-device link")  # as on a Cloud Storage FUSE mount

    monkeypatch.setattr(os, "link", no_links)
    output = tmp_path / "datasets" / "v0001"
    card = merge_batches({"batch-0001": small_dataset}, str(output),
                         PipelineOptions(["--direct_running_mode=in_memory"]))
    for split in ("train", "val"):
        assert os.listdir(output / split) == []  # nothing copied
        batch_files = trainer_files(small_dataset, split)
        assert trainer_files(str(output), split) == batch_files
        assert evaluate_files(str(output), split) == batch_files
        assert card["shard_paths"][split] == [os.path.relpath(f, output) for f in batch_files]
    # The trainer reads the clips through the card, normalised with the merged statistics.
    dataset = make_dataset(str(output), "train", InputConfig(batch_size=4),
                           load_stats(str(output)), training=False)
    clips = sum(int(labels.shape[0]) for _, labels in dataset)
    assert clips == json.load(open(os.path.join(small_dataset, "dataset_info.json")))[
        "splits"]["train"]["clips"]
    # A deleted batch is named, not read as an empty split.
    os.rename(small_dataset, small_dataset + ".moved")
    try:
        with pytest.raises(ValueError, match="was a batch folder deleted"):
            trainer_files(str(output), "train")
    finally:
        os.rename(small_dataset + ".moved", small_dataset)
