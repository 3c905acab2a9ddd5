"""One training run: data in, checkpoints, logs and an exported model out.

OUTPUT/ (a local path, or gs:// through TensorFlow's own file system, as DATA may be)
  backup/            state for an exact resume after the process is killed (epoch, weights,
                     optimizer); rerunning the same command continues from the last epoch
  checkpoints/       the model after every epoch (epoch-NNN.keras) and the best (best.keras)
  logs/              TensorBoard logs; history.csv, one row per epoch
  export/            the SavedModel for serving (see trainer/export.py) and model.keras
  train_summary.json what was trained, for how long, and how well
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time

import keras
import numpy as np
import tensorflow as tf

from trainer import config as config_lib
from trainer.config import TrainConfig
from trainer.export import export_model
from trainer.input import DatasetStats, load_stats, make_dataset, split_files
from schemas.clip import SCHEMA_VERSION
from schemas.contract import PreprocessingContract, check_contract, dataset_contract
from schemas.layout import DATASET_INFO_FILE
from trainer.models import build_model, front_end_layers
from trainer.phonemes import (PHONEME_OUTPUT, WORD_OUTPUT, phoneme_targets,
                              with_phoneme_head, word_model)

_LOG = logging.getLogger(__name__)
# The only split validation, early stopping and best.keras may see. Never test: choosing
# epochs or a checkpoint on it would make the test scores optimistic.
VALIDATION_SPLIT = "val"


def choose_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over several GPUs, else the default strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def set_precision(mode: str) -> str:
    """Sets Keras's global dtype policy: mixed_float16 on a GPU (auto) or when asked."""
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    policy = "mixed_float16" if mode == "on" or (mode == "auto" and on_gpu) else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def dataset_card(data_dir: str) -> dict:
    """The dataset's dataset_info.json; ValueError if missing or of another schema version."""
    path = os.path.join(data_dir, DATASET_INFO_FILE)
    if not tf.io.gfile.exists(path):
        raise ValueError(f"--data {data_dir!r} has no dataset_info.json: give the folder "
                         "that lipflow preprocess wrote")
    with tf.io.gfile.GFile(path) as handle:
        card = json.load(handle)
    if card.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"--data {data_dir!r} was written with schema "
                         f"{card.get('schema_version')!r}, this lipflow reads {SCHEMA_VERSION!r}: "
                         "run lipflow preprocess again")
    return card


def training_contract(card: dict, data_dir: str, config: TrainConfig,
                      warm_source: str | None) -> PreprocessingContract:
    """The dataset's preprocessing contract, checked against the config and a warm start."""
    contract = dataset_contract(card, data_dir)
    if config.input.crop_size > contract.crop_size:
        raise ValueError(f"input.crop_size is {config.input.crop_size}, but the clips of "
                         f"{data_dir!r} are {contract.crop_size} pixels square: set "
                         f"input.crop_size to at most {contract.crop_size}")
    config.input.model_frames(contract.window_length)  # fails early on too many frames
    if warm_source and tf.io.gfile.isdir(warm_source):  # an export folder, maybe gs://
        from schemas.export import read_contract

        check_contract(read_contract(warm_source), contract, repr(warm_source),
                       f"the dataset {data_dir!r}")
    return contract


def clips_in(data_dir: str, split: str) -> int:
    """Original + augmented clips of a split, from the dataset card."""
    return int(dataset_card(data_dir)["splits"].get(split, {}).get("clips", 0))


def training_splits(config: TrainConfig) -> tuple[str, ...]:
    """The splits training reads: train, and val too for a final fit (`fit_on_val`)."""
    return ("train", VALIDATION_SPLIT) if config.fit_on_val else ("train",)


def class_weights(card: dict, splits: tuple[str, ...], vocabulary: tuple[str, ...],
                  power: float) -> np.ndarray:
    """Loss weight per label, (training clips of the word) ** -power, scaled so that the
    mean weight over the training clips is 1 (the learning rate keeps its meaning)."""
    per_split = card.get("words_per_split", {})
    counts = np.array([sum(per_split.get(s, {}).get(w, 0) for s in splits) for w in vocabulary],
                      dtype=np.float64)
    if counts.sum() == 0:
        raise ValueError("class_balance needs the words' clip counts (words_per_split) in "
                         "dataset_info.json; run lipflow preprocess again")
    weights = np.maximum(counts, 1.0) ** -power
    return (weights * counts.sum() / (weights * counts).sum()).astype(np.float32)


def _weighted(weights: np.ndarray):
    """(features, one-hot label) -> (features, label, sample weight); a blended (mixup)
    label weighs as the mix of its words."""
    table = tf.constant(weights)

    def attach(features, label):
        return features, label, tf.linalg.matvec(label, table)
    return attach


def make_optimizer(config: TrainConfig, steps: int) -> keras.optimizers.Optimizer:
    """SGD with momentum decaying exponentially to the final rate, or AdamW with cosine decay."""
    total = max(1, steps * config.epochs)
    if config.optimizer == "sgd":
        rate = (config.final_learning_rate / config.learning_rate) ** (1.0 / total)
        schedule = keras.optimizers.schedules.ExponentialDecay(config.learning_rate, 1, rate)
        return keras.optimizers.SGD(schedule, momentum=config.momentum,
                                    weight_decay=config.weight_decay)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, total, alpha=config.final_learning_rate / config.learning_rate)
    return keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)


def warm_start(model: keras.Model, source: str) -> int:
    """Copies weights from a .keras file or an export folder, layer by layer where the
    names and shapes match (a new vocabulary keeps all but the classifier). Returns the
    number of layers copied."""
    path = os.path.join(source, "model.keras") if tf.io.gfile.isdir(source) else source
    if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
        raise ValueError(f"--warm_start {source!r}: no .keras model there (give a checkpoint "
                         "file or an export folder holding model.keras)")
    previous = {layer.name: layer for layer in keras.saving.load_model(path, compile=False).layers}
    copied = 0
    for layer in model.layers:
        old = previous.get(layer.name)
        if old is None or not layer.weights:
            continue
        if [w.shape for w in old.weights] == [w.shape for w in layer.weights]:
            layer.set_weights(old.get_weights())
            copied += 1
    if copied == 0:
        raise ValueError(f"--warm_start {source!r}: no layer of it fits this model")
    return copied


def resumed_epoch(output: str) -> int:
    """The epoch an interrupted run resumes at (0 for a new run), from the backup's record."""
    path = os.path.join(output, "backup", "training_metadata.json")
    if not tf.io.gfile.exists(path):
        return 0
    with tf.io.gfile.GFile(path) as handle:
        return int(json.load(handle).get("epoch", 0))


def validation_split(card: dict, config: TrainConfig) -> str | None:
    """The split to validate on, from the dataset card: val when it has clips.

    Without val clips: None (no validation) if `config.require_validation` is off, else
    ValueError saying how to get a val split. A final fit (`config.fit_on_val`) trains on
    val, so it validates on nothing. Never test.
    """
    if config.fit_on_val:
        return None
    if int(card["splits"].get(VALIDATION_SPLIT, {}).get("clips", 0)) > 0:
        return VALIDATION_SPLIT
    if not config.require_validation:
        return None
    val_fraction = card.get("options", {}).get("val_fraction", "?")
    train_groups = card["splits"].get("train", {}).get("groups", "?")
    raise ValueError(
        f"the dataset has no val clips (made with --val_fraction {val_fraction}; its train "
        f"split holds {train_groups} groups), and lipflow train never validates on test, "
        "which would tune early stopping and best.keras on the test split. Run lipflow "
        "preprocess again with --val_fraction above 0 (val takes whole --split_by groups, so "
        "it needs several; an input that names its splits needs a val one), or train "
        "without validation: --set require_validation=false (no early stopping; best.keras "
        "by training loss)")


# A random-number stream per epoch: steps in one epoch draw far fewer numbers than this.
_DRAWS_PER_EPOCH = 1 << 20
# Tests set this to N to have a run SIGKILL itself once epoch N is logged and backed up,
# as a crash would, at the same point on every machine (instead of racing it from outside).
KILL_AFTER_EPOCH_ENV = "LIPFLOW_TEST_KILL_AFTER_EPOCH"


def _known_batches(clips: int, batch_size: int):
    """Tells tf.data how many batches the validation split makes (from the dataset card):
    records read from files have no known count, and Keras, finding the end of one by
    running out, warns every run that the input "ran out of data"."""
    return tf.data.experimental.assert_cardinality(-(-clips // batch_size))


class KillAfterEpoch(keras.callbacks.Callback):
    """SIGKILLs the process at the end of epoch `epochs` (1-based); the last callback, so
    the backup, checkpoints and history of that epoch are written first."""

    def __init__(self, epochs: int):
        super().__init__()
        self._epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self._epochs:
            os.kill(os.getpid(), signal.SIGKILL)


class ReseedPerEpoch(keras.callbacks.Callback):
    """Sets every random layer's (dropout's) seed state to a function of the epoch.

    The backup restores weights and optimizer but not the seed generators' counters, so
    a resumed run would draw other dropout masks than an uninterrupted one. Setting the
    state at each epoch's start makes the masks a function of (initial seed, epoch).
    """

    def on_train_begin(self, logs=None):
        self._states = [v for v in self.model.variables if v.name == "seed_generator_state"]
        self._seeds = [v.numpy()[0] for v in self._states]

    def on_epoch_begin(self, epoch, logs=None):
        for state, seed in zip(self._states, self._seeds):
            state.assign(np.array([seed, epoch * _DRAWS_PER_EPOCH], dtype=state.dtype))


def _monitored_loss(config: TrainConfig, validation: str | None) -> str:
    """The loss early stopping and best.keras watch: the word's, not the phoneme head's."""
    name = f"{WORD_OUTPUT}_loss" if config.phoneme_loss else "loss"
    return f"val_{name}" if validation else name


def _callbacks(config: TrainConfig, output: str, validation: str | None) -> list:
    monitor = _monitored_loss(config, validation)
    callbacks = [
        ReseedPerEpoch(),
        keras.callbacks.BackupAndRestore(os.path.join(output, "backup")),
        keras.callbacks.ModelCheckpoint(os.path.join(output, "checkpoints", "epoch-{epoch:03d}.keras")),
        keras.callbacks.ModelCheckpoint(os.path.join(output, "checkpoints", "best.keras"),
                                        monitor=monitor, mode="min", save_best_only=True),
        keras.callbacks.TensorBoard(os.path.join(output, "logs")),
        keras.callbacks.CSVLogger(os.path.join(output, "logs", "history.csv"), append=True),
    ]
    if config.early_stopping_patience and validation:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode="min", patience=config.early_stopping_patience,
            restore_best_weights=True))
    if os.environ.get(KILL_AFTER_EPOCH_ENV):
        callbacks.append(KillAfterEpoch(int(os.environ[KILL_AFTER_EPOCH_ENV])))
    return callbacks


def build_and_compile(config: TrainConfig, stats: DatasetStats, steps: int,
                      warm_source: str | None, window_length: int) -> keras.Model:
    model_config = config.model
    model = build_model(model_config.name, len(stats.vocabulary),
                        frames=config.input.model_frames(window_length),
                        size=config.input.model_size,
                        width=model_config.width,
                        use_boundary_mask=model_config.use_boundary_mask,
                        dropout=model_config.dropout)
    if warm_source:
        _LOG.info("warm start: %d layers copied from %s", warm_start(model, warm_source),
                  warm_source)
    if config.freeze_front_end:
        for layer in front_end_layers(model):
            layer.trainable = False
    word_loss = keras.losses.CategoricalCrossentropy(from_logits=True,
                                                     label_smoothing=config.label_smoothing)
    metrics = [keras.metrics.CategoricalAccuracy(name="top1"),
               keras.metrics.TopKCategoricalAccuracy(k=5, name="top5")]
    loss, loss_weights = word_loss, None
    if config.phoneme_loss:
        model = with_phoneme_head(model)
        loss = {WORD_OUTPUT: word_loss,
                PHONEME_OUTPUT: keras.losses.BinaryCrossentropy(from_logits=True)}
        loss_weights = {WORD_OUTPUT: 1.0, PHONEME_OUTPUT: config.phoneme_loss}
        metrics = {WORD_OUTPUT: metrics}
    model.compile(optimizer=make_optimizer(config, steps), loss=loss, loss_weights=loss_weights,
                  metrics=metrics)
    return model


def _one_hot(classes: int):
    def convert(features, label):
        if label.dtype.is_floating:  # mixup's blended labels are one-hot already
            return features, label
        return features, tf.one_hot(label, classes)
    return convert


def _with_phonemes(table: np.ndarray):
    """(features, one-hot label[, weight]) -> (features, {word, phonemes}[, weight]); a
    blended (mixup) label gets the blend of its words' phonemes."""
    table = tf.constant(table)

    def attach(features, label, *weight):
        return (features, {WORD_OUTPUT: label, PHONEME_OUTPUT: tf.matmul(label, table)},
                *weight)
    return attach


def _word_scores(scores: dict) -> dict:
    """Validation scores named as without the phoneme head (top1, not word_top1; loss is
    the word's), with the phoneme head's and the weighted sum beside them."""
    if f"{WORD_OUTPUT}_loss" not in scores:
        return {k: float(v) for k, v in scores.items()}
    named = {"total_loss": float(scores["loss"])}
    named.update({k.removeprefix(f"{WORD_OUTPUT}_"): float(v) for k, v in scores.items()
                  if k != "loss"})
    return named


def train(data_dir: str, config: TrainConfig, output: str,
          warm_source: str | None = None) -> dict:
    """Trains, checkpoints every epoch (resuming if a backup exists), exports; returns a summary."""
    card = dataset_card(data_dir)
    contract = training_contract(card, data_dir, config, warm_source)  # fails early, clearly
    validation = validation_split(card, config)
    splits = training_splits(config)
    for split in splits:
        split_files(data_dir, split)
    finished = os.path.join(output, "train_summary.json")
    if tf.io.gfile.exists(finished) and not tf.io.gfile.isdir(os.path.join(output, "backup")):
        raise ValueError(f"--output {output!r} holds a finished run (train_summary.json); "
                         "choose another folder or remove it")
    keras.utils.set_random_seed(config.input.seed)
    policy = set_precision(config.mixed_precision)
    stats = load_stats(data_dir)
    classes = len(stats.vocabulary)
    steps = config.steps_per_epoch or max(1, sum(clips_in(data_dir, s) for s in splits)
                                          // config.input.batch_size)
    first_epoch = resumed_epoch(output)
    train_data = make_dataset(data_dir, splits, config.input, stats, training=True,
                              repeat=True, first_pass=first_epoch,
                              passes=max(1, config.epochs - first_epoch)
                              ).map(_one_hot(classes))
    if config.class_balance:
        weights = class_weights(card, splits, stats.vocabulary, config.class_balance)
        _LOG.info("class_balance %.2f: loss weights from %.2f to %.2f", config.class_balance,
                  weights.min(), weights.max())
        train_data = train_data.map(_weighted(weights))
    val_data = (make_dataset(data_dir, validation, config.input, stats, training=False)
                .apply(_known_batches(clips_in(data_dir, validation), config.input.batch_size))
                .map(_one_hot(classes)) if validation else None)
    if config.phoneme_loss:
        targets = _with_phonemes(phoneme_targets(stats.vocabulary))
        train_data = train_data.map(targets)
        val_data = val_data.map(targets) if val_data is not None else None
    if config.fit_on_val:
        _LOG.warning("fit_on_val: training on train + val for all %d epochs, without "
                     "validation or early stopping; score the model on test only",
                     config.epochs)
    elif validation is None:
        _LOG.warning("no val clips and require_validation=false: training without validation "
                     "or early stopping; best.keras is chosen by training loss")
    with choose_strategy().scope():
        model = build_and_compile(config, stats, steps, warm_source, contract.window_length)
    started = time.perf_counter()
    # The input is shuffled by make_dataset; Keras's own shuffle does not apply to tf.data.
    history = model.fit(train_data, validation_data=val_data, epochs=config.epochs,
                        steps_per_epoch=steps, callbacks=_callbacks(config, output, validation),
                        verbose=2, shuffle=False)
    seconds = time.perf_counter() - started
    scores = model.evaluate(val_data, return_dict=True, verbose=0) if validation else {}
    model = word_model(model)
    export_dir = export_model(model, stats, config, os.path.join(output, "export"), contract)
    summary = {"data": data_dir, "config": config_lib.as_dict(config), "policy": policy,
               "classes": classes, "epochs_run": len(history.history.get("loss", [])),
               "steps_per_epoch": steps, "train_seconds": round(seconds, 1),
               "training_splits": list(splits), "validation_split": validation,
               "validation": _word_scores(scores),
               "export": export_dir, "parameters": int(model.count_params())}
    with tf.io.gfile.GFile(os.path.join(output, "train_summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    return summary
