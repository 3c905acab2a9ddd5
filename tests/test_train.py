"""Training end to end on a real (tiny) dataset: fit, resume after a kill, export, warm start."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.runs import SMALL_TRAINING, lipflow
from trainer import config as config_lib
from trainer.train import KILL_AFTER_EPOCH_ENV

TINY = SMALL_TRAINING


@pytest.fixture(scope="module")
def dataset(small_dataset):
    return small_dataset


def test_overrides_and_presets():
    config = config_lib.with_overrides(config_lib.preset("grid"),
                                       ["model.name=c3d", "epochs=3", "input.flip=false"])
    assert (config.model.name, config.epochs, config.input.flip) == ("c3d", 3, False)
    for bad, message in ((["epochs"], "not key=value"), (["model.depth=3"], "no field"),
                         (["model.name=vgg"], "model.name must be one of"),
                         (["input.flip=maybe"], "true or false")):
        with pytest.raises(ValueError, match=message):
            config_lib.with_overrides(config_lib.demo(), bad)
    with pytest.raises(ValueError, match="unknown config"):
        config_lib.preset("huge")


@pytest.fixture(scope="module")
def trained(small_model):
    return small_model


def test_training_writes_checkpoints_logs_export_and_summary(trained):
    summary = json.load(open(os.path.join(trained, "train_summary.json")))
    assert summary["epochs_run"] == 2 and summary["validation_split"] == "val"
    assert 0.0 <= summary["validation"]["top1"] <= summary["validation"]["top5"] <= 1.0
    assert sorted(os.listdir(os.path.join(trained, "checkpoints"))) == [
        "best.keras", "epoch-001.keras", "epoch-002.keras"]
    assert os.listdir(os.path.join(trained, "logs"))
    export = os.path.join(trained, "export")
    words = open(os.path.join(export, "vocabulary.txt")).read().split()
    assert len(words) == summary["classes"] and "bin" in words


def test_exported_model_matches_the_in_memory_model_in_a_fresh_process(trained, dataset, tmp_path):
    import keras
    import tensorflow as tf

    from trainer.input import load_stats, serving_features

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 29, 96, 96), dtype=np.uint8)
    mask = np.zeros((3, 29), np.float32)
    mask[:, 10:18] = 1
    np.savez(tmp_path / "batch.npz", frames=frames, mask=mask)
    export = os.path.join(trained, "export")
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"batch = np.load({str(tmp_path / 'batch.npz')!r})\n"
        f"serve = tf.saved_model.load({export!r}).signatures['serve']\n"
        "out = serve(frames=tf.constant(batch['frames']), boundary_mask=tf.constant(batch['mask']))\n"
        f"np.savez({str(tmp_path / 'served.npz')!r}, p=out['probabilities'].numpy(),"
        " w=out['top_words'].numpy())\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "served.npz", allow_pickle=True)

    model = keras.saving.load_model(os.path.join(export, "model.keras"), compile=False)
    stats = load_stats(dataset)
    features = serving_features(tf.constant(frames), tf.constant(mask), stats, 88)
    expected = tf.nn.softmax(tf.cast(model(features, training=False), tf.float32)).numpy()
    np.testing.assert_allclose(served["p"], expected, atol=1e-5)
    best = [stats.vocabulary[i].encode() for i in expected.argmax(axis=1)]
    assert list(served["w"][:, 0]) == best


def test_an_export_of_a_model_on_centre_frames_and_downscaled_crops_serves_whole_clips(
        dataset, tmp_path):
    """input.frames and input.downscale live inside the export: it takes the dataset's
    29-frame 96-pixel clips and gives what the model gives on the numpy-cut input."""
    import keras
    import tensorflow as tf

    from trainer.input import load_stats

    output = str(tmp_path / "run")
    result = lipflow("train", "--data", dataset, "--config", "demo", "--output", output,
                     *_settings(["epochs=1", "steps_per_epoch=2", "input.frames=15",
                                 "input.time_jitter=2", "input.speed=0.2",
                                 "input.downscale=2", "model.use_boundary_mask=true"]))
    assert result.returncode == 0, result.stderr[-3000:]
    export = os.path.join(output, "export")
    model = keras.saving.load_model(os.path.join(export, "model.keras"), compile=False)
    shapes = {tensor.name.split(":")[0]: tuple(tensor.shape[1:]) for tensor in model.inputs}
    assert shapes["frames"] == (15, 44, 44, 1) and shapes["boundary_mask"] == (15,)
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 29, 96, 96), dtype=np.uint8)
    mask = np.zeros((2, 29), np.float32)
    mask[:, 11:19] = 1
    served = tf.saved_model.load(export).signatures["serve"](
        frames=tf.constant(frames), boundary_mask=tf.constant(mask))
    stats = load_stats(dataset)
    kept = frames[:, 7:22, 4:92, 4:92].astype(np.float32)
    pooled = ((kept - np.float32(stats.mean)) / np.float32(stats.std)).reshape(
        2, 15, 44, 2, 44, 2).mean(axis=(3, 5))
    logits = model({"frames": pooled[..., None], "boundary_mask": mask[:, 7:22]},
                   training=False)
    expected = tf.nn.softmax(tf.cast(logits, tf.float32)).numpy()
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)


def _epochs_logged(output):
    with open(os.path.join(output, "logs", "history.csv")) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _settings(extra: list[str]) -> list[str]:
    """--set flags for the tiny training settings plus `extra`."""
    return [a for item in TINY + extra for a in ("--set", item)]


def _train_args(dataset: str, output: str, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "lipflow", "train", "--data", dataset, "--config", "demo",
            "--output", output, *_settings(extra)]


def _final_weights(output: str, epoch: int) -> list:
    import keras

    import trainer.models  # noqa: F401  (registers the custom layers for loading)

    path = os.path.join(output, "checkpoints", f"epoch-{epoch:03d}.keras")
    return keras.saving.load_model(path, compile=False).get_weights()


def test_resume_after_kill_ends_with_the_weights_of_an_uninterrupted_run(dataset, tmp_path):
    # Deterministic mode, dropout on (the demo preset's 0.2): the resumed run must draw the
    # same batches, augmentations and dropout masks as a run that was never stopped.
    extra = ["epochs=5", "input.deterministic=true"]
    output = str(tmp_path / "run")
    args = _train_args(dataset, output, extra)
    history = os.path.join(output, "logs", "history.csv")
    # The run kills itself (SIGKILL: no chance to clean up, as a crash or preemption) once
    # its second epoch is logged and backed up.
    killed = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False,
                            env={**os.environ, KILL_AFTER_EPOCH_ENV: "2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    before = _epochs_logged(output)
    assert before == [0, 1], before
    assert os.path.isdir(os.path.join(output, "backup"))

    result = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    after = _epochs_logged(output)
    # The second run starts where the first was killed: no epoch is trained twice.
    assert after == list(range(len(after))) and len(after) == 5, after
    assert json.load(open(os.path.join(output, "train_summary.json")))["epochs_run"] == \
        5 - len(before)

    straight = str(tmp_path / "straight")
    result = subprocess.run(_train_args(dataset, straight, extra), capture_output=True,
                            text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(history) as resumed, open(os.path.join(straight, "logs", "history.csv")) as once:
        assert list(csv.DictReader(resumed)) == list(csv.DictReader(once))
    resumed_weights, straight_weights = _final_weights(output, 5), _final_weights(straight, 5)
    assert len(resumed_weights) == len(straight_weights)
    for got, want in zip(resumed_weights, straight_weights):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_training_warns_nothing_about_its_own_input(dataset, tmp_path):
    # Keras warned "Your input ran out of data" (the validation split's length was unknown)
    # and that its shuffle flag is ignored for tf.data, every run.
    result = subprocess.run(_train_args(dataset, str(tmp_path / "run"), ["epochs=1"]),
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "val top-1" in result.stdout
    assert "ran out of data" not in result.stderr and "shuffle=True" not in result.stderr


def test_training_with_mixup_and_class_balance_fits_on_weighted_soft_labels(dataset, tmp_path):
    output = str(tmp_path / "mixup")
    result = lipflow("train", "--data", dataset, "--config", "demo", "--output", output,
                     *_settings(["epochs=2", "steps_per_epoch=3", "input.mixup=0.4",
                                 "class_balance=0.5"]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "class_balance 0.50: loss weights from" in result.stderr
    summary = json.load(open(os.path.join(output, "train_summary.json")))
    assert summary["config"]["input"]["mixup"] == 0.4 and summary["epochs_run"] == 2
    assert summary["config"]["class_balance"] == 0.5
    with open(os.path.join(output, "logs", "history.csv")) as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert len(losses) == 2 and all(np.isfinite(losses)) and all(v > 0 for v in losses)
    assert os.path.exists(os.path.join(output, "export", "model.keras"))


def test_class_weights_follow_the_power_and_keep_the_mean_loss_weight_at_one():
    import tensorflow as tf

    from trainer.train import _weighted, class_weights

    card = {"words_per_split": {"train": {"a": 10, "b": 40}, "val": {"a": 30}}}
    vocabulary = ("a", "b", "c")
    flat = class_weights(card, ("train",), vocabulary, 0.0)
    np.testing.assert_allclose(flat, [1.0, 1.0, 1.0])
    half = class_weights(card, ("train",), vocabulary, 0.5)
    assert half[0] / half[1] == pytest.approx(2.0)
    assert (10 * half[0] + 40 * half[1]) / 50 == pytest.approx(1.0)
    assert half[2] == pytest.approx(half[0] * np.sqrt(10))  # an unseen word counts as one clip
    full = class_weights(card, ("train", "val"), vocabulary, 1.0)
    assert full[0] == pytest.approx(full[1])  # with val, 40 clips of each
    _, _, weight = _weighted(half)(tf.zeros([2]), tf.constant([[0.5, 0.5, 0.0], [0, 0, 1.0]]))
    np.testing.assert_allclose(weight.numpy(), [(half[0] + half[1]) / 2, half[2]], rtol=1e-6)
    with pytest.raises(ValueError, match="words_per_split"):
        class_weights({}, ("train",), vocabulary, 0.5)
    with pytest.raises(ValueError, match="class_balance must be in"):
        config_lib.with_overrides(config_lib.preset("demo"), ["class_balance=2"])


def test_a_final_fit_trains_on_train_and_val_for_all_epochs_without_validation(
        dataset, tmp_path):
    output = str(tmp_path / "final")
    result = lipflow("train", "--data", dataset, "--config", "demo", "--output", output,
                     *_settings(["epochs=2", "fit_on_val=true", "early_stopping_patience=1"]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fit_on_val: training on train + val" in result.stderr
    summary = json.load(open(os.path.join(output, "train_summary.json")))
    splits = json.load(open(os.path.join(dataset, "dataset_info.json")))["splits"]
    assert splits["val"]["clips"] > 0
    assert summary["training_splits"] == ["train", "val"]
    assert summary["validation_split"] is None and summary["validation"] == {}
    assert summary["steps_per_epoch"] == (splits["train"]["clips"] + splits["val"]["clips"]) // 8
    assert summary["epochs_run"] == 2
    with open(os.path.join(output, "logs", "history.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2  # Keras's CSV logger keeps val_ columns, empty (NA) without validation
    assert {value for row in rows for key, value in row.items() if key.startswith("val_")} == {"NA"}


def test_warm_start_with_a_frozen_front_end(trained, dataset, tmp_path):
    import keras

    from trainer.models import front_end_layers

    output = str(tmp_path / "warm")
    result = lipflow("train", "--data", dataset, "--config", "demo", "--output", output,
                     "--warm_start", os.path.join(trained, "export"), "--freeze_front_end",
                     *_settings(["epochs=1"]))
    assert result.returncode == 0, result.stderr[-3000:]
    before = keras.saving.load_model(os.path.join(trained, "export", "model.keras"), compile=False)
    after = keras.saving.load_model(os.path.join(output, "export", "model.keras"), compile=False)
    frozen = {layer.name for layer in front_end_layers(after) if layer.weights}
    assert frozen
    for layer in after.layers:
        if not layer.get_weights():
            continue
        same = all(np.array_equal(a, b) for a, b in
                   zip(layer.get_weights(), before.get_layer(layer.name).get_weights()))
        if layer.name in frozen:
            assert same, layer.name
    assert not all(np.array_equal(a, b) for a, b in
                   zip(after.get_layer(after.layers[-1].name).get_weights(),
                       before.get_layer(after.layers[-1].name).get_weights()))


def test_a_finished_run_is_not_overwritten(trained, dataset):
    result = lipflow("train", "--data", dataset, "--output", trained, "--set", "epochs=1")
    assert result.returncode == 3 and "holds a finished run" in result.stderr


def test_bad_data_folder_is_a_clear_error(tmp_path):
    result = lipflow("train", "--data", str(tmp_path), "--output", str(tmp_path / "o"))
    assert result.returncode == 3 and "lipflow train:" in result.stderr


def _card(val_clips, test_clips):
    splits = {"train": {"clips": 8, "groups": 4}, "val": {"clips": val_clips, "groups": 1},
              "test": {"clips": test_clips, "groups": 1}}
    return {"splits": splits, "options": {"val_fraction": 0.0}}


def test_validation_is_on_val_and_never_on_test():
    from trainer.train import validation_split

    strict = config_lib.demo()
    assert validation_split(_card(val_clips=2, test_clips=2), strict) == "val"
    with pytest.raises(ValueError, match="never validates on test") as caught:
        validation_split(_card(val_clips=0, test_clips=2), strict)
    assert "--val_fraction above 0" in str(caught.value)
    assert "require_validation=false" in str(caught.value)
    relaxed = config_lib.with_overrides(strict, ["require_validation=false"])
    assert validation_split(_card(val_clips=0, test_clips=2), relaxed) is None


@pytest.fixture(scope="module")
def dataset_without_val(dataset, tmp_path_factory):
    """The small dataset with its val clips moved to test, as a --val_fraction 0 run writes."""
    root = str(tmp_path_factory.mktemp("no_val") / "data")
    shutil.copytree(dataset, root)
    val, test = os.path.join(root, "val"), os.path.join(root, "test")
    os.rename(test, test + ".empty")  # an empty shard, as the job writes for an empty split
    os.rename(val, test)
    os.rename(test + ".empty", val)
    card_path = os.path.join(root, "dataset_info.json")
    card = json.load(open(card_path))
    splits = card["splits"]
    splits["val"], splits["test"] = splits["test"], splits["val"]
    assert splits["val"]["clips"] == 0 < splits["test"]["clips"]
    json.dump(card, open(card_path, "w"))
    return root


def test_training_without_val_stops_and_says_what_to_do(dataset_without_val, tmp_path):
    from trainer.train import train

    output = str(tmp_path / "run")
    with pytest.raises(ValueError, match="no val clips .* never validates on test"):
        train(dataset_without_val, config_lib.with_overrides(config_lib.demo(), TINY), output)
    assert not os.path.exists(output)  # refused before anything was written

