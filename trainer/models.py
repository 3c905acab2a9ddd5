"""Word-level lip-reading models: the "Lip reading in the wild" seeds and ResNet-18 baselines.

Every model is a functional `keras.Model` built from Keras 3 public APIs only (`keras.layers`,
`keras.ops`), so the same definitions run under the TensorFlow and the JAX backends.

Inputs (a dict keyed by the schema's feature keys):
    frames: float32 [B, T, H, W, 1], normalised grey mouth crops (T=29, H=W=88 by default).
    boundary_mask: float32 [B, T], 1 on the frames inside the word, 0 outside.
Output:
    logits: float32 [B, num_classes], no softmax. The last Dense is float32 under a
    mixed-precision policy too.

Boundary mask. With `use_boundary_mask=False` the mask is an input of the model that nothing
is connected to, so every model has the same signature and the mask has no effect. With
`use_boundary_mask=True`:
    * temporal models (`resnet_tcn`, `resnet_bigru`) concatenate the mask to the per-frame
      features ([B, T, C] -> [B, T, C + 1]) before the back end, and average over time only
      the frames inside the word (a mask with no frame inside gives zero features);
    * the other models fold time away early, so they concatenate the mask [B, T] to their
      flattened (or pooled) features before the first dense layer.

Sizes. `width` scales every channel count; width 64 gives about the published sizes (VGG-M
convs 96/256/512 and fc6 4096; ResNet-18 channels 64/128/256/512; MS-TCN 3 x 256 per block;
BiGRU 1024 units per direction). Pooling uses "same" padding, so any crop size builds.

Front end. In every model the first stage that sees pixels has layer names starting with
`front_`; `front_end_layers` returns those layers, e.g. to freeze them when transferring.
BatchNormalization follows every convolution; weight decay belongs to the optimizer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers, ops

from schemas.clip import BOUNDARY_MASK, FRAMES
from trainer.frame_layers import FrameStackedConv3D, FramewiseMaxPooling3D

MODELS = ("early_fusion_2d", "early_fusion_3d", "multi_tower", "multi_resolution", "c3d",
          "resnet_tcn", "resnet_bigru")
FRONT_PREFIX = "front_"
LOGITS = "logits"

_BN_MOMENTUM = 0.9  # PyTorch's momentum 0.1, as in the reference lip-reading recipes
_BN_EPSILON = 1e-5
_CONV_INIT = "he_normal"
_EF3D_TIME_KERNEL = 5  # frames seen by the first layer of early_fusion_3d
_TOWER_GROUP = 5  # consecutive frames per tower of multi_tower
_RESNET18_BLOCKS = (2, 2, 2, 2)
_TCN_KERNELS = (3, 5, 7)
_TCN_DILATIONS = (1, 2, 4, 8)
_GRU_LAYERS = 2


@dataclass(frozen=True)
class _Settings:
    """What a builder needs besides its inputs; refuses values no model can be built with."""

    name: str
    num_classes: int
    frames: int
    size: int
    width: int
    dropout: float

    def __post_init__(self):
        for label in ("num_classes", "frames", "size", "width"):
            value = getattr(self, label)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
            object.__setattr__(self, label, int(value))  # numpy integers -> int, for Keras
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.name == "early_fusion_3d" and self.frames < _EF3D_TIME_KERNEL:
            raise ValueError(f"early_fusion_3d needs frames >= {_EF3D_TIME_KERNEL} (its first "
                             f"layer spans {_EF3D_TIME_KERNEL} frames), got {self.frames!r}")


@keras.saving.register_keras_serializable(package="lipflow")
class MergeTimeIntoBatch(layers.Layer):
    """[B, T, *rest] -> [B * T, *rest], so per-frame layers see each frame as one example."""

    def call(self, inputs):
        return ops.reshape(inputs, (-1, *inputs.shape[2:]))

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        merged = None if batch is None or steps is None else batch * steps
        return (merged, *input_shape[2:])


@keras.saving.register_keras_serializable(package="lipflow")
class SplitTimeFromBatch(layers.Layer):
    """[B * T, *rest] -> [B, T, *rest]; the inverse of `MergeTimeIntoBatch` for a known T."""

    def __init__(self, steps: int, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps

    def call(self, inputs):
        return ops.reshape(inputs, (-1, self.steps, *inputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.steps
        return (batch, self.steps, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="lipflow")
class MaskedTemporalMean(layers.Layer):
    """Mean over time of the frames inside the word: ([B, T, C], [B, T]) -> [B, C].

    The mask holds 0/1 per frame; a row with no frame inside gives zeros.
    """

    def call(self, inputs):
        features, mask = inputs
        weights = ops.expand_dims(ops.cast(mask, features.dtype), axis=-1)
        total = ops.sum(features * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, features.dtype))
        return total / count

    def compute_output_shape(self, input_shape):
        features_shape = input_shape[0]
        return (features_shape[0], features_shape[2])


def build_model(name: str, num_classes: int, frames: int = 29, size: int = 88, width: int = 64,
                use_boundary_mask: bool = False, dropout: float = 0.2) -> keras.Model:
    """Builds the model `name` (one of `MODELS`).

    Args:
        name: which architecture.
        num_classes: size of the word vocabulary (logits per example).
        frames: T, frames per clip.
        size: H = W, mouth crop side in pixels.
        width: channel scale; 64 gives about the published sizes.
        use_boundary_mask: feed `boundary_mask` to the model (see the module docstring).
        dropout: dropout rate of the dense head or the temporal back end, in [0, 1).

    Returns:
        keras.Model: {frames: float32 [B, T, size, size, 1], boundary_mask: float32 [B, T]}
        -> logits float32 [B, num_classes].
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    settings = _Settings(name, num_classes, frames, size, width, dropout)
    steps, side = settings.frames, settings.size
    frames_input = keras.Input((steps, side, side, 1), dtype="float32", name=FRAMES)
    mask_input = keras.Input((steps,), dtype="float32", name=BOUNDARY_MASK)
    mask = mask_input if use_boundary_mask else None
    logits = _BUILDERS[name](frames_input, mask, settings)
    inputs = {FRAMES: frames_input, BOUNDARY_MASK: mask_input}
    return keras.Model(inputs=inputs, outputs=logits, name=name)


def front_end_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of `model` whose names start with `front_` (its first, pixel-facing stage)."""
    return [layer for layer in model.layers if layer.name.startswith(FRONT_PREFIX)]


# Shared pieces.

def _batch_norm(name: str) -> layers.BatchNormalization:
    """BatchNormalization with the reference recipes' momentum and epsilon."""
    return layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=name)


def _conv2d_bn_relu(x, filters: int, kernel: int, strides: int, name: str):
    """Conv2D ("same") + BN + ReLU: [N, H, W, C] -> [N, H / strides, W / strides, filters]."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      kernel_initializer=_CONV_INIT, name=f"{name}_conv")(x)
    x = _batch_norm(f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _conv3d_bn_relu(x, filters: int, kernel, strides, name: str, conv=layers.Conv3D):
    """Conv3D ("same") + BN + ReLU: [B, T, H, W, C] -> [B, T / st, H / sh, W / sw, filters].
    `conv`: the Conv3D class (a subclass computes the same layer another way)."""
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False,
             kernel_initializer=_CONV_INIT, name=f"{name}_conv")(x)
    x = _batch_norm(f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _fold_time_into_channels(x, name: str):
    """[B, T, H, W, C] -> [B, H, W, T * C] (channel index = t * C + c)."""
    steps, height, width, channels = x.shape[1:]
    x = layers.Permute((2, 3, 1, 4), name=f"{name}_permute")(x)
    return layers.Reshape((height, width, steps * channels), name=f"{name}_reshape")(x)


def _vgg_conv1_filters(width: int) -> int:
    """conv1 channels of the VGG-M-like stack: 96 at width 64."""
    return max(1, 3 * width // 2)


def _vgg_m_conv1(x, width: int, prefix: str):
    """VGG-M-like conv1 + pool1: [N, H, W, C] -> [N, H / 2, W / 2, 1.5 * width]."""
    x = _conv2d_bn_relu(x, _vgg_conv1_filters(width), 3, 1, f"{prefix}conv1")
    return layers.MaxPooling2D(3, 2, padding="same", name=f"{prefix}pool1")(x)


def _vgg_m_conv2_to_pool5(x, width: int, prefix: str):
    """VGG-M-like conv2..pool5: [N, H, W, C] -> [N, H / 16, W / 16, 8 * width]."""
    x = _conv2d_bn_relu(x, 4 * width, 3, 2, f"{prefix}conv2")
    x = layers.MaxPooling2D(3, 2, padding="same", name=f"{prefix}pool2")(x)
    for index in (3, 4, 5):
        x = _conv2d_bn_relu(x, 8 * width, 3, 1, f"{prefix}conv{index}")
    return layers.MaxPooling2D(3, 2, padding="same", name=f"{prefix}pool5")(x)


def _dense_head(features, mask, settings: _Settings):
    """[B, F] (+ mask [B, T]) -> fc6 (64 * width) + BN + ReLU + dropout -> logits [B, classes]."""
    if mask is not None:
        features = layers.Concatenate(name="concat_mask")([features, mask])
    x = layers.Dense(64 * settings.width, use_bias=False, name="fc6")(features)
    x = _batch_norm("fc6_bn")(x)
    x = layers.ReLU(name="fc6_relu")(x)
    x = layers.Dropout(settings.dropout, name="fc6_dropout")(x)
    return layers.Dense(settings.num_classes, dtype="float32", name=LOGITS)(x)


# The "Lip reading in the wild" / large-scale video classification seeds.

def _early_fusion_2d(frames, mask, settings: _Settings):
    """Frames stacked as T channels into a 2D VGG-M-like CNN."""
    x = _fold_time_into_channels(frames, "stack_frames")  # [B, H, W, T]
    x = _vgg_m_conv1(x, settings.width, FRONT_PREFIX)
    x = _vgg_m_conv2_to_pool5(x, settings.width, "")
    return _dense_head(layers.Flatten(name="flatten")(x), mask, settings)


def _early_fusion_3d(frames, mask, settings: _Settings):
    """A 3D conv spanning 5 frames, time folded into channels, then 2D convs.

    The first layer keeps only the T - 4 time steps whose 5 frames all lie in the clip.
    """
    edge = _EF3D_TIME_KERNEL // 2
    x = layers.Conv3D(_vgg_conv1_filters(settings.width), (_EF3D_TIME_KERNEL, 3, 3),
                      padding="same", use_bias=False, kernel_initializer=_CONV_INIT,
                      name="front_conv1_conv")(frames)
    x = layers.Cropping3D(((edge, edge), (0, 0), (0, 0)), name="front_conv1_valid_time")(x)
    x = _batch_norm("front_conv1_bn")(x)
    x = layers.ReLU(name="front_conv1_relu")(x)  # [B, T - 4, H, W, c1]
    x = layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="front_pool1")(x)
    x = _fold_time_into_channels(x, "fold_time")  # [B, H / 2, W / 2, (T - 4) * c1]
    x = _vgg_m_conv2_to_pool5(x, settings.width, "")
    return _dense_head(layers.Flatten(name="flatten")(x), mask, settings)


def _multi_tower(frames, mask, settings: _Settings):
    """Shared-weight towers (conv1 + pool1) over groups of 5 consecutive frames.

    The clip is zero-padded at the end to whole groups (29 frames -> 6 groups of 5). Each group
    goes through the same tower as a 5-channel image; the tower outputs are concatenated
    channel-wise and go through conv2..pool5, fc6 and the logits.
    """
    groups = math.ceil(settings.frames / _TOWER_GROUP)
    padding = groups * _TOWER_GROUP - settings.frames
    x = layers.ZeroPadding3D(((0, padding), (0, 0), (0, 0)), name="pad_time")(frames)
    x = layers.Reshape((groups, _TOWER_GROUP, settings.size, settings.size), name="group_frames")(x)
    x = layers.Permute((1, 3, 4, 2), name="groups_as_channels")(x)  # [B, G, H, W, 5]
    x = MergeTimeIntoBatch(name="merge_groups")(x)  # [B * G, H, W, 5]
    x = _vgg_m_conv1(x, settings.width, FRONT_PREFIX)  # [B * G, H / 2, W / 2, c1]
    x = SplitTimeFromBatch(groups, name="split_groups")(x)  # [B, G, H / 2, W / 2, c1]
    x = _fold_time_into_channels(x, "concat_towers")  # [B, H / 2, W / 2, G * c1]
    x = _vgg_m_conv2_to_pool5(x, settings.width, "")
    return _dense_head(layers.Flatten(name="flatten")(x), mask, settings)


def _multi_resolution(frames, mask, settings: _Settings):
    """Context stream (whole image at half resolution) + fovea stream (centre half, full res).

    Both take the frames stacked as T channels and have their own VGG-M-like weights; their
    flattened pool5 features are concatenated.
    """
    x = _fold_time_into_channels(frames, "stack_frames")  # [B, H, W, T]
    context = layers.AveragePooling2D(2, padding="same", name="front_context_downsample")(x)
    fovea = layers.Cropping2D(settings.size // 4, name="front_fovea_crop")(x)
    streams = []
    for stream, image in (("context", context), ("fovea", fovea)):
        y = _vgg_m_conv1(image, settings.width, f"{FRONT_PREFIX}{stream}_")
        y = _vgg_m_conv2_to_pool5(y, settings.width, f"{stream}_")
        streams.append(layers.Flatten(name=f"{stream}_flatten")(y))
    return _dense_head(layers.Concatenate(name="concat_streams")(streams), mask, settings)


def _c3d(frames, mask, settings: _Settings):
    """A small C3D: 3x3x3 convs (w, 2w, 2 x 4w, 2 x 8w), 3D pooling, global average pool."""
    width = settings.width
    x = _conv3d_bn_relu(frames, width, 3, 1, "front_conv1")
    x = layers.MaxPooling3D((1, 2, 2), padding="same", name="front_pool1")(x)
    x = _conv3d_bn_relu(x, 2 * width, 3, 1, "conv2")
    x = layers.MaxPooling3D(2, padding="same", name="pool2")(x)
    for stage, filters in ((3, 4 * width), (4, 8 * width)):
        x = _conv3d_bn_relu(x, filters, 3, 1, f"conv{stage}a")
        x = _conv3d_bn_relu(x, filters, 3, 1, f"conv{stage}b")
        x = layers.MaxPooling3D(2, padding="same", name=f"pool{stage}")(x)
    return _dense_head(layers.GlobalAveragePooling3D(name="global_pool")(x), mask, settings)


# The ResNet-18 baselines.

def _resnet_front(frames, width: int):
    """Conv3D (5, 7, 7) / (1, 2, 2) + BN + ReLU + MaxPool3D (1, 3, 3) / (1, 2, 2), both
    computed frame by frame (trainer/frame_layers.py: the same layers, faster on CPUs).

    [B, T, H, W, 1] -> [B, T, H / 4, W / 4, width].
    """
    x = _conv3d_bn_relu(frames, width, (5, 7, 7), (1, 2, 2), "front_conv3d",
                        conv=FrameStackedConv3D)
    return FramewiseMaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="front_pool")(x)


def _basic_block(x, filters: int, strides: int, name: str):
    """ResNet BasicBlock: [N, H, W, C] -> [N, H / strides, W / strides, filters]."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False,
                                 kernel_initializer=_CONV_INIT, name=f"{name}_down_conv")(x)
        shortcut = _batch_norm(f"{name}_down_bn")(shortcut)
    y = _conv2d_bn_relu(x, filters, 3, strides, f"{name}_a")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=_CONV_INIT,
                      name=f"{name}_b_conv")(y)
    y = _batch_norm(f"{name}_b_bn")(y)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_relu")(y)


def _resnet18_per_frame(x, width: int):
    """ResNet-18 on every frame, globally pooled: [B, T, h, w, c] -> [B, T, 8 * width]."""
    steps = x.shape[1]
    x = MergeTimeIntoBatch(name="merge_time")(x)  # [B * T, h, w, c]
    for stage, blocks in enumerate(_RESNET18_BLOCKS):
        filters = width * 2**stage
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, strides, f"trunk_stage{stage + 1}_block{block + 1}")
    x = layers.GlobalAveragePooling2D(name="trunk_pool")(x)  # [B * T, 8 * width]
    return SplitTimeFromBatch(steps, name="split_time")(x)


def _with_mask_column(features, mask):
    """[B, T, C] -> [B, T, C + 1] with the mask as the last feature (unchanged without mask)."""
    if mask is None:
        return features
    column = layers.Reshape((mask.shape[1], 1), name="mask_column")(mask)
    return layers.Concatenate(name="concat_mask")([features, column])


def _time_mean(x, mask):
    """[B, T, C] -> [B, C]: mean over all frames, or over the frames inside the word."""
    if mask is None:
        return layers.GlobalAveragePooling1D(name="time_mean")(x)
    return MaskedTemporalMean(name="time_mean")([x, mask])


def _multi_branch_conv(x, filters: int, dilation: int, dropout: float, name: str):
    """Parallel dilated Conv1D (kernels 3, 5, 7) + BN + ReLU, concatenated, then dropout.

    [B, T, C] -> [B, T, 3 * filters].
    """
    branches = []
    for kernel in _TCN_KERNELS:
        y = layers.Conv1D(filters, kernel, padding="same", dilation_rate=dilation,
                          use_bias=False, kernel_initializer=_CONV_INIT,
                          name=f"{name}_k{kernel}_conv")(x)
        y = _batch_norm(f"{name}_k{kernel}_bn")(y)
        branches.append(layers.ReLU(name=f"{name}_k{kernel}_relu")(y))
    y = layers.Concatenate(name=f"{name}_concat")(branches)
    return layers.Dropout(dropout, name=f"{name}_dropout")(y)


def _ms_tcn_block(x, filters: int, dilation: int, dropout: float, name: str):
    """Residual block of two multi-branch convs: [B, T, C] -> [B, T, 3 * filters]."""
    y = _multi_branch_conv(x, filters, dilation, dropout, f"{name}_a")
    y = _multi_branch_conv(y, filters, dilation, dropout, f"{name}_b")
    shortcut = x
    if x.shape[-1] != y.shape[-1]:
        shortcut = layers.Conv1D(y.shape[-1], 1, use_bias=False, kernel_initializer=_CONV_INIT,
                                 name=f"{name}_down_conv")(x)
        shortcut = _batch_norm(f"{name}_down_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_relu")(y)


def _resnet_tcn(frames, mask, settings: _Settings):
    """ResNet-18 front end and trunk + multi-scale TCN (dilations 1, 2, 4, 8) + time mean."""
    x = _resnet18_per_frame(_resnet_front(frames, settings.width), settings.width)
    x = _with_mask_column(x, mask)  # [B, T, 8w (+ 1)]
    for level, dilation in enumerate(_TCN_DILATIONS):
        x = _ms_tcn_block(x, 4 * settings.width, dilation, settings.dropout,
                          f"tcn_block{level + 1}")
    x = _time_mean(x, mask)
    return layers.Dense(settings.num_classes, dtype="float32", name=LOGITS)(x)


def _resnet_bigru(frames, mask, settings: _Settings):
    """ResNet-18 front end and trunk + 2-layer bidirectional GRU (16w units) + time mean."""
    x = _resnet18_per_frame(_resnet_front(frames, settings.width), settings.width)
    x = _with_mask_column(x, mask)  # [B, T, 8w (+ 1)]
    for index in range(1, _GRU_LAYERS + 1):
        gru = layers.GRU(16 * settings.width, return_sequences=True, name=f"gru{index}")
        x = layers.Bidirectional(gru, name=f"bigru{index}")(x)
        x = layers.Dropout(settings.dropout, name=f"bigru{index}_dropout")(x)
    x = _time_mean(x, mask)
    return layers.Dense(settings.num_classes, dtype="float32", name=LOGITS)(x)


_BUILDERS: dict[str, Callable] = {
    "early_fusion_2d": _early_fusion_2d,
    "early_fusion_3d": _early_fusion_3d,
    "multi_tower": _multi_tower,
    "multi_resolution": _multi_resolution,
    "c3d": _c3d,
    "resnet_tcn": _resnet_tcn,
    "resnet_bigru": _resnet_bigru,
}
