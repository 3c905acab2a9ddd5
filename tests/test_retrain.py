"""`lipflow retrain` on real GRID clips: a first model, a rerun with nothing new, a cycle
killed while training that resumes and promotes a candidate trained longer than production,
and a candidate made worse on purpose (one epoch from scratch) that is refused.

The gate compares the models on the train split here: with 20 sample clips and a CPU, no
model generalises well enough to beat another significantly on held-out clips, while a
model trained 12 epochs fits its clips clearly better than one trained one epoch. For it to
fit within a test's time it trains without flips, time masks, dropout or label smoothing,
with AdamW, on seeded, deterministic input (so the killed run resumes on exactly the
batches it would have seen), and its learning rate decays (cosine) to a small one:
evaluation normalises with batch norm's moving statistics, which lag behind weights still
moving fast at a constant rate, so a constant-rate candidate that fitted its clips in
training could score no better than the 1-epoch production once evaluated.
A user keeps the default, the val split.
"""

import hashlib
import json
import os
import shutil
import signal

import pytest

from tests import media
from tests.runs import lipflow
from trainer.train import KILL_AFTER_EPOCH_ENV

FIRST = {"train": ("bbaf3s", "bbiz1s", "bgbo1a", "bras9a"), "val": ("lgiz3s",),
         "test": ("lriq9a",)}
SECOND = {"train": ("bwag5s", "bwwn8p", "lbwl1a", "lwbf3s", "pbai7a", "pbwj3s", "pgwzzp",
                    "pripzn", "pwbk3a"), "val": ("sbaa6p",), "test": ("sbwb3s",)}
TINY = ["--set", "model.width=4", "--set", "input.batch_size=8", "--set",
        "input.deterministic=true", "--set", "input.seed=1", "--gate_split", "train",
        "--split_by", "video", "--direct_running_mode", "in_memory"]


def _add(root, clips: dict) -> None:
    for split, names in clips.items():
        for kind in ("video", "align"):
            os.makedirs(root / split / kind, exist_ok=True)
        for name in names:
            shutil.copyfile(media.sample_video(name), root / split / "video" / f"{name}.mpg")
            shutil.copyfile(media.sample_align(name), root / split / "align" / f"{name}.align")


def _json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _retrain(root, workdir, *flags):
    return lipflow("retrain", "--input", str(root), "--workdir", str(workdir), *TINY, *flags)


def _video_hashes(root) -> list[str]:
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith((".mpg", ".mp4")):
                with open(os.path.join(folder, name), "rb") as handle:
                    found.append(hashlib.sha256(handle.read()).hexdigest())
    return sorted(found)


def _kill_while_training(root, workdir, *flags) -> None:
    """Runs a cycle that kills itself (SIGKILL) once training has logged two epochs."""
    killed = lipflow("retrain", "--input", str(root), "--workdir", str(workdir), *TINY, *flags,
                     env={**os.environ, KILL_AFTER_EPOCH_ENV: "2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    history = workdir / "registry" / "v0002" / "train" / "logs" / "history.csv"
    assert len(history.read_text().splitlines()) == 3  # a header and two epochs


@pytest.fixture(scope="module")
def cycles(tmp_path_factory):
    root = tmp_path_factory.mktemp("broadcasts")
    workdir = tmp_path_factory.mktemp("retrain")
    _add(root, FIRST)
    outputs = {"first": _retrain(root, workdir, "--set", "epochs=1")}
    outputs["state_after_first"] = (workdir / "state.json").read_text()
    outputs["again"] = _retrain(root, workdir, "--set", "epochs=1")
    outputs["state_after_again"] = (workdir / "state.json").read_text()
    _add(root, SECOND)
    outputs["hashes_second"] = _video_hashes(root)
    longer = ("--set", "epochs=12", "--set", "input.flip=false", "--set",
              "input.max_time_mask=0", "--set", "model.dropout=0", "--set",
              "label_smoothing=0", "--set", "optimizer=adamw", "--set",
              "learning_rate=0.003", "--set", "final_learning_rate=0.0001")
    _kill_while_training(root, workdir, *longer)
    outputs["killed_state"] = _json(workdir / "state.json")
    batch_manifest = workdir / "batches" / "batch-0002" / "manifest.json"
    outputs["batch_mtime"] = batch_manifest.stat().st_mtime_ns
    outputs["resumed"] = _retrain(root, workdir, *longer)
    outputs["batch_mtime_after"] = batch_manifest.stat().st_mtime_ns
    # A new broadcast: a re-encoding of a train clip is a new file (another hash).
    media.h264(media.sample_video("sgbj2p"), str(root / "train" / "video" / "sgbj2q.mp4"))
    shutil.copyfile(media.sample_align("sgbj2p"), root / "train" / "align" / "sgbj2q.align")
    outputs["worse"] = _retrain(root, workdir, "--no_warm_start", "--set", "epochs=1")
    outputs["status"] = lipflow("retrain", "--status", "--workdir", str(workdir))
    outputs["registry"] = _json(workdir / "registry" / "registry.json")
    outputs["state"] = _json(workdir / "state.json")
    outputs["workdir"] = workdir
    return outputs


@pytest.mark.slow
def test_first_cycle_promotes_the_first_model(cycles):
    assert cycles["first"].returncode == 0, cycles["first"].stderr[-3000:]
    assert "v0001 promoted to production" in cycles["first"].stdout
    assert cycles["registry"]["versions"]["v0001"]["gate"]["reason"].startswith("first model")


@pytest.mark.slow
def test_a_rerun_with_nothing_new_does_no_work(cycles):
    assert cycles["again"].returncode == 0, cycles["again"].stderr[-3000:]
    assert "no new videos" in cycles["again"].stdout
    assert cycles["state_after_again"] == cycles["state_after_first"]
    assert "preprocessing" not in cycles["again"].stderr  # the job never started


@pytest.mark.slow
def test_a_killed_cycle_resumes_without_preprocessing_again(cycles):
    assert cycles["killed_state"]["cycle"]["step"] == "dataset_built"
    assert cycles["resumed"].returncode == 0, cycles["resumed"].stderr[-3000:]
    assert cycles["batch_mtime_after"] == cycles["batch_mtime"]
    history = (cycles["workdir"] / "registry" / "v0002" / "train" / "logs" / "history.csv")
    epochs = [line.split(",")[0] for line in history.read_text().splitlines()[1:]]
    assert sorted(set(epochs), key=int) == [str(e) for e in range(12)]
    # One version per cycle: the killed attempt left no other record.
    assert sorted(cycles["registry"]["versions"]) == ["v0001", "v0002", "v0003"]


@pytest.mark.slow
def test_a_candidate_trained_longer_is_promoted_on_a_paired_test(cycles):
    assert "v0002 promoted to production" in cycles["resumed"].stdout
    record = cycles["registry"]["versions"]["v0002"]
    gate = record["gate"]
    assert gate["production_version"] == "v0001"
    assert gate["mcnemar_p_one_sided"] < 0.05 and gate["bootstrap_delta_low"] > 0
    assert gate["candidate_only_right"] > gate["production_only_right"]
    assert record["config"]["warm_start"].endswith(os.path.join("v0001", "train", "export"))
    assert record["data"]["video_sha256"] == cycles["hashes_second"]
    assert record["data"]["sha256"] == hashlib.sha256(
        "\n".join(cycles["hashes_second"]).encode()).hexdigest()
    assert cycles["registry"]["versions"]["v0001"]["status"] == "retired"


@pytest.mark.slow
def test_a_candidate_made_worse_is_refused_and_kept(cycles):
    assert cycles["worse"].returncode == 0, cycles["worse"].stderr[-3000:]
    assert "v0003 refused" in cycles["worse"].stdout
    registry = cycles["registry"]
    assert registry["production"] == "v0002"
    refused = registry["versions"]["v0003"]
    assert refused["status"] == "refused" and refused["gate"]["promote"] is False
    assert refused["gate"]["top1_delta"] < 0
    assert os.path.isdir(refused["export"])
    assert refused["data"]["videos"] == 18 and refused["code"]["lipflow"]


@pytest.mark.slow
def test_old_videos_keep_their_split_in_the_rebuilt_dataset(cycles):
    import tensorflow as tf

    from schemas.clip import decode_clip

    def splits(data):
        found = {}
        for split in ("train", "val", "test"):
            for name in os.listdir(os.path.join(data, split)):
                for record in tf.data.TFRecordDataset(os.path.join(data, split, name),
                                                      compression_type="GZIP"):
                    found[decode_clip(record.numpy())["video_id"]] = split
        return found

    first = splits(cycles["workdir"] / "batches" / "batch-0001")
    rebuilt = splits(cycles["workdir"] / "datasets" / "v0003")
    assert first and {v: rebuilt[v] for v in first} == first
    assert set(rebuilt) > set(first)


@pytest.mark.slow
def test_status_prints_every_version(cycles):
    text = cycles["status"].stdout
    assert "production: v0002" in text
    for version, status in (("v0001", "retired"), ("v0002", "production"),
                            ("v0003", "refused")):
        assert any(line.startswith(version) and status in line for line in text.splitlines())


def test_retrain_refuses_flags_it_sets_itself(tmp_path):
    result = lipflow("retrain", "--input", str(tmp_path), "--workdir", str(tmp_path / "w"),
                     "--output", str(tmp_path / "o"))
    assert result.returncode == 3, result.stderr[-2000:]
    assert "sets ['--output'] itself" in result.stderr


def test_retrain_refuses_changed_preprocess_settings(tmp_path):
    from pipelines.retrain.cycle import RetrainConfig, run_cycle, split_preprocess_args
    from pipelines.retrain.state import empty_state, save_state

    state = empty_state()
    state["preprocess_args"] = split_preprocess_args(("--split_by", "video"))[0]
    save_state(str(tmp_path), state)
    with pytest.raises(ValueError, match=r"\['split_by', 'val_fraction'\] differ"):
        run_cycle(str(tmp_path), str(tmp_path), RetrainConfig(preprocess_args=("--val_fraction",
                                                                               "0.2")))
    # Beam's flags may change between runs: the runner is not a preprocess setting.
    state = empty_state()
    state["preprocess_args"] = split_preprocess_args(())[0]
    save_state(str(tmp_path), state)
    (tmp_path / "empty").mkdir()
    result = run_cycle(str(tmp_path / "empty"), str(tmp_path), RetrainConfig(
        preprocess_args=("--direct_num_workers", "2")))
    assert result == {"outcome": "nothing_new"}
