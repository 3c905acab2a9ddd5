"""The trainer's settings: frozen dataclasses and named presets (`demo`, `grid`, `grid_gpu`,
`lrw`).

`lipflow train --config NAME` picks a preset; `--set key=value` overrides single fields
(`model.name=c3d`, `epochs=3`, `input.batch_size=8`). Cross-field checks live in
`__post_init__`, so a bad combination fails before any data is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from trainer.input import InputConfig
from trainer.models import MODELS

OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class ModelConfig:
    """Which network, how wide, and whether it sees the word-boundary mask."""

    name: str = "resnet_tcn"
    width: int = 64
    use_boundary_mask: bool = False
    dropout: float = 0.2

    def __post_init__(self):
        if self.name not in MODELS:
            raise ValueError(f"model.name must be one of {MODELS}, got {self.name!r}")
        if self.width < 1 or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.width must be >= 1 and dropout in [0, 1), got "
                             f"{self.width!r}, {self.dropout!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule, checkpoints and input of one training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    epochs: int = 80
    optimizer: str = "sgd"               # sgd (momentum, exponential decay) or adamw (cosine)
    learning_rate: float = 1e-2          # start of the schedule
    final_learning_rate: float = 1e-4    # end of the schedule (sgd: exponential decay to it)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    early_stopping_patience: int = 10    # epochs without val improvement; 0 disables
    steps_per_epoch: int = 0             # 0: one pass over the train split
    mixed_precision: str = "auto"        # auto (on a GPU), on, off
    freeze_front_end: bool = False       # with a warm start: train only what follows the front end
    require_validation: bool = True      # False: with no val clips, train without validation
                                         # (no early stopping); test is never validated on
    fit_on_val: bool = False             # final fit: train on train + val for all `epochs`
                                         # (settings chosen on val before; no validation)
    class_balance: float = 0.0           # loss weight of a word ~ (its training clips)^-p:
                                         # 0 off, 1 every word weighs alike in total
    phoneme_loss: float = 0.0            # weight of an auxiliary loss: a second head names the
                                         # word's phonemes (trainer/phonemes.py); 0 off

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.epochs < 1 or self.steps_per_epoch < 0 or self.early_stopping_patience < 0:
            raise ValueError("epochs must be >= 1; steps_per_epoch, early_stopping_patience >= 0")
        if not 0 < self.final_learning_rate <= self.learning_rate:
            raise ValueError(f"need 0 < final_learning_rate <= learning_rate, got "
                             f"{self.final_learning_rate!r}, {self.learning_rate!r}")
        if not 0.0 <= self.label_smoothing < 1.0 or self.weight_decay < 0:
            raise ValueError("label_smoothing must be in [0, 1) and weight_decay >= 0")
        if not 0.0 <= self.class_balance <= 1.0:
            raise ValueError(f"class_balance must be in [0, 1], got {self.class_balance!r}")
        if self.phoneme_loss < 0:
            raise ValueError(f"phoneme_loss must be >= 0, got {self.phoneme_loss!r}")
        if self.mixed_precision not in ("auto", "on", "off"):
            raise ValueError(f"mixed_precision must be auto, on or off, got "
                             f"{self.mixed_precision!r}")
        if self.freeze_front_end and not self.model.name.startswith("resnet_"):
            raise ValueError("freeze_front_end needs a model with a front end (resnet_tcn, "
                             f"resnet_bigru), got {self.model.name!r}")


def demo() -> TrainConfig:
    """A few minutes on a laptop CPU: a narrow baseline, a handful of epochs."""
    return TrainConfig(model=ModelConfig(width=8), input=InputConfig(batch_size=16),
                       epochs=4, early_stopping_patience=0)


# GRID's optimiser, chosen on the val split (docs/reports/grid_selection_val/optimiser/):
# AdamW with cosine decay beat the momentum SGD schedule on both seeds tried (val top-1
# 0.895 and 0.904 against 0.816-0.860), the letters most of all.
_GRID_OPTIMISER = dict(optimizer="adamw", learning_rate=3e-3, final_learning_rate=3e-5,
                       weight_decay=1e-2)


def grid() -> TrainConfig:
    """GRID (51 words, one speaker), chosen on the val split to train on 2 CPU cores within
    an hour: resnet_tcn at width 16 with the word-boundary mask, on the centre 15 frames of
    each window (GRID words last about 8 frames; the 29-frame window holds three or four),
    crops average-pooled to 44 pixels, time masks of at most 2 frames, speed perturbation
    of +-20% (docs/reports/grid_selection_val/speed/), AdamW with cosine
    decay from 3e-3 to 3e-5 and weight decay 0.01, 50 epochs."""
    return TrainConfig(
        model=ModelConfig(name="resnet_tcn", width=16, use_boundary_mask=True),
        input=InputConfig(batch_size=32, frames=15, time_jitter=1, speed=0.2,
                          max_time_mask=2, downscale=2),
        epochs=50, early_stopping_patience=8, **_GRID_OPTIMISER)


def grid_gpu() -> TrainConfig:
    """The `grid` setting for a GPU: full-resolution crops at width 32, larger batches, the
    same optimiser (not yet measured on a GPU)."""
    return TrainConfig(
        model=ModelConfig(name="resnet_tcn", width=32, use_boundary_mask=True),
        input=InputConfig(batch_size=64, frames=15, time_jitter=1, speed=0.2,
                          max_time_mask=2),
        epochs=50, early_stopping_patience=8, **_GRID_OPTIMISER)


def lrw() -> TrainConfig:
    """LRW (500 words): the full-width baseline with the boundary mask, 80 epochs, on GPUs."""
    return TrainConfig(model=ModelConfig(width=64, use_boundary_mask=True),
                       input=InputConfig(batch_size=64, shuffle_buffer=16384, cycle_length=16),
                       epochs=80)


PRESETS = {"demo": demo, "grid": grid, "grid_gpu": grid_gpu, "lrw": lrw}


def preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]()


def _parse_value(text: str, current):
    if isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    return type(current)(text)


def with_overrides(config, overrides: list[str]):
    """The config with `key=value` overrides applied; nested fields as `model.width=32`."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        config = _override(config, key.split("."), text, item)
    return config


def _override(config, path: list[str], text: str, item: str):
    names = {f.name for f in dataclasses.fields(config)}
    if path[0] not in names:
        raise ValueError(f"override {item!r}: no field {path[0]!r}; fields: {sorted(names)}")
    current = getattr(config, path[0])
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ValueError(f"override {item!r}: {path[0]!r} has no sub-fields")
        return dataclasses.replace(config, **{path[0]: _override(current, path[1:], text, item)})
    try:
        value = _parse_value(text, current)
    except ValueError as err:
        raise ValueError(f"override {item!r}: {err}") from err
    return dataclasses.replace(config, **{path[0]: value})


def as_dict(config) -> dict:
    return dataclasses.asdict(config)
