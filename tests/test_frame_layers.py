"""The frame-by-frame front-end layers against the Keras 3D layers they stand for: the same
outputs and gradients from the same weights, weights that move between the two, and a
clear refusal of arguments they do not cover."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import models
from trainer.frame_layers import FrameStackedConv3D, FramewiseMaxPooling3D

# Odd sizes and a clip shorter than a common kernel, so edge padding is exercised everywhere.
SHAPE = (2, 6, 13, 11, 2)  # [B, T, H, W, C]


def _clips(shape=SHAPE, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _twin_convs(kernel, strides, use_bias=False):
    """A Keras Conv3D and a FrameStackedConv3D holding the same (random) weights."""
    arguments = dict(filters=3, kernel_size=kernel, strides=strides, padding="same",
                     use_bias=use_bias, bias_initializer="random_normal")
    keras.utils.set_random_seed(1)
    reference = keras.layers.Conv3D(**arguments)
    stacked = FrameStackedConv3D(**arguments)
    reference.build(SHAPE)
    stacked.build(SHAPE)
    stacked.set_weights(reference.get_weights())
    return reference, stacked


@pytest.mark.parametrize("kernel,strides,use_bias", [
    ((5, 7, 7), (1, 2, 2), False),  # the ResNet front end's
    ((3, 3, 3), (1, 1, 1), True),
    ((4, 3, 2), (1, 2, 3), False),  # an even time kernel pads one frame more after
    ((1, 3, 3), (1, 1, 1), False),
    ((9, 1, 1), (1, 1, 1), False),  # reaches past both ends of the 6-frame clip
])
def test_stacked_conv_equals_conv3d(kernel, strides, use_bias):
    reference, stacked = _twin_convs(kernel, strides, use_bias)
    clips = _clips()
    expected = keras.ops.convert_to_numpy(reference(clips))
    actual = keras.ops.convert_to_numpy(stacked(clips))
    assert actual.shape == expected.shape == tuple(stacked.compute_output_shape(SHAPE))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_stacked_conv_has_the_gradients_of_conv3d():
    reference, stacked = _twin_convs((5, 7, 7), (1, 2, 2))
    clips = tf.constant(_clips())
    upstream = tf.constant(_clips(reference.compute_output_shape(SHAPE), seed=2))
    gradients = []
    for layer in (reference, stacked):
        with tf.GradientTape() as tape:
            tape.watch(clips)
            loss = tf.reduce_sum(layer(clips) * upstream)
        gradients.append(tape.gradient(loss, [clips, layer.kernel]))
    for expected, actual in zip(*gradients):
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("pool,strides,padding", [
    ((1, 3, 3), (1, 2, 2), "same"),  # the ResNet front end's
    ((1, 2, 2), (1, 2, 2), "valid"),
    ((1, 3, 2), (1, 1, 3), "same"),
])
def test_framewise_pooling_equals_maxpooling3d(pool, strides, padding):
    clips = _clips()
    expected = keras.layers.MaxPooling3D(pool, strides, padding=padding)(clips)
    layer = FramewiseMaxPooling3D(pool, strides, padding=padding)
    actual = layer(clips)
    assert actual.shape == expected.shape == tuple(layer.compute_output_shape(SHAPE))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(actual),
                                  keras.ops.convert_to_numpy(expected))


def test_weights_of_a_model_with_keras_3d_layers_give_the_same_logits(monkeypatch):
    """Checkpoints and exports written before the front end was computed frame by frame hold
    a Keras Conv3D: its weights load into today's model and give the same logits."""
    batch = {"frames": _clips((2, 15, 44, 44, 1)), "boundary_mask": np.ones((2, 15), np.float32)}
    today = models.build_model("resnet_tcn", 7, frames=15, size=44, width=4,
                               use_boundary_mask=True)
    monkeypatch.setattr(models, "FrameStackedConv3D", keras.layers.Conv3D)
    monkeypatch.setattr(models, "FramewiseMaxPooling3D", keras.layers.MaxPooling3D)
    keras.utils.set_random_seed(3)
    before = models.build_model("resnet_tcn", 7, frames=15, size=44, width=4,
                                use_boundary_mask=True)
    assert type(before.get_layer("front_conv3d_conv")) is keras.layers.Conv3D
    assert type(today.get_layer("front_conv3d_conv")) is FrameStackedConv3D
    today.set_weights(before.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(today(batch, training=False)),
                               keras.ops.convert_to_numpy(before(batch, training=False)),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("build,message", [
    (lambda: FrameStackedConv3D(4, 3, strides=(2, 1, 1), padding="same"), "time stride of 1"),
    (lambda: FrameStackedConv3D(4, 3, padding="valid"), "padding 'same'"),
    (lambda: FrameStackedConv3D(4, 3, padding="same", dilation_rate=2), "no dilation"),
    (lambda: FramewiseMaxPooling3D((2, 2, 2)), "a pool of one frame"),
    (lambda: FramewiseMaxPooling3D((1, 2, 2), strides=(2, 2, 2)), "time stride of 1"),
])
def test_arguments_the_frame_layers_do_not_cover_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_frame_layers_take_clips_of_unknown_length():
    """The trainer's batches carry no static clip length (input.speed reads frames by a
    gather); both layers work out the frames from the tensor itself."""
    reference, stacked = _twin_convs((5, 7, 7), (1, 2, 2))
    pooling = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same")
    framewise = FramewiseMaxPooling3D((1, 3, 3), (1, 2, 2), padding="same")
    clips = _clips()

    @tf.function(input_signature=[tf.TensorSpec([None, None, *SHAPE[2:]], tf.float32)])
    def front(batch):
        return framewise(stacked(batch))

    np.testing.assert_allclose(front(clips).numpy(), pooling(reference(clips)).numpy(),
                               rtol=1e-5, atol=1e-5)
