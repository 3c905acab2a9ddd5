"""Tests of the model family: logits, one training step, the boundary mask, the front ends.

Models are tiny (width 4) but see full-size clips (29 frames of 88 x 88). Each (model, mask)
pair is built once and shared; training steps run eagerly to keep the suite fast, and
`test_compiled_training_step` covers the traced graph that real training runs.
"""

import functools

import keras
import numpy as np
import pytest

from schemas.clip import BOUNDARY_MASK, FRAMES
from trainer import models

NUM_CLASSES = 7
CLIP_FRAMES = 29
CROP_SIZE = 88
WIDTH = 4
BATCH = 2
LABELS = np.array([1, 5])
EVERY_MODEL_AND_MASK = [(name, use_mask) for name in models.MODELS for use_mask in (False, True)]


@functools.cache
def _shared_model(name: str, use_mask: bool) -> keras.Model:
    """One tiny model per (name, use_mask), built once for the whole module."""
    return _fresh_model(name, use_mask)


def _fresh_model(name: str, use_mask: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    return models.build_model(name, NUM_CLASSES, frames=CLIP_FRAMES, size=CROP_SIZE, width=WIDTH,
                              use_boundary_mask=use_mask)


def _batch(word_start: int, word_stop: int) -> dict[str, np.ndarray]:
    """The same random frames [B, T, H, W, 1] with the word on frames [word_start, word_stop)."""
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((BATCH, CLIP_FRAMES, CROP_SIZE, CROP_SIZE, 1), dtype=np.float32)
    mask = np.zeros((BATCH, CLIP_FRAMES), np.float32)
    mask[:, word_start:word_stop] = 1.0
    return {FRAMES: frames, BOUNDARY_MASK: mask}


def _compile(model: keras.Model, run_eagerly: bool) -> None:
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=run_eagerly)


def _logits(model: keras.Model, batch: dict[str, np.ndarray]) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(batch, training=False))


@pytest.mark.parametrize("name,use_mask", EVERY_MODEL_AND_MASK)
def test_logits_are_float32_per_class(name, use_mask):
    model = _shared_model(name, use_mask)
    logits = model(_batch(10, 19), training=False)
    assert tuple(logits.shape) == (BATCH, NUM_CLASSES)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))
    assert set(model.input) == {FRAMES, BOUNDARY_MASK}


@pytest.mark.parametrize("name,use_mask", EVERY_MODEL_AND_MASK)
def test_boundary_mask_matters_only_when_used(name, use_mask):
    model = _shared_model(name, use_mask)
    word_early = _logits(model, _batch(2, 10))
    word_late = _logits(model, _batch(15, 25))
    if use_mask:
        assert not np.allclose(word_early, word_late)
    else:
        np.testing.assert_array_equal(word_early, word_late)


@pytest.mark.parametrize("name,use_mask", EVERY_MODEL_AND_MASK)
def test_one_training_step_gives_a_finite_loss(name, use_mask):
    model = _shared_model(name, use_mask)
    _compile(model, run_eagerly=True)
    loss = model.train_on_batch(_batch(10, 19), LABELS)
    assert np.isfinite(loss)


@pytest.mark.parametrize("name", ["multi_tower", "resnet_tcn"])
def test_compiled_training_step(name):
    model = _fresh_model(name, use_mask=True)
    _compile(model, run_eagerly=False)
    loss = model.train_on_batch(_batch(10, 19), LABELS)
    assert np.isfinite(loss)


@pytest.mark.parametrize("name", models.MODELS)
def test_every_model_has_a_front_end(name):
    front = models.front_end_layers(_shared_model(name, False))
    assert front
    assert all(layer.name.startswith("front_") for layer in front)
    assert any(layer.weights for layer in front)


@pytest.mark.parametrize("name", ["resnet_tcn", "resnet_bigru"])
def test_resnet_front_end_is_the_3d_stem(name):
    front = models.front_end_layers(_shared_model(name, False))
    convs = [layer for layer in front if isinstance(layer, keras.layers.Conv3D)]
    assert [(conv.kernel_size, conv.strides) for conv in convs] == [((5, 7, 7), (1, 2, 2))]
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in front)
    assert any(isinstance(layer, keras.layers.MaxPooling3D) for layer in front)


def test_frozen_front_end_does_not_train():
    model = _fresh_model("resnet_tcn", use_mask=False)
    trainable_before = len(model.trainable_weights)
    for layer in models.front_end_layers(model):
        layer.trainable = False
    kernel = model.get_layer("front_conv3d_conv").kernel
    kernel_before = kernel.numpy()
    _compile(model, run_eagerly=True)
    model.train_on_batch(_batch(10, 19), LABELS)
    assert len(model.trainable_weights) == trainable_before - 3  # conv kernel, BN gamma, beta
    np.testing.assert_array_equal(kernel.numpy(), kernel_before)


# Keras's TensorFlow backend saves each weight through np.array(variable), which numpy 2 flags
# once per weight; the warning is about that call inside Keras, not about this model.
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_saved_model_loads_back_with_the_same_logits(tmp_path):
    model = _fresh_model("resnet_tcn", use_mask=True)
    path = tmp_path / "resnet_tcn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    batch = _batch(4, 20)
    np.testing.assert_allclose(_logits(loaded, batch), _logits(model, batch), rtol=1e-5, atol=1e-6)


def test_logits_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _fresh_model("resnet_tcn", use_mask=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("trunk_stage1_block1_a_conv").compute_dtype == "bfloat16"
    logits = model(_batch(10, 19), training=False)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="'lstm'") as raised:
        models.build_model("lstm", NUM_CLASSES)
    assert all(name in str(raised.value) for name in models.MODELS)


@pytest.mark.parametrize("name,arguments,message", [
    ("c3d", {"width": 0}, "width must be a positive integer, got 0"),
    ("c3d", {"num_classes": 0}, "num_classes must be a positive integer, got 0"),
    ("c3d", {"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
    ("early_fusion_3d", {"frames": 4}, "early_fusion_3d needs frames >= 5"),
])
def test_bad_arguments_are_refused(name, arguments, message):
    with pytest.raises(ValueError, match=message):
        models.build_model(name, **{"num_classes": NUM_CLASSES, **arguments})


OVERFIT_CLIPS = 4
OVERFIT_STEPS = 40
OVERFIT_LOSS = 0.1


@pytest.mark.parametrize("name", models.MODELS)
def test_every_model_learns_one_small_batch_by_heart(name):
    # Four different clips, four different words: only a network whose output depends on
    # its input (not on class priors) can bring the loss near zero.
    rng = np.random.default_rng(1)
    batch = {FRAMES: rng.standard_normal((OVERFIT_CLIPS, CLIP_FRAMES, CROP_SIZE, CROP_SIZE, 1),
                                         dtype=np.float32),
             BOUNDARY_MASK: np.zeros((OVERFIT_CLIPS, CLIP_FRAMES), np.float32)}
    batch[BOUNDARY_MASK][:, 10:19] = 1.0
    labels = np.arange(OVERFIT_CLIPS)
    keras.utils.set_random_seed(0)
    model = models.build_model(name, NUM_CLASSES, frames=CLIP_FRAMES, size=CROP_SIZE,
                               width=WIDTH, use_boundary_mask=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = []
    for _ in range(OVERFIT_STEPS):
        losses.append(float(model.train_on_batch(batch, labels)))
        if losses[-1] < OVERFIT_LOSS:
            break
    assert losses[0] > 1.0, losses  # it started from a guess
    assert losses[-1] < OVERFIT_LOSS, f"{name}: loss {losses[-1]:.3f} after {len(losses)} steps"
