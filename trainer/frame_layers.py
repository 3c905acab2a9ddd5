"""Conv3D and MaxPooling3D of the ResNet front end, computed frame by frame.

Both layers are the Keras layers they subclass (the same configuration, the same kernel
shape and names, so checkpoints move between them) with another `call`:

* `FrameStackedConv3D`: a "same" Conv3D with time stride 1 is a Conv2D over each frame's
  temporal neighbourhood stacked as channels. With a time kernel of k, the k frames around
  each frame (zeros past the ends, as "same" pads) become k * C channels, and the kernel
  [k, h, w, C, F] is read as [h, w, k * C, F].
* `FramewiseMaxPooling3D`: a pool of one frame in time is a MaxPooling2D of every frame.

Why: on 2-core x86 CPUs without AVX-512, TensorFlow's Conv3D on a one-channel input and
MaxPooling3D with its gradient are slow; as 2D operations the same arithmetic makes the
`grid` preset's whole training step 1.7x faster on such a machine
(`benchmarks/front_end.py`, `benchmarks/results/front_end.json`). The outputs equal the
3D layers' up to float rounding (tests/test_frame_layers.py).
"""

from __future__ import annotations

import keras
from keras import layers, ops


def _dimensions(tensor) -> list:
    """Each dimension of `tensor`: its static size, or a scalar tensor where that is unknown
    (the trainer's batches have no static clip length)."""
    return [size if size is not None else ops.shape(tensor)[axis]
            for axis, size in enumerate(tensor.shape)]


def _refuse_unless(name: str, needs: dict[str, bool]) -> None:
    """ValueError naming every need (description -> met) that the arguments do not meet."""
    unmet = [need for need, met in needs.items() if not met]
    if unmet:
        raise ValueError(f"{name} needs {', '.join(unmet)}; use the Keras 3D layer otherwise")


@keras.saving.register_keras_serializable(package="lipflow")
class FrameStackedConv3D(layers.Conv3D):
    """A channels-last, "same" Conv3D with time stride 1, as one Conv2D of stacked frames.

    [B, T, H, W, C] -> [B, T, H / sh, W / sw, filters], as `layers.Conv3D`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _refuse_unless("FrameStackedConv3D", {
            "a time stride of 1": self.strides[0] == 1,
            "padding 'same'": self.padding == "same",
            "channels_last": self.data_format == "channels_last",
            "no dilation": tuple(self.dilation_rate) == (1, 1, 1),
            "one group": self.groups == 1})

    def call(self, inputs):
        steps, height, width, channels = _dimensions(inputs)[1:]
        reach = (self.kernel_size[0] - 1) // 2  # "same" puts an odd extra pad after
        padded = ops.pad(inputs, ((0, 0), (reach, self.kernel_size[0] - 1 - reach),
                                  (0, 0), (0, 0), (0, 0)))
        # [B, T, H, W, k * C]: channel index = dt * C + c, the kernel's (time, channel) order.
        stacked = ops.concatenate([padded[:, shift:shift + steps]
                                   for shift in range(self.kernel_size[0])], axis=-1)
        images = ops.reshape(stacked, (-1, height, width, self.kernel_size[0] * channels))
        kernel = ops.reshape(ops.transpose(self.kernel, (1, 2, 0, 3, 4)),
                             (*self.kernel_size[1:], -1, self.filters))
        outputs = ops.conv(images, kernel, strides=self.strides[1:], padding="same")
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return ops.reshape(outputs, (-1, steps, *_dimensions(outputs)[1:]))


@keras.saving.register_keras_serializable(package="lipflow")
class FramewiseMaxPooling3D(layers.MaxPooling3D):
    """A channels-last MaxPooling3D of one frame in time, as a MaxPooling2D of every frame.

    [B, T, H, W, C] -> [B, T, H', W', C], as `layers.MaxPooling3D`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _refuse_unless("FramewiseMaxPooling3D", {
            "a pool of one frame": self.pool_size[0] == 1,
            "a time stride of 1": self.strides[0] == 1,
            "channels_last": self.data_format == "channels_last"})

    def call(self, inputs):
        steps = _dimensions(inputs)[1]
        images = ops.reshape(inputs, (-1, *_dimensions(inputs)[2:]))
        pooled = ops.max_pool(images, self.pool_size[1:], self.strides[1:], self.padding)
        return ops.reshape(pooled, (-1, steps, *_dimensions(pooled)[1:]))
