"""The trainer's tf.data input on real TFRecords written by `lipflow preprocess`.

A module fixture runs the real command on two sample GRID videos (every clip in train),
then the trainer's own `make_dataset` reads them back. Expectations come from numpy on
the records as `schemas.clip.parse_clip` returns them, and from the run's dataset card.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from schemas.clip import parse_clip
from tests import media
from trainer.input import (DatasetStats, InputConfig, centre_crop, centre_frames, downscale,
                           jittered_frames, load_stats, make_dataset, mix_clips, normalise,
                           parse_clip_batch, random_crop_and_flip, serving_features,
                           split_files, time_mask)

CLIPS = ("bbaf3s", "lgiz3s")
WINDOW = 29
SOURCE = 96
CROP = 88
MARGIN = SOURCE - CROP
BATCH = 4
# Eval in file order: one file open at a time, deterministic.
IN_ORDER = InputConfig(batch_size=BATCH, cycle_length=1, deterministic=True)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("trainer_input")
    source = root / "in"
    for folder in ("video", "align"):
        (source / folder).mkdir(parents=True)
    for clip in CLIPS:
        shutil.copyfile(media.sample_video(clip), source / "video" / f"{clip}.mpg")
        shutil.copyfile(media.sample_align(clip), source / "align" / f"{clip}.align")
    output = root / "data"
    result = subprocess.run(
        [sys.executable, "-m", "lipflow", "preprocess", "--input", str(source),
         "--output", str(output), "--train_fraction", "1.0", "--val_fraction", "0.0",
         "--direct_running_mode", "in_memory"],
        capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return str(output)


@pytest.fixture(scope="module")
def stats(data_dir) -> DatasetStats:
    return load_stats(data_dir)


@pytest.fixture(scope="module")
def records(data_dir) -> list[dict]:
    """The train records in file order, as numpy dicts through the schema's parser."""
    files = split_files(data_dir, "train")
    parsed = tf.data.TFRecordDataset(files, compression_type="GZIP").map(parse_clip)
    return [{k: v.numpy() for k, v in clip.items()} for clip in parsed]


def _unbatched(dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames [N, T, c, c, 1], masks [N, T], labels [N]) of a batched dataset."""
    frames, masks, labels = [], [], []
    for features, label in dataset:
        frames.append(features["frames"].numpy())
        masks.append(features["boundary_mask"].numpy())
        labels.append(label.numpy())
    return np.concatenate(frames), np.concatenate(masks), np.concatenate(labels)


def _expected_eval(record: dict, stats: DatasetStats) -> np.ndarray:
    """float32 [T, 88, 88]: the normalised centre 88x88 of the 96x96 frames, by numpy."""
    centre = record["frames"][:, MARGIN // 2:MARGIN // 2 + CROP, MARGIN // 2:MARGIN // 2 + CROP]
    return (centre.astype(np.float32) - np.float32(stats.mean)) / np.float32(stats.std)


# ---------------------------------------------------------------------------------------
# pure functions, hand-computed


def test_centre_crop_takes_the_middle_of_the_last_two_axes():
    frames = tf.reshape(tf.range(2 * 3 * 6 * 6), [2, 3, 6, 6])
    cropped = centre_crop(frames, 4).numpy()
    assert cropped.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(cropped, frames.numpy()[:, :, 1:5, 1:5])
    odd = centre_crop(tf.reshape(tf.range(25), [1, 5, 5]), 2).numpy()
    np.testing.assert_array_equal(odd[0], [[6, 7], [11, 12]])  # margin 3: 1 before, 2 after


def test_normalise_is_mean_and_std_in_float32():
    out = normalise(tf.constant([[0, 100], [150, 255]], tf.uint8), 100.0, 50.0)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), [[-2.0, 0.0], [1.0, 3.1]], rtol=1e-6)


def test_serving_features_shapes_and_values():
    stats = DatasetStats(mean=128.0, std=64.0, vocabulary=("a",))
    frames = tf.fill([2, 3, SOURCE, SOURCE], tf.constant(192, tf.uint8))
    features = serving_features(frames, tf.ones([2, 3], tf.int64), stats, CROP)
    assert features["frames"].shape == (2, 3, CROP, CROP, 1)
    assert features["frames"].dtype == tf.float32
    assert features["boundary_mask"].dtype == tf.float32
    np.testing.assert_array_equal(features["frames"].numpy(), 1.0)


def test_centre_frames_keeps_the_middle_steps_and_the_centre_frame():
    sequence = tf.reshape(tf.range(2 * 29), [2, 29])
    kept = centre_frames(sequence, 15).numpy()
    np.testing.assert_array_equal(kept, sequence.numpy()[:, 7:22])
    assert kept[0, 7] == 14  # frame 14, the centre of 29, stays the centre of 15
    np.testing.assert_array_equal(centre_frames(sequence, 0).numpy(), sequence.numpy())
    even = centre_frames(tf.reshape(tf.range(6), [1, 6]), 3).numpy()
    np.testing.assert_array_equal(even, [[1, 2, 3]])  # margin 3: 1 before, 2 after


def test_jittered_frames_shift_frames_and_mask_together_within_the_jitter():
    frames = tf.reshape(tf.range(64 * 29), [64, 29])
    mask = frames * 10
    kept_frames, kept_mask = jittered_frames([frames, mask], 15, 3, tf.constant([1, 2],
                                                                              tf.int64))
    starts = kept_frames.numpy()[:, 0] - np.arange(64) * 29
    assert set(starts) <= set(range(4, 11)) and len(set(starts)) > 3  # 7 +- 3, several drawn
    for row, start in enumerate(starts):
        np.testing.assert_array_equal(kept_frames.numpy()[row],
                                      np.arange(start, start + 15) + row * 29)
    np.testing.assert_array_equal(kept_mask.numpy(), kept_frames.numpy() * 10)
    unshifted, = jittered_frames([frames], 15, 0, tf.constant([1, 2], tf.int64))
    np.testing.assert_array_equal(unshifted.numpy(), frames.numpy()[:, 7:22])


def test_speed_reads_frames_and_mask_at_one_rate_per_clip_about_the_centre():
    frames = tf.tile(tf.range(29)[tf.newaxis, :], [64, 1])
    mask = tf.cast((frames >= 12) & (frames <= 16), tf.int32)  # a 5-frame word at the centre
    kept, kept_mask = jittered_frames([frames, mask], 15, 0, tf.constant([3, 4], tf.int64),
                                      speed=0.3)
    kept, kept_mask = kept.numpy(), kept_mask.numpy()
    np.testing.assert_array_equal(kept[:, 7], np.full(64, 14))  # the centre frame stays put
    spans = kept[:, -1] - kept[:, 0]  # 14 frames apart at rate 1
    assert spans.min() >= 14 * 0.7 - 1 and spans.max() <= 14 * 1.3 + 1
    assert spans.min() < 13 and spans.max() > 15  # slowed and sped-up clips both drawn
    assert (np.diff(kept, axis=1) >= 0).all()      # read in order
    np.testing.assert_array_equal(kept_mask, (kept >= 12) & (kept <= 16))  # mask moved along
    slowed = spans.argmin()
    assert kept_mask[slowed].sum() > 5             # a slowed word covers more frames
    unchanged, = jittered_frames([frames], 15, 0, tf.constant([3, 4], tf.int64), speed=0.0)
    np.testing.assert_array_equal(unchanged.numpy(), frames.numpy()[:, 7:22])


def test_speed_is_checked():
    with pytest.raises(ValueError, match="input.frames"):
        InputConfig(speed=0.1)
    with pytest.raises(ValueError, match="input.speed"):
        InputConfig(frames=15, speed=0.5)


def test_downscale_averages_blocks_of_pixels():
    frames = tf.constant(np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4))
    pooled = downscale(frames, 2).numpy()
    assert pooled.shape == (2, 3, 2, 2)
    expected = frames.numpy().reshape(2, 3, 2, 2, 2, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(pooled, expected)
    assert downscale(frames, 1) is frames


def test_serving_features_keep_the_centre_frames_and_downscale():
    stats = DatasetStats(mean=0.0, std=1.0, vocabulary=("a",))
    steps = np.arange(29, dtype=np.uint8)[None, :, None, None]
    frames = tf.constant(np.broadcast_to(steps, (1, 29, SOURCE, SOURCE)).copy())
    mask = tf.constant((np.arange(29) >= 12)[None].astype(np.int64))
    features = serving_features(frames, mask, stats, CROP, frames=15, factor=2)
    assert features["frames"].shape == (1, 15, CROP // 2, CROP // 2, 1)
    np.testing.assert_array_equal(features["frames"].numpy()[0, :, 0, 0, 0], np.arange(7, 22))
    np.testing.assert_array_equal(features["boundary_mask"].numpy()[0],
                                  (np.arange(7, 22) >= 12).astype(np.float32))


def test_split_files_names_the_missing_split(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match=r"no clips for split 'train': nothing matches .*clips-\*\.tfrecord"
                                         r"\*.*lipflow preprocess"):
        split_files(str(tmp_path), "train")
    with pytest.raises(ValueError, match="split must be one of"):
        split_files(str(tmp_path), "training")


def test_load_stats_without_a_transform_graph_says_what_to_give(tmp_path):
    with pytest.raises(ValueError, match="no tf.Transform output .*transform_fn"):
        load_stats(str(tmp_path))


def test_config_is_checked():
    with pytest.raises(ValueError, match="batch_size"):
        InputConfig(batch_size=0)
    with pytest.raises(ValueError, match="max_time_mask"):
        InputConfig(max_time_mask=-1)
    with pytest.raises(ValueError, match="input.mixup must be >= 0"):
        InputConfig(mixup=-0.2)
    with pytest.raises(ValueError, match="multiple of input.downscale"):
        InputConfig(crop_size=88, downscale=3)
    with pytest.raises(ValueError, match="set input.frames too"):
        InputConfig(time_jitter=2)
    with pytest.raises(ValueError, match="at most 29"):
        InputConfig(frames=31).model_frames(29)
    with pytest.raises(ValueError, match="out of the 29-frame window"):
        InputConfig(frames=27, time_jitter=2).model_frames(29)
    assert InputConfig(frames=15, time_jitter=7).model_frames(29) == 15
    assert InputConfig().model_frames(29) == 29
    assert InputConfig(crop_size=88, downscale=2).model_size == 44


# ---------------------------------------------------------------------------------------
# real TFRecords written by the preprocess command


@pytest.mark.slow
def test_load_stats_reads_the_transform_graph(data_dir, stats, records):
    with open(os.path.join(data_dir, "dataset_info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    assert stats.vocabulary == tuple(info["vocabulary"])
    assert stats.mean == pytest.approx(info["pixel_mean"])
    assert stats.std == pytest.approx(info["pixel_std"])
    pixels = np.stack([r["frames"] for r in records]).astype(np.float64)
    assert stats.mean == pytest.approx(pixels.mean(), rel=1e-5)
    assert stats.std == pytest.approx(pixels.std(), rel=1e-4)
    assert [stats.vocabulary[r["label"]] for r in records] == [r["word"].decode()
                                                               for r in records]


@pytest.mark.slow
def test_round_trip_shapes_dtypes_and_labels(data_dir, stats, records):
    dataset = make_dataset(data_dir, "train", IN_ORDER, stats, training=False)
    batches = list(dataset)
    features, label = batches[0]
    assert features["frames"].shape == (BATCH, WINDOW, CROP, CROP, 1)
    assert features["frames"].dtype == tf.float32
    assert features["boundary_mask"].shape == (BATCH, WINDOW)
    assert features["boundary_mask"].dtype == tf.float32
    assert label.shape == (BATCH,) and label.dtype == tf.int32
    frames, masks, labels = _unbatched(batches)
    assert len(labels) == len(records) == 12
    np.testing.assert_array_equal(labels, [r["label"] for r in records])
    np.testing.assert_array_equal(masks, [r["boundary_mask"] for r in records])
    assert sum(len(b[1]) for b in batches) == len(records)  # eval keeps the short last batch


@pytest.mark.slow
def test_parallel_reading_keeps_every_clip(data_dir, stats, records):
    dataset = make_dataset(data_dir, "train", InputConfig(batch_size=BATCH), stats,
                           training=False)
    _, _, labels = _unbatched(dataset)
    assert sorted(labels) == sorted(r["label"] for r in records)


@pytest.mark.slow
def test_eval_gives_the_normalised_centre_crop_exactly(data_dir, stats, records):
    frames, _, _ = _unbatched(make_dataset(data_dir, "train", IN_ORDER, stats, training=False))
    for got, record in zip(frames, records):
        np.testing.assert_allclose(got[..., 0], _expected_eval(record, stats), rtol=0, atol=1e-5)
    served = serving_features(tf.constant(records[0]["frames"][None]),
                              tf.constant(records[0]["boundary_mask"][None]), stats, CROP)
    np.testing.assert_allclose(served["frames"].numpy()[0], frames[0], rtol=0, atol=1e-6)


def test_eval_with_centre_frames_and_downscale_matches_numpy(data_dir, stats, records):
    config = dataclasses.replace(IN_ORDER, frames=15, downscale=2)
    frames, masks, _ = _unbatched(make_dataset(data_dir, "train", config, stats,
                                               training=False))
    assert frames.shape[1:] == (15, CROP // 2, CROP // 2, 1)
    for got, mask, record in zip(frames, masks, records):
        expected = _expected_eval(record, stats)[7:22]
        pooled = expected.reshape(15, CROP // 2, 2, CROP // 2, 2).mean(axis=(2, 4))
        np.testing.assert_allclose(got[..., 0], pooled, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(mask, record["boundary_mask"][7:22])


def test_training_keeps_jittered_frames_with_their_mask(data_dir, stats, records):
    config = dataclasses.replace(IN_ORDER, shuffle_buffer=1, frames=15, time_jitter=3,
                                 flip=False, max_time_mask=0, crop_size=SOURCE)
    frames, masks, _ = _unbatched(make_dataset(data_dir, "train", config, stats,
                                               training=True))
    starts = []
    for got, mask, record in zip(frames, masks, records):
        normalised = (record["frames"].astype(np.float32) - np.float32(stats.mean)) / np.float32(
            stats.std)
        start = [s for s in range(4, 11)
                 if np.allclose(got[..., 0], normalised[s:s + 15], rtol=0, atol=1e-5)]
        assert len(start) >= 1, "the kept frames are not a shifted window of the clip"
        np.testing.assert_array_equal(mask, record["boundary_mask"][start[0]:start[0] + 15])
        starts.append(start[0])
    assert len(set(starts)) > 1  # the shift is drawn per clip


def _crop_or_mirror(got: np.ndarray, record: dict, stats: DatasetStats) -> bool:
    """Whether got [T, 88, 88] is a normalised 88x88 window (or its mirror) of the record,
    with at most 5 consecutive frames zeroed."""
    normalised = (record["frames"].astype(np.float32) - np.float32(stats.mean)) / np.float32(
        stats.std)
    zeroed = np.flatnonzero(np.all(got == 0.0, axis=(1, 2)))
    if len(zeroed) > 5 or (len(zeroed) and zeroed[-1] - zeroed[0] != len(zeroed) - 1):
        return False
    kept = np.setdiff1d(np.arange(len(got)), zeroed)
    for top in range(MARGIN + 1):
        for left in range(MARGIN + 1):
            window = normalised[:, top:top + CROP, left:left + CROP]
            for candidate in (window, window[..., ::-1]):
                if (np.allclose(got[kept[0]], candidate[kept[0]], rtol=0, atol=1e-5)
                        and np.allclose(got[kept], candidate[kept], rtol=0, atol=1e-5)):
                    return True
    return False


@pytest.mark.slow
def test_training_augments_within_the_crop_flip_and_mask(data_dir, stats, records):
    # shuffle_buffer=1 keeps file order, so each output pairs with its record.
    config = dataclasses.replace(IN_ORDER, shuffle_buffer=1)
    frames, masks, labels = _unbatched(make_dataset(data_dir, "train", config, stats,
                                                    training=True))
    assert frames.shape == (12, WINDOW, CROP, CROP, 1) and frames.dtype == np.float32
    assert np.all(np.isfinite(frames))
    np.testing.assert_array_equal(labels, [r["label"] for r in records])
    np.testing.assert_array_equal(masks, [r["boundary_mask"] for r in records])
    eval_frames, _, _ = _unbatched(make_dataset(data_dir, "train", IN_ORDER, stats,
                                                training=False))
    differs = [not np.array_equal(a, b) for a, b in zip(frames, eval_frames)]
    assert sum(differs) >= len(differs) - 1
    for got, record in zip(frames, records):
        assert _crop_or_mirror(got[..., 0], record, stats)


def _blend_weights(labels: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Each clip's own weight, read off its soft label (its partner is the batch reversed)."""
    partner = labels[::-1]
    assert np.all(labels != partner), "every clip needs a partner of another word"
    return soft[np.arange(len(labels)), labels]


def test_mix_clips_blends_each_clip_with_its_partner_by_the_weight_of_its_label():
    labels = np.array([0, 3, 1, 2, 4, 5], np.int32)
    frames = np.random.default_rng(0).normal(size=(6, 5, 4, 4, 1)).astype(np.float32)
    masks = np.random.default_rng(1).integers(0, 2, size=(6, 5)).astype(np.float32)
    features, soft = mix_clips({"frames": tf.constant(frames), "boundary_mask": tf.constant(masks)},
                               tf.constant(labels), 7, 0.4, tf.constant([5, 9], tf.int64))
    soft = soft.numpy()
    assert soft.shape == (6, 7) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    weight = _blend_weights(labels, soft)
    np.testing.assert_allclose(soft[np.arange(6), labels[::-1]], 1.0 - weight, rtol=1e-5)
    assert np.all((weight > 0) & (weight < 1)) and np.ptp(weight) > 0.05  # drawn per clip
    expected = (weight[:, None, None, None, None] * frames
                + (1 - weight)[:, None, None, None, None] * frames[::-1])
    np.testing.assert_allclose(features["frames"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features["boundary_mask"].numpy(),
                               weight[:, None] * masks + (1 - weight)[:, None] * masks[::-1],
                               rtol=1e-5, atol=1e-6)
    again = mix_clips({"frames": tf.constant(frames), "boundary_mask": tf.constant(masks)},
                      tf.constant(labels), 7, 0.4, tf.constant([5, 9], tf.int64))[1]
    np.testing.assert_array_equal(again.numpy(), soft)


@pytest.mark.slow
def test_training_with_mixup_gives_soft_labels_of_the_batchs_clips(data_dir, stats):
    config = InputConfig(batch_size=BATCH, deterministic=True, seed=7, mixup=0.4)
    classes = len(stats.vocabulary)
    plain = dataclasses.replace(config, mixup=0.0)
    mixed, unmixed = (list(make_dataset(data_dir, "train", c, stats, training=True))
                      for c in (config, plain))
    checked = 0
    for (features, soft), (plain_features, labels) in zip(mixed, unmixed):
        soft, labels = soft.numpy(), labels.numpy()
        assert soft.shape == (BATCH, classes) and labels.dtype == np.int32
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
        # Only the clip and its partner carry weight; the other augmentations are unchanged.
        own = np.eye(classes)[labels] + np.eye(classes)[labels[::-1]]
        assert np.all(soft[own == 0] == 0)
        weight = soft[np.arange(BATCH), labels]
        frames = plain_features["frames"].numpy()
        for i in np.flatnonzero(labels != labels[::-1]):  # else the label hides the weight
            np.testing.assert_allclose(
                features["frames"].numpy()[i],
                weight[i] * frames[i] + (1 - weight[i]) * frames[BATCH - 1 - i],
                rtol=1e-4, atol=1e-4)
            checked += 1
    assert checked >= 6


@pytest.mark.slow
def test_training_drops_the_short_last_batch(data_dir, stats):
    config = dataclasses.replace(IN_ORDER, batch_size=5)
    sizes = [len(label) for _, label in make_dataset(data_dir, "train", config, stats,
                                                     training=True)]
    assert sizes == [5, 5]


@pytest.mark.slow
def test_deterministic_mode_repeats_identical_batches(data_dir, stats):
    import keras

    keras.utils.set_random_seed(3)  # as training does; tensor seeds for shuffle break then
    config = InputConfig(batch_size=BATCH, deterministic=True, seed=7)
    dataset = make_dataset(data_dir, "train", config, stats, training=True, repeat=True).take(9)
    first, second = _unbatched(dataset), _unbatched(dataset)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # A pass is the 12 clips in 3 whole batches of 4, each pass in its own order.
    passes = [first[0][i * 12:(i + 1) * 12] for i in range(3)]
    assert not np.array_equal(passes[0], passes[1])
    assert not np.array_equal(passes[1], passes[2])
    assert sorted(first[2][:12]) == sorted(first[2][12:24])
    other = make_dataset(data_dir, "train", dataclasses.replace(config, seed=8), stats,
                         training=True).take(1)
    assert not np.array_equal(_unbatched(other)[0], first[0][:BATCH])


@pytest.mark.slow
def test_deterministic_restart_at_a_pass_continues_exactly(data_dir, stats):
    config = InputConfig(batch_size=BATCH, deterministic=True, seed=7)
    whole = _unbatched(make_dataset(data_dir, "train", config, stats, training=True,
                                    repeat=True).take(6))
    resumed = _unbatched(make_dataset(data_dir, "train", config, stats, training=True,
                                      repeat=True, first_pass=1).take(3))
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a[12:], b)


@pytest.mark.slow
def test_snapshot_writes_once_and_gives_the_same_clips(data_dir, stats, records, tmp_path):
    config = dataclasses.replace(IN_ORDER, snapshot=str(tmp_path / "snap"))
    first = _unbatched(make_dataset(data_dir, "train", config, stats, training=False))
    assert os.listdir(tmp_path / "snap" / "train")
    again = _unbatched(make_dataset(data_dir, "train", config, stats, training=False))
    plain = _unbatched(make_dataset(data_dir, "train", IN_ORDER, stats, training=False))
    for a, b, c in zip(first, again, plain):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
    with pytest.raises(ValueError, match="choose one"):
        InputConfig(cache=True, snapshot="x")


@pytest.mark.slow
def test_cache_gives_the_same_clips(data_dir, stats, records):
    config = dataclasses.replace(IN_ORDER, cache=True)
    dataset = make_dataset(data_dir, "train", config, stats, training=False, repeat=True)
    frames, _, labels = _unbatched(dataset.take(6))  # two passes over the 12 clips
    np.testing.assert_array_equal(labels[:12], labels[12:])
    np.testing.assert_array_equal(frames[:12], frames[12:])


# ---------------------------------------------------------------------------------------
# vectorised parsing and augmentation of a batch, hand-checked


def _numbered_clips(batch: int, frames: int, size: int) -> tf.Tensor:
    """uint8 [B, T, size, size] where pixel (r, c) holds r * size + c (every frame alike)."""
    grid = np.arange(size * size, dtype=np.uint8).reshape(size, size)
    return tf.constant(np.broadcast_to(grid, (batch, frames, size, size)).copy())


def test_random_crop_and_flip_takes_a_window_or_its_mirror_per_clip():
    size, crop, batch = 8, 5, 64
    out = random_crop_and_flip(_numbered_clips(batch, 3, size), crop, True,
                               tf.constant([1, 2], tf.int64)).numpy()
    assert out.shape == (batch, 3, crop, crop)
    offsets, mirrored = set(), []
    for clip in out:
        np.testing.assert_array_equal(clip[0], clip[2])  # one window for all frames of a clip
        top, left = divmod(int(clip[0].min()), size)  # the window's top-left value
        window = np.arange(size * size).reshape(size, size)[top:top + crop, left:left + crop]
        flipped = np.array_equal(clip[0], window[:, ::-1])
        assert flipped or np.array_equal(clip[0], window)
        offsets.add((top, left))
        mirrored.append(flipped)
    assert {t for t, _ in offsets} == set(range(size - crop + 1))  # every offset is drawn
    assert {c for _, c in offsets} == set(range(size - crop + 1))
    assert 0 < sum(mirrored) < batch
    plain = random_crop_and_flip(_numbered_clips(batch, 1, size), crop, False,
                                 tf.constant([1, 2], tf.int64)).numpy()
    assert all(np.all(np.diff(clip[0], axis=1) == 1) for clip in plain)  # never mirrored


def test_time_mask_zeroes_one_span_of_at_most_max_frames_per_clip():
    keep = time_mask(tf.constant(200), tf.constant(10), 3, tf.constant([4, 5], tf.int64))
    assert keep.shape == (200, 10) and keep.dtype == tf.float32
    spans = []
    for row in keep.numpy():
        assert set(np.unique(row)) <= {0.0, 1.0}
        zeroed = np.flatnonzero(row == 0.0)
        if len(zeroed):
            assert zeroed[-1] - zeroed[0] == len(zeroed) - 1  # one contiguous span
        spans.append((len(zeroed), int(zeroed[0]) if len(zeroed) else None))
    assert {n for n, _ in spans} == {0, 1, 2, 3}
    assert {s for n, s in spans if n == 3} == set(range(8))  # a 3-span starts anywhere 0..7


def test_parse_clip_batch_equals_the_schemas_parser_per_record():
    from schemas.clip import encode_clip
    from tests.test_write_clips import _clip

    serialized = [encode_clip(dataclasses.replace(_clip(i), label=i + 1)) for i in range(3)]
    batch = parse_clip_batch(tf.constant(serialized))
    assert batch["frames"].dtype == tf.uint8 and batch["frames"].shape == (3, 29, 96, 96)
    for i, record in enumerate(serialized):
        one = parse_clip(record)
        np.testing.assert_array_equal(batch["frames"][i], one["frames"])
        np.testing.assert_array_equal(batch["boundary_mask"][i], one["boundary_mask"])
        assert int(batch["label"][i]) == int(one["label"]) == i + 1
    short = _clip(9)
    short = dataclasses.replace(
        short, frames=short.frames[:20], boundary_mask=short.boundary_mask[:20],
        landmarks=short.landmarks[:20], landmark_detected=short.landmark_detected[:20],
        crop_transform=short.crop_transform[:20])
    with pytest.raises(tf.errors.InvalidArgumentError, match="different lengths"):
        parse_clip_batch(tf.constant([serialized[0], encode_clip(short)]))


def test_split_compression_follows_the_suffix_and_refuses_a_mix():
    from trainer.input import split_compression

    assert split_compression(["a/clips-0.tfrecord.gz", "a/clips-1.tfrecord.gz"]) == "GZIP"
    assert split_compression(["a/clips-0.tfrecord"]) == ""
    with pytest.raises(ValueError, match="mix GZIP and uncompressed"):
        split_compression(["a/clips-0.tfrecord.gz", "a/clips-1.tfrecord"])
