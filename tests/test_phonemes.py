"""The auxiliary phoneme head: its targets, its shared layers, and a training run with it."""

import csv
import json
import os

import numpy as np
import pytest

from pipelines.evaluate.homophemes import ARPABET
from tests.runs import SMALL_TRAINING, lipflow
from trainer import config as config_lib


def _phonemes(row: np.ndarray) -> set[str]:
    return {ARPABET[i] for i in np.flatnonzero(row)}


def test_phoneme_targets_mark_the_sounds_of_each_word_and_blend_with_mixup():
    import tensorflow as tf

    from trainer.phonemes import PHONEME_OUTPUT, WORD_OUTPUT, phoneme_targets
    from trainer.train import _with_phonemes

    vocabulary = ("k", "a", "q", "u", "six")
    table = phoneme_targets(vocabulary)
    assert table.shape == (5, 39) and set(np.unique(table)) == {0.0, 1.0}
    # CMUdict: K EY, AH (its first entry for "a" is the article), K Y UW, Y UW, S IH K S
    assert [_phonemes(row) for row in table] == [
        {"K", "EY"}, {"AH"}, {"K", "Y", "UW"}, {"Y", "UW"}, {"S", "IH", "K"}]
    label = tf.constant([[0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5, 0.0]])
    features, targets, weight = _with_phonemes(table)("clip", label, tf.constant([1.0, 2.0]))
    assert features == "clip" and weight.numpy().tolist() == [1.0, 2.0]
    assert targets[WORD_OUTPUT] is label
    blended = dict(zip(ARPABET, targets[PHONEME_OUTPUT].numpy()[1]))
    assert (blended["K"], blended["Y"], blended["UW"], blended["S"]) == (0.5, 1.0, 1.0, 0.0)


def test_the_phoneme_head_shares_the_word_models_layers():
    from trainer.models import build_model
    from trainer.phonemes import PHONEME_OUTPUT, WORD_OUTPUT, with_phoneme_head, word_model

    model = build_model("resnet_tcn", 7, frames=9, size=24, width=4, use_boundary_mask=True)
    training = with_phoneme_head(model)
    rng = np.random.default_rng(0)
    batch = {"frames": rng.normal(size=(2, 9, 24, 24, 1)).astype(np.float32),
             "boundary_mask": np.ones((2, 9), np.float32)}
    outputs = training(batch)
    assert outputs[WORD_OUTPUT].shape == (2, 7) and outputs[PHONEME_OUTPUT].shape == (2, 39)
    np.testing.assert_allclose(outputs[WORD_OUTPUT], model(batch), rtol=1e-5, atol=1e-6)
    exported = word_model(training)
    assert exported.count_params() == model.count_params()
    np.testing.assert_allclose(exported(batch), model(batch), rtol=1e-5, atol=1e-6)
    assert word_model(model) is model


def test_a_negative_phoneme_loss_is_refused():
    with pytest.raises(ValueError, match="phoneme_loss must be >= 0"):
        config_lib.with_overrides(config_lib.preset("demo"), ["phoneme_loss=-1"])


def test_training_with_the_phoneme_head_learns_phonemes_and_exports_the_word_classifier(
        small_dataset, tmp_path):
    import keras

    output = str(tmp_path / "phonemes")
    result = lipflow("train", "--data", small_dataset, "--config", "demo", "--output", output,
                     "--set", "epochs=3", "--set", "steps_per_epoch=4",
                     "--set", "phoneme_loss=1.0", *[a for s in SMALL_TRAINING
                                                    for a in ("--set", s)])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.load(open(os.path.join(output, "train_summary.json")))
    assert summary["config"]["phoneme_loss"] == 1.0
    assert {"top1", "top5", "loss", "phonemes_loss", "total_loss"} <= set(summary["validation"])
    with open(os.path.join(output, "logs", "history.csv")) as handle:
        rows = list(csv.DictReader(handle))
    phoneme_losses = [float(row["phonemes_loss"]) for row in rows]
    assert len(rows) == 3 and {"val_word_loss", "val_word_top1"} <= set(rows[0])
    assert all(np.isfinite(phoneme_losses)) and phoneme_losses[-1] < phoneme_losses[0]
    model = keras.saving.load_model(os.path.join(output, "export", "model.keras"),
                                    compile=False)
    assert not isinstance(model.output, dict)
    assert model.output.shape == (None, summary["classes"])
    assert summary["parameters"] == model.count_params()
    assert os.path.exists(os.path.join(output, "checkpoints", "best.keras"))
