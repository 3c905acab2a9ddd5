"""The trainer's tf.data input: TFRecords of word clips -> batches a model trains on.

Clips are parsed with the specs of `schemas.clip` (the one definition of a record) and
normalised with the train split's pixel statistics from the tf.Transform graph the
preprocess job wrote (`DATA/transform_fn`), so training, evaluation and the exported
model use the same numbers and the same vocabulary.

Per split, `make_dataset` builds:

  files (shuffled when training) -> interleave TFRecordDatasets (GZIP or uncompressed,
  by suffix) -> [cache | snapshot] -> shuffle (training) -> batch -> parse the batch
  (frames, mask, label only) -> crop (random / centre), flip, normalise, time mask
  -> prefetch

and yields `({"frames": float32 [B, T, c, c, 1], "boundary_mask": float32 [B, T]},
label int32 [B])` (training with mixup: soft labels, float32 [B, classes]). Parsing and augmentation run once per batch (one parse op; per-clip
offsets and flips drawn for the batch, windows cut by slices; normalisation and time
masks by broadcasting), not as a tf.data map per clip, and only frames, mask and label
are parsed (benchmarks/results/input_pipeline.json). Eval-time
preprocessing is `serving_features`, which the exported model calls too. Augmentation
draws from stateless random ops with a seed per batch. In deterministic mode every pass
over the data has its own order and seeds, all derived from config.seed, so two runs
give identical batches and a resumed run continues exactly; otherwise a random order
every pass and a random seed per batch.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import tensorflow as tf

from pipelines.preprocess.splits import SPLITS
from schemas.clip import (BOUNDARY_MASK, CROP_HEIGHT, CROP_WIDTH, FRAMES, LABEL,
                          feature_specs)
from schemas.layout import (CLIP_FILE_PATTERN, DATASET_INFO_FILE, TRANSFORM_DIR, split_clip_files,
                            tfrecord_compression)

_LOG = logging.getLogger(__name__)

_MAX_SEED = 2**31 - 1
DETERMINISTIC_PASSES = 100  # seeded passes built for an endless deterministic dataset


@dataclass(frozen=True)
class InputConfig:
    """How clips are read, augmented and batched."""

    batch_size: int = 32
    crop_size: int = 88            # random crop (train) / centre crop (eval) of the 96x96 patch
    frames: int = 0                # the centre `frames` of each clip's window, train and
                                   # serving alike (0: all); short words hold few frames
    time_jitter: int = 0           # train only: the kept frames shift by up to this many
                                   # frames either way, per clip
    speed: float = 0.0             # train only: the kept frames are read at a rate drawn
                                   # per clip from 1-speed..1+speed (nearest frame; 0: off)
    downscale: int = 1             # average-pool the crop by this factor (2: 88 -> 44 pixels)
    flip: bool = True              # random horizontal flip (train)
    max_time_mask: int = 5         # frames zeroed (after normalisation: 0 = the mean) in a
                                   # random span, train only
    mixup: float = 0.0             # train only: each clip blended with another of its batch
                                   # by a Beta(mixup, mixup) weight, labels alike (0: off)
    shuffle_buffer: int = 2048     # clips
    cycle_length: int = 4          # files read in parallel (interleave)
    deterministic: bool = False    # fixed order and seeded augmentation when True
    cache: bool = False            # keep the records read (inflated, not yet parsed) in memory
    snapshot: str = ""             # folder: tf.data snapshot of the records read, uncompressed
                                   # on disk (reused by later runs on the same data; "" = none)
    seed: int = 0

    def __post_init__(self):
        if self.batch_size < 1 or self.crop_size < 1:
            raise ValueError(f"input.batch_size and input.crop_size must be >= 1, got "
                             f"{self.batch_size!r}, {self.crop_size!r}")
        if self.max_time_mask < 0 or self.shuffle_buffer < 1 or self.cycle_length < 1:
            raise ValueError(f"input.max_time_mask must be >= 0 and shuffle_buffer, "
                             f"cycle_length >= 1, got {self.max_time_mask!r}, "
                             f"{self.shuffle_buffer!r}, {self.cycle_length!r}")
        if self.mixup < 0:
            raise ValueError(f"input.mixup must be >= 0 (0: off), got {self.mixup!r}")
        if self.frames < 0 or self.time_jitter < 0 or self.downscale < 1:
            raise ValueError(f"input.frames and input.time_jitter must be >= 0 and downscale "
                             f">= 1, got {self.frames!r}, {self.time_jitter!r}, "
                             f"{self.downscale!r}")
        if self.crop_size % self.downscale:
            raise ValueError(f"input.crop_size ({self.crop_size}) must be a multiple of "
                             f"input.downscale ({self.downscale})")
        if (self.time_jitter or self.speed) and not self.frames:
            raise ValueError("input.time_jitter and input.speed move the kept frames: set "
                             "input.frames too")
        if not 0.0 <= self.speed < 0.5:
            raise ValueError(f"input.speed must be in [0, 0.5) (0: off), got {self.speed!r}")
        if self.cache and self.snapshot:
            raise ValueError("input.cache and input.snapshot both keep the records read: "
                             "choose one (cache: memory, snapshot: disk)")
        if not 0 <= self.seed <= _MAX_SEED:
            raise ValueError(f"input.seed must be in [0, {_MAX_SEED}], got {self.seed!r}")

    @property
    def model_size(self) -> int:
        """Side in pixels of the frames the model sees: the crop after downscaling."""
        return self.crop_size // self.downscale

    def model_frames(self, window_length: int) -> int:
        """Frames per clip the model sees, for clips of `window_length` frames."""
        if self.frames > window_length:
            raise ValueError(f"input.frames is {self.frames}, but the clips hold "
                             f"{window_length} frames: set input.frames to at most "
                             f"{window_length} (0 keeps all)")
        if self.frames and (window_length - self.frames) // 2 < self.time_jitter:
            raise ValueError(f"input.time_jitter {self.time_jitter} shifts the {self.frames} "
                             f"kept frames out of the {window_length}-frame window")
        return self.frames or window_length


@dataclass(frozen=True)
class DatasetStats:
    """What the tf.Transform analysis of the train split learnt: pixel statistics and words."""

    mean: float                   # pixel mean, grey levels 0..255
    std: float                    # pixel standard deviation, grey levels
    vocabulary: tuple[str, ...]   # words in label order (label i = vocabulary[i])


def load_stats(data_dir: str) -> DatasetStats:
    """Pixel mean/std and vocabulary from DATA/transform_fn (the tf.Transform graph)."""
    import tensorflow_transform as tft

    from schemas.transform import VOCABULARY_NAME, pixel_statistics

    transform_dir = os.path.join(data_dir, TRANSFORM_DIR)
    if not tf.io.gfile.isdir(transform_dir):
        raise ValueError(f"no tf.Transform output at {transform_dir!r}: give --data the folder "
                         "`lipflow preprocess` wrote (it holds transform_fn/)")
    output = tft.TFTransformOutput(transform_dir)
    words = output.vocabulary_by_name(VOCABULARY_NAME)
    vocabulary = tuple(w.decode("utf-8") if isinstance(w, bytes) else w for w in words)
    mean, std = pixel_statistics(output)
    if not vocabulary:
        raise ValueError(f"the vocabulary in {transform_dir!r} is empty: the train split had no "
                         "clips; preprocess more data")
    if not std > 0:
        raise ValueError(f"pixel std in {transform_dir!r} is {std!r}; the train split's pixels "
                         "do not vary, so they cannot be normalised")
    return DatasetStats(mean=mean, std=std, vocabulary=vocabulary)


def split_files(data_dir: str, split: str) -> list[str]:
    """Sorted paths of DATA/<split>/clips-*.tfrecord[.gz]; ValueError if there are none."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    card_path = os.path.join(data_dir, DATASET_INFO_FILE)
    card = None
    if tf.io.gfile.exists(card_path):
        with tf.io.gfile.GFile(card_path) as handle:
            card = json.load(handle)
    return split_clip_files(card, split, data_dir,
                            os.path.join(data_dir, split, CLIP_FILE_PATTERN), tf.io.gfile.glob,
                            tf.io.gfile.exists)


def normalise(frames_uint8: tf.Tensor, mean: float, std: float) -> tf.Tensor:
    """(frames - mean) / std as float32; frames uint8 [..., H, W], grey levels."""
    return (tf.cast(frames_uint8, tf.float32) - mean) / std


def centre_crop(frames: tf.Tensor, size: int) -> tf.Tensor:
    """The centre size x size of each frame: [..., T, H, W] -> [..., T, size, size].

    With an odd margin the extra row/column is dropped at the bottom/right.
    """
    height, width = tf.shape(frames)[-2], tf.shape(frames)[-1]
    tf.debugging.assert_greater_equal(
        tf.minimum(height, width), size, message=f"frames are smaller than the crop ({size})")
    top, left = (height - size) // 2, (width - size) // 2
    return frames[..., top:top + size, left:left + size]


def centre_frames(sequence: tf.Tensor, count: int) -> tf.Tensor:
    """The centre `count` steps of axis 1 ([B, T, ...] -> [B, count, ...]; 0: all).

    With an odd margin the extra step is dropped at the end, so in a word-centred window
    of odd length an odd count keeps the centre frame in the centre.
    """
    if not count:
        return sequence
    steps = tf.shape(sequence)[1]
    tf.debugging.assert_greater_equal(steps, count,
                                      message=f"clips are shorter than input.frames ({count})")
    start = (steps - count) // 2
    return sequence[:, start:start + count]


def jittered_frames(sequences: list[tf.Tensor], count: int, jitter: int,
                    seed: tf.Tensor, speed: float = 0.0) -> list[tf.Tensor]:
    """`centre_frames`, shifted per clip by a draw from -jitter..jitter and, with `speed`,
    read at a rate drawn from 1-speed..1+speed about the kept frames' centre (the nearest
    frame; past the window's ends its edge frame). One draw per clip serves every tensor of
    the list, so frames and their mask stay aligned and a slowed word's mask grows with it."""
    if not jitter and not speed:
        return [centre_frames(sequence, count) for sequence in sequences]
    batch, steps = tf.shape(sequences[0])[0], tf.shape(sequences[0])[1]
    shifts = (_offsets(batch, tf.constant(2 * jitter), seed) - jitter if jitter
              else tf.zeros([batch], tf.int32))
    starts = ((steps - count) // 2 + shifts)[:, tf.newaxis]
    indices = starts + tf.range(count)[tf.newaxis, :]
    if speed:
        # A seed of its own, folded in, leaves the shifts as they were without `speed`.
        rate_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        rates = tf.random.stateless_uniform([batch, 1], rate_seed, 1.0 - speed, 1.0 + speed)
        centre = tf.cast(starts, tf.float32) + (count - 1) / 2.0
        read = centre + (tf.cast(indices, tf.float32) - centre) * rates
        indices = tf.clip_by_value(tf.cast(tf.round(read), tf.int32), 0, steps - 1)
    return [tf.gather(sequence, indices, axis=1, batch_dims=1) for sequence in sequences]


def downscale(frames: tf.Tensor, factor: int) -> tf.Tensor:
    """Average pooling of each frame by `factor`: float [B, T, H, W] -> [B, T, H/f, W/f]."""
    if factor == 1:
        return frames
    shape = tf.shape(frames)
    images = tf.reshape(frames, tf.concat([[-1], shape[2:], [1]], axis=0))
    pooled = tf.nn.avg_pool2d(images, factor, factor, "VALID")
    return tf.reshape(pooled, tf.concat([shape[:2], tf.shape(pooled)[1:3]], axis=0))


def serving_features(frames_uint8: tf.Tensor, boundary_mask: tf.Tensor, stats: DatasetStats,
                     crop_size: int, frames: int = 0, factor: int = 1) -> dict:
    """Eval-time preprocessing, shared by evaluation and the exported model.

    frames_uint8 [B, T, H, W], boundary_mask [B, T] (any numeric dtype) ->
    {"frames": float32 [B, t, c, c, 1] (centre `frames` of T (0: all), centre crop,
    normalised, downscaled by `factor`), "boundary_mask": float32 [B, t]}.
    """
    kept = centre_frames(frames_uint8, frames)
    pixels = downscale(normalise(centre_crop(kept, crop_size), stats.mean, stats.std), factor)
    return {FRAMES: pixels[..., tf.newaxis],
            BOUNDARY_MASK: tf.cast(centre_frames(boundary_mask, frames), tf.float32)}


_CONTEXT_KEYS = (LABEL, CROP_HEIGHT, CROP_WIDTH)   # what training reads of a record
_SEQUENCE_KEYS = (FRAMES, BOUNDARY_MASK)


def parse_clip_batch(serialized: tf.Tensor) -> dict:
    """What training needs of a batch of records, parsed in one vectorised op.

    serialized string [B] (clips of one length T and crop H x W, as one preprocess run
    writes them) -> {frames uint8 [B, T, H, W], boundary_mask int64 [B, T], label int64 [B]}.
    Only these features are parsed; the specs come from `schemas.clip.feature_specs`.
    """
    context_spec, sequence_spec = feature_specs()
    context, sequence, lengths = tf.io.parse_sequence_example(
        serialized, context_features={k: context_spec[k] for k in _CONTEXT_KEYS},
        sequence_features={k: sequence_spec[k] for k in _SEQUENCE_KEYS})
    tf.debugging.assert_equal(
        lengths[FRAMES], tf.reduce_max(lengths[FRAMES]),
        message="clips of different lengths in one batch: the data mixes window lengths")
    # decode_raw fails on frames of different sizes, so one crop size holds for the batch.
    frames = tf.io.decode_raw(sequence[FRAMES], tf.uint8)
    shape = tf.concat([tf.shape(frames)[:2], tf.cast(tf.stack(
        [context[CROP_HEIGHT][0], context[CROP_WIDTH][0]]), tf.int32)], axis=0)
    return {FRAMES: tf.reshape(frames, shape), BOUNDARY_MASK: sequence[BOUNDARY_MASK],
            LABEL: context[LABEL]}


def _offsets(count: tf.Tensor, limit: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """int32 [count] drawn uniformly from 0..limit (inclusive; limit int32 scalar or [count])."""
    draw = tf.random.stateless_uniform([count], seed)
    offsets = tf.cast(tf.floor(draw * tf.cast(limit + 1, tf.float32)), tf.int32)
    return tf.minimum(offsets, limit)  # float rounding must not reach limit + 1


def random_crop_and_flip(frames: tf.Tensor, size: int, flip: bool,
                         seed: tf.Tensor) -> tf.Tensor:
    """Per clip one random size x size window of all its frames, mirrored left-right with
    probability 1/2 when `flip`: uint8 [B, T, H, W] -> [B, T, size, size].

    The offsets and flips are drawn for the whole batch at once; the windows are cut by
    slices in one `tf.map_fn` over the clips, which copy whole rows: a gather with per-clip
    column indices copies byte by byte and was 8x slower on one core.
    """
    top_seed, left_seed, flip_seed = tf.unstack(tf.random.split(seed, 3))
    batch, height, width = tf.shape(frames)[0], tf.shape(frames)[2], tf.shape(frames)[3]
    tf.debugging.assert_greater_equal(
        tf.minimum(height, width), size, message=f"frames are smaller than the crop ({size})")
    tops = _offsets(batch, height - size, top_seed)
    lefts = _offsets(batch, width - size, left_seed)
    mirrored = (tf.random.stateless_uniform([batch], flip_seed) < 0.5 if flip
                else tf.zeros([batch], tf.bool))

    def window(clip):
        clip_frames, top, left, mirror = clip
        cut = clip_frames[:, top:top + size, left:left + size]
        return tf.cond(mirror, lambda: tf.reverse(cut, axis=[-1]), lambda: cut)

    return tf.map_fn(window, (frames, tops, lefts, mirrored),
                     fn_output_signature=tf.TensorSpec([None, size, size], frames.dtype))


def time_mask(batch: tf.Tensor, count: tf.Tensor, max_frames: int,
              seed: tf.Tensor) -> tf.Tensor:
    """float32 [batch, count]: 0 on one random span of 0..max_frames consecutive frames per
    clip (span length and start uniform), 1 elsewhere."""
    length_seed, start_seed = tf.unstack(tf.random.split(seed, 2))
    span = tf.minimum(count, _offsets(batch, tf.constant(max_frames), length_seed))
    start = _offsets(batch, count - span, start_seed)
    positions = tf.range(count)[tf.newaxis, :]
    keep = tf.logical_or(positions < start[:, tf.newaxis],
                         positions >= (start + span)[:, tf.newaxis])
    return tf.cast(keep, tf.float32)


def mix_clips(features: dict, labels: tf.Tensor, classes: int, alpha: float,
              seed: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """Mixup within a batch: clip i becomes w_i * clip i + (1 - w_i) * clip B-1-i, frames
    and boundary mask alike, with w_i ~ Beta(alpha, alpha), and its label the same blend of
    the two one-hot labels: (features, int labels [B]) -> (features, float32 [B, classes]).

    The partner is the batch reversed: batches are drawn shuffled, so that pairs clips at
    random without a gather."""
    first_seed, second_seed = tf.unstack(tf.random.split(seed, 2))
    batch = tf.shape(labels)[0:1]
    first = tf.random.stateless_gamma(batch, first_seed, alpha=alpha)
    second = tf.random.stateless_gamma(batch, second_seed, alpha=alpha)
    weight = first / tf.maximum(first + second, 1e-12)

    def blend(values):
        shape = tf.concat([batch, tf.ones([tf.rank(values) - 1], tf.int32)], axis=0)
        own = tf.reshape(weight, shape)
        return own * values + (1.0 - own) * tf.reverse(values, axis=[0])

    mixed = {name: blend(value) for name, value in features.items()}
    return mixed, blend(tf.one_hot(labels, classes))


def _augment_fn(config: InputConfig, stats: DatasetStats):
    """(records string [B], seed int64 [2]) -> (features, label) of the batch: parse, keep
    the centre frames (jittered), random crop, flip, normalise, time mask (masked frames
    become 0, the mean), downscale, and with `config.mixup` blend clip pairs (labels then
    float32 [B, classes])."""

    def augment(serialized: tf.Tensor, seed: tf.Tensor):
        clips = parse_clip_batch(serialized)
        crop_seed, mask_seed, shift_seed = tf.unstack(tf.random.split(seed, 3))
        if config.frames:
            clips[FRAMES], clips[BOUNDARY_MASK] = jittered_frames(
                [clips[FRAMES], clips[BOUNDARY_MASK]], config.frames, config.time_jitter,
                shift_seed, config.speed)
        frames = random_crop_and_flip(clips[FRAMES], config.crop_size, config.flip, crop_seed)
        batch, count = tf.shape(frames)[0], tf.shape(frames)[1]
        scale = tf.fill([batch, count], 1.0 / stats.std)
        if config.max_time_mask > 0:
            scale *= time_mask(batch, count, config.max_time_mask, mask_seed)
        # One multiply normalises and masks: a pass less over the float frames.
        frames = (tf.cast(frames, tf.float32) - stats.mean) * scale[:, :, tf.newaxis, tf.newaxis]
        features, labels = _model_inputs(downscale(frames, config.downscale), clips,
                                         config.model_size)
        if not config.mixup:
            return features, labels
        # A seed of its own, folded in, leaves the other augmentations' draws as they were.
        mix_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        return mix_clips(features, labels, len(stats.vocabulary), config.mixup, mix_seed)

    return augment


def _eval_fn(config: InputConfig, stats: DatasetStats):
    """records string [B] -> (features, label): `serving_features`, as the export does."""

    def preprocess(serialized: tf.Tensor):
        clips = parse_clip_batch(serialized)
        features = serving_features(clips[FRAMES], clips[BOUNDARY_MASK], stats,
                                    config.crop_size, config.frames, config.downscale)
        features[FRAMES] = tf.ensure_shape(
            features[FRAMES], [None, None, config.model_size, config.model_size, 1])
        return features, tf.cast(clips[LABEL], tf.int32)

    return preprocess


def _model_inputs(frames: tf.Tensor, clips: dict, crop_size: int):
    frames = tf.ensure_shape(frames, [None, None, crop_size, crop_size])
    features = {FRAMES: frames[..., tf.newaxis],
                BOUNDARY_MASK: tf.cast(clips[BOUNDARY_MASK], tf.float32)}
    return features, tf.cast(clips[LABEL], tf.int32)


def split_compression(files: list[str]) -> str:
    """tf.data's compression_type shared by a split's files ("GZIP" or ""); ValueError if
    they mix the two."""
    kinds = {tfrecord_compression(f) for f in files}
    if len(kinds) != 1:
        raise ValueError(f"the clip files mix GZIP and uncompressed TFRecords: {files!r}; "
                         "a split must come from one preprocess run")
    return kinds.pop()


def _read_records(files: list[str], config: InputConfig, shuffle_files: bool) -> tf.data.Dataset:
    """Serialised clips (string scalars) from the TFRecord files, GZIP or uncompressed."""
    compression = split_compression(files)
    names = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        names = names.shuffle(len(files), reshuffle_each_iteration=True)
    return names.interleave(
        lambda name: tf.data.TFRecordDataset(name, compression_type=compression),
        cycle_length=config.cycle_length, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=config.deterministic)


def _random_seeds(batches: tf.data.Dataset) -> tf.data.Dataset:
    """(batch, seed int64 [2]) with a fresh random seed per batch."""
    seeds = tf.data.Dataset.random(rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip(batches, seeds)


def _shuffled_batches(records: tf.data.Dataset, config: InputConfig, stats: DatasetStats,
                      repeat: bool) -> tf.data.Dataset:
    """Training batches: clips shuffled afresh every pass, random augmentation."""
    records = records.shuffle(config.shuffle_buffer, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()
    batches = records.batch(config.batch_size, drop_remainder=True)
    return _random_seeds(batches).map(_augment_fn(config, stats),
                                      num_parallel_calls=tf.data.AUTOTUNE)


def _seeded_passes(records: tf.data.Dataset, config: InputConfig, stats: DatasetStats,
                   first_pass: int, passes: int) -> tf.data.Dataset:
    """Deterministic training batches: pass p over the data has its own order, seeded by
    (config.seed, p), and batch j of it the augmentation seed (config.seed, p * 2^32 + j).

    Each pass is batched on its own (the short tail dropped), so a pass is a whole number
    of batches and a run restarted at pass p (`first_pass`) sees exactly what the
    uninterrupted run saw from there on. The passes are built one by one with Python
    seeds: a tensor seed for `shuffle` breaks once a global seed is set (as training does).
    """
    augment = _augment_fn(config, stats)

    def one_pass(index: int) -> tf.data.Dataset:
        order = records.shuffle(config.shuffle_buffer, seed=config.seed * 1_000_003 + index,
                                reshuffle_each_iteration=False)
        base = tf.constant(index * 2**32, tf.int64)
        seeded = order.batch(config.batch_size, drop_remainder=True).enumerate().map(
            lambda j, batch: (batch, tf.stack([tf.constant(config.seed, tf.int64), base + j])))
        return seeded.map(augment, num_parallel_calls=tf.data.AUTOTUNE)

    batches = one_pass(first_pass)
    for index in range(first_pass + 1, first_pass + passes):
        batches = batches.concatenate(one_pass(index))
    return batches


def make_dataset(data_dir: str, split: str | tuple[str, ...], config: InputConfig,
                 stats: DatasetStats, training: bool, repeat: bool = False, first_pass: int = 0,
                 passes: int = DETERMINISTIC_PASSES) -> tf.data.Dataset:
    """Batches ({"frames": float32 [B, T, c, c, 1], "boundary_mask": float32 [B, T]}, int32 [B])
    of one split, or of several read together (a final fit's train + val).

    training: shuffled files and clips, random crop/flip/time mask (and mixup: labels then
    float32 [B, classes]), only full batches.
    Otherwise: no shuffling, centre crop, the last batch may be short. Clip order is fixed
    only in deterministic mode (files interleaved round-robin, cycle_length at a time);
    otherwise parallel reads may reorder clips. repeat: endless. first_pass, passes: in
    deterministic training, the pass over the data to start at (a resumed run's epoch) and
    how many distinct seeded passes to build (with repeat, they then cycle).
    """
    splits = (split,) if isinstance(split, str) else tuple(split)
    files = [name for one in splits for name in split_files(data_dir, one)]
    records = _read_records(files, config, shuffle_files=training and not config.deterministic)
    if config.cache:
        records = records.cache()
    elif config.snapshot:
        # Uncompressed: the snappy codec ("AUTO") fails on elements over 256 KiB, and one
        # 29-frame 96x96 clip is 267 KB.
        records = records.snapshot(os.path.join(config.snapshot, "+".join(splits)),
                                   compression=None)
    if training and config.deterministic:
        batches = _seeded_passes(records, config, stats, first_pass, passes if repeat else 1)
        batches = batches.repeat() if repeat else batches
    elif training:
        batches = _shuffled_batches(records, config, stats, repeat)
    else:
        records = records.repeat() if repeat else records
        batches = (records.batch(config.batch_size)
                   .map(_eval_fn(config, stats), num_parallel_calls=tf.data.AUTOTUNE))
    options = tf.data.Options()
    options.deterministic = config.deterministic
    # A finite dataset (validation) gets a new iterator every epoch, and dropping the old
    # one waits for its autotuning thread to wake, seconds an epoch (28.9 s over 8 short grid
    # epochs against 0.04 s untuned: benchmarks/validation_wait.py). An endless one keeps one
    # iterator.
    options.autotune.enabled = repeat
    _LOG.debug("%s input: %d files, training=%s, %s", split, len(files), training, config)
    return batches.prefetch(tf.data.AUTOTUNE).with_options(options)
