"""The clip record: written as GZIP TFRecords, read back exactly; the TFMD schema matches."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.coders.sequence_example_coder import SequenceExamplesToRecordBatchDecoder

from schemas import clip
from schemas.clip import (
    CONTEXT_FEATURES,
    NUM_LANDMARKS,
    SCHEMA_VERSION,
    SEQUENCE_FEATURES,
    SEQUENCE_STRUCT,
    ClipRecord,
    encode_clip,
    parse_clip,
    tfmd_schema_text,
    validate_record,
)

SCHEMA_PBTXT = os.path.join(os.path.dirname(os.path.abspath(clip.__file__)), "schema.pbtxt")


def _record(seed: int, length: int, height: int, width: int, **context) -> ClipRecord:
    """A clip with random but known arrays; `context` overrides the per-clip facts."""
    rng = np.random.default_rng(seed)
    facts = dict(clip_id="s1/vidéo#0_wort", video_id="s1/vidéo", source_video="s1/vidéo.mp4",
                 word="wort", word_index=0, start_time=0.0, end_time=1.0, fps=25.0,
                 first_frame=0, padded_before=0, padded_after=0)
    facts.update(context)
    return ClipRecord(
        frames=rng.integers(0, 256, size=(length, height, width), dtype=np.uint8),
        boundary_mask=(rng.random(length) < 0.5).astype(np.uint8),
        landmarks=(rng.random((length, NUM_LANDMARKS, 2)) * 160 - 20).astype(np.float32),
        landmark_detected=rng.random(length) < 0.7,
        crop_transform=rng.normal(size=(length, 2, 3)).astype(np.float32),
        **facts)


def _records() -> list[ClipRecord]:
    window = _record(
        seed=1, length=29, height=96, width=96,
        clip_id="Sprecher Ä/größe_01#3_straße", video_id="Sprecher Ä/größe_01",
        source_video="gs://bucket/Sprecher Ä/größe_01.mp4", word="straße", word_index=3,
        start_time=0.71, end_time=0.9, fps=25.0, first_frame=-2, padded_before=2,
        speaker="Zoë", show="Nachrichten", split="train", group="speaker:Zoë", label=41, augment_copy=2,
        face_size=63.25, yaw=0.125, landmark_jitter=0.0123, sharpness=42.5,
        video_start=0.4, shot=3, face_track=7, candidate_faces=2, speaker_score=0.5,
        speaker_margin=0.25, asd_score=4.75, alignment_confidence=0.875, av_offset=0.12,
        av_offset_estimate=0.12, av_offset_peak=0.375)
    # Three of the 29 frames are interpolated, and the mask marks the word's five frames.
    window.landmark_detected[:] = True
    window.landmark_detected[[0, 7, 28]] = False
    window.boundary_mask[:] = 0
    window.boundary_mask[12:17] = 1
    short = _record(seed=2, length=5, height=32, width=32, clip_id="話者/動画#0_こんにちは",
                    video_id="話者/動画", source_video="/data/話者/動画.mkv", word="こんにちは",
                    start_time=2.8, end_time=3.0, fps=29.97, first_frame=70, padded_after=1)
    short.landmark_detected[:] = True
    # A non-square crop whose frames are a non-contiguous view: a swapped height and
    # width, or bytes taken in memory order, would show.
    tall = _record(seed=3, length=2, height=24, width=40, word_index=11)
    tall.frames = np.ascontiguousarray(tall.frames[:, ::-1, :])[:, ::-1, :]
    assert not tall.frames.flags["C_CONTIGUOUS"]
    return [window, short, tall]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The records, and what tf.data parses back from a GZIP TFRecord file of them."""
    records = _records()
    path = str(tmp_path_factory.mktemp("clips") / "clips.tfrecord.gz")
    serialized = [encode_clip(r) for r in records]
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for example in serialized:
            writer.write(example)
    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP").map(parse_clip)
    return records, serialized, list(dataset.as_numpy_iterator()), dataset.element_spec


def _expected_context(record: ClipRecord) -> dict:
    """Every context feature as tf.data returns it: (value, tf dtype, numpy type)."""
    length, height, width = record.frames.shape
    text = lambda s: (s.encode("utf-8"), tf.string, bytes)  # noqa: E731
    int64 = lambda v: (v, tf.int64, np.int64)  # noqa: E731
    float32 = lambda v: (np.float32(v), tf.float32, np.float32)  # noqa: E731
    return {
        "schema_version": text(SCHEMA_VERSION),
        "clip_id": text(record.clip_id),
        "video_id": text(record.video_id),
        "source_video": text(record.source_video),
        "word": text(record.word),
        "word_index": int64(record.word_index),
        "start_time": float32(record.start_time),
        "end_time": float32(record.end_time),
        "fps": float32(record.fps),
        "num_frames": int64(length),
        "crop_height": int64(height),
        "crop_width": int64(width),
        "first_frame": int64(record.first_frame),
        "padded_before": int64(record.padded_before),
        "padded_after": int64(record.padded_after),
        "interpolated_frames": int64(int(np.sum(~record.landmark_detected))),
        "speaker": text(record.speaker),
        "show": text(record.show),
        "split": text(record.split),
        "group": text(record.group),
        "label": int64(record.label),
        "augment_copy": int64(record.augment_copy),
        "face_size": float32(record.face_size),
        "yaw": float32(record.yaw),
        "landmark_jitter": float32(record.landmark_jitter),
        "sharpness": float32(record.sharpness),
        "video_start": float32(record.video_start),
        "shot": int64(record.shot),
        "face_track": int64(record.face_track),
        "candidate_faces": int64(record.candidate_faces),
        "speaker_score": float32(record.speaker_score),
        "speaker_margin": float32(record.speaker_margin),
        "asd_score": float32(record.asd_score),
        "alignment_confidence": float32(record.alignment_confidence),
        "unit": text(record.unit),
        "av_offset": float32(record.av_offset),
        "av_offset_estimate": float32(record.av_offset_estimate),
        "av_offset_peak": float32(record.av_offset_peak),
    }


def _expected_lists(record: ClipRecord) -> dict:
    """The word lists as tf.data returns them: a word clip lists its one word."""
    words = record.words or (record.word,)
    return {"words": [w.encode("utf-8") for w in words],
            "word_starts": np.float32(record.word_starts or (record.start_time,)),
            "word_ends": np.float32(record.word_ends or (record.end_time,))}


# Round trip ---------------------------------------------------------------------------


def test_every_record_is_read_back(written):
    records, _, parsed, _ = written

    assert len(parsed) == len(records) == 3
    expected_keys = {f.key for f in CONTEXT_FEATURES} | {f.key for f in SEQUENCE_FEATURES}
    for clip_tensors in parsed:
        assert set(clip_tensors) == expected_keys


@pytest.mark.parametrize("index", [0, 1, 2])
def test_context_features_round_trip(written, index):
    records, _, parsed, spec = written

    expected = _expected_context(records[index])
    assert set(expected) | set(_expected_lists(records[index])) == {
        f.key for f in CONTEXT_FEATURES}
    for key, (value, tf_dtype, numpy_type) in expected.items():
        assert spec[key].dtype == tf_dtype, key
        assert spec[key].shape == [], key
        got = parsed[index][key]
        assert type(got) is numpy_type, key
        # Absent measurements (speaker score without audio, ...) are NaN on both sides.
        assert got == value or (np.isnan(got) and np.isnan(value)), key
    for key, values in _expected_lists(records[index]).items():
        np.testing.assert_array_equal(parsed[index][key], values)


def test_hand_computed_context_of_the_first_clip(written):
    _, _, parsed, _ = written
    first = parsed[0]

    assert first["word"].decode("utf-8") == "straße"
    assert first["clip_id"].decode("utf-8") == "Sprecher Ä/größe_01#3_straße"
    assert (first["num_frames"], first["crop_height"], first["crop_width"]) == (29, 96, 96)
    assert first["interpolated_frames"] == 3
    assert (first["first_frame"], first["padded_before"], first["padded_after"]) == (-2, 2, 0)
    assert first["start_time"] == np.float32(0.71)
    assert (first["shot"], first["face_track"], first["candidate_faces"]) == (3, 7, 2)
    assert first["speaker_margin"] == np.float32(0.25)
    assert first["video_start"] == np.float32(0.4)
    assert (first["av_offset"], first["av_offset_peak"]) == (np.float32(0.12), np.float32(0.375))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_sequence_features_round_trip(written, index):
    record, got, spec = written[0][index], written[2][index], written[3]
    length, height, width = record.frames.shape

    assert {key: (spec[key].dtype, spec[key].shape.as_list()) for key in spec
            if key in {f.key for f in SEQUENCE_FEATURES}} == {
        "frames": (tf.uint8, [None, None, None]),
        "boundary_mask": (tf.int64, [None]),
        "landmarks": (tf.float32, [None, NUM_LANDMARKS, 2]),
        "landmark_detected": (tf.int64, [None]),
        "crop_transform": (tf.float32, [None, 2, 3]),
    }

    assert got["frames"].dtype == np.uint8
    assert got["frames"].shape == (length, height, width)
    assert got["frames"].tobytes() == np.ascontiguousarray(record.frames).tobytes()

    assert got["boundary_mask"].dtype == np.int64
    assert got["boundary_mask"].shape == (length,)
    np.testing.assert_array_equal(got["boundary_mask"], record.boundary_mask)

    assert got["landmarks"].dtype == np.float32
    assert got["landmarks"].shape == (length, NUM_LANDMARKS, 2)
    np.testing.assert_array_equal(got["landmarks"], record.landmarks)

    assert got["landmark_detected"].dtype == np.int64
    assert got["landmark_detected"].shape == (length,)
    np.testing.assert_array_equal(got["landmark_detected"], record.landmark_detected.astype(int))

    assert got["crop_transform"].dtype == np.float32
    assert got["crop_transform"].shape == (length, 2, 3)
    np.testing.assert_array_equal(got["crop_transform"], record.crop_transform)


def test_first_clip_mask_and_detection_flags(written):
    got = written[2][0]

    np.testing.assert_array_equal(np.flatnonzero(got["boundary_mask"]), [12, 13, 14, 15, 16])
    np.testing.assert_array_equal(np.flatnonzero(got["landmark_detected"] == 0), [0, 7, 28])


def test_encoding_is_deterministic():
    record = _records()[1]

    assert encode_clip(record) == encode_clip(dataclasses.replace(record))


# Validation ---------------------------------------------------------------------------


def _broken(name: str, value_of) -> ClipRecord:
    record = _record(seed=4, length=6, height=8, width=8)
    return dataclasses.replace(record, **{name: value_of(getattr(record, name))})


@pytest.mark.parametrize("name, value_of, message", [
    ("frames", lambda a: a.astype(np.float32), r"frames must be uint8 \[T, H, W\], got float32"),
    ("frames", lambda a: a.astype(np.int64), r"frames must be uint8 \[T, H, W\], got int64"),
    ("frames", lambda a: a[0], r"frames must be uint8 \[T, H, W\], got uint8 \(8, 8\)"),
    ("frames", lambda a: a[..., None], r"got uint8 \(6, 8, 8, 1\)"),
    ("boundary_mask", lambda a: a[:-1], r"boundary_mask must have shape \(6,\), got \(5,\)"),
    ("boundary_mask", lambda a: a[:, None], r"boundary_mask must have shape \(6,\)"),
    ("landmarks", lambda a: a.reshape(6, -1), r"landmarks must have shape \(6, 68, 2\)"),
    ("landmarks", lambda a: a[:, :60], r"landmarks must have shape \(6, 68, 2\), got \(6, 60, 2\)"),
    ("landmark_detected", lambda a: np.append(a, True),
     r"landmark_detected must have shape \(6,\), got \(7,\)"),
    ("crop_transform", lambda a: np.zeros((6, 3, 3), np.float32),
     r"crop_transform must have shape \(6, 2, 3\), got \(6, 3, 3\)"),
])
def test_validate_record_rejects_wrong_shape_or_dtype(name, value_of, message):
    record = _broken(name, value_of)

    with pytest.raises(ValueError, match=message):
        validate_record(record)
    with pytest.raises(ValueError, match=message):
        encode_clip(record)


def test_good_records_validate_and_read_back_as_written():
    records = _records()
    assert len(records) >= 2
    for record in records:
        assert validate_record(record) is None
        parsed = parse_clip(encode_clip(record))
        np.testing.assert_array_equal(parsed["frames"].numpy(), record.frames)
        np.testing.assert_array_equal(parsed["boundary_mask"].numpy(), record.boundary_mask)
        assert parsed["word"].numpy().decode() == record.word


# TFMD schema --------------------------------------------------------------------------


def _parsed_schema() -> schema_pb2.Schema:
    with open(SCHEMA_PBTXT, encoding="utf-8") as handle:
        return text_format.Parse(handle.read(), schema_pb2.Schema())


def test_committed_schema_is_the_generated_one():
    with open(SCHEMA_PBTXT, encoding="utf-8") as handle:
        committed = handle.read()

    assert committed == tfmd_schema_text(), (
        "schemas/schema.pbtxt is out of date: write schemas.clip.tfmd_schema_text() to it")


def test_schema_header_names_its_proto():
    lines = tfmd_schema_text().splitlines()

    assert lines[:2] == ["# proto-file: tensorflow_metadata/proto/v0/schema.proto",
                         "# proto-message: Schema"]
    assert SCHEMA_VERSION in lines[2]


_TFMD_TYPES = {"bytes": schema_pb2.BYTES, "int64": schema_pb2.INT, "float32": schema_pb2.FLOAT}


def _assert_features_match(proto_features, table) -> None:
    assert [f.name for f in proto_features] == [f.key for f in table]
    for proto, feature in zip(proto_features, table):
        assert proto.type == _TFMD_TYPES[feature.dtype], feature.key
        # A list feature has at least one value and no upper bound (max unset reads 0).
        assert (proto.value_count.min, proto.value_count.max) == (
            (feature.size, feature.size) if feature.size else (1, 0)), feature.key
        assert list(proto.annotation.comment) == [feature.doc], feature.key


def test_schema_features_match_the_tables():
    schema = _parsed_schema()

    *context, sequence = schema.feature
    _assert_features_match(context, CONTEXT_FEATURES)
    assert sequence.name == SEQUENCE_STRUCT
    assert sequence.type == schema_pb2.STRUCT
    _assert_features_match(sequence.struct_domain.feature, SEQUENCE_FEATURES)
    assert [f.size for f in SEQUENCE_FEATURES if f.key == "landmarks"] == [2 * NUM_LANDMARKS]


def test_tfmd_schema_decodes_the_written_clips(written):
    records, serialized, _, _ = written
    decoder = SequenceExamplesToRecordBatchDecoder(
        SEQUENCE_STRUCT, _parsed_schema().SerializeToString())

    batch = decoder.DecodeBatch(serialized)

    assert batch.num_rows == len(records)
    assert batch.schema.names == [f.key for f in CONTEXT_FEATURES] + [SEQUENCE_STRUCT]
    assert batch.column("word").to_pylist() == [[r.word.encode("utf-8")] for r in records]
    assert batch.column("num_frames").to_pylist() == [[29], [5], [2]]
    sequence = batch.column(SEQUENCE_STRUCT)
    assert [f.name for f in sequence.type] == [f.key for f in SEQUENCE_FEATURES]
    first = sequence.to_pylist()[0]
    assert first["boundary_mask"] == [[int(m)] for m in records[0].boundary_mask]
    np.testing.assert_array_equal(np.array(first["landmarks"], np.float32),
                                  records[0].landmarks.reshape(29, -1))
    assert [row[0] for row in first["frames"]] == [f.tobytes() for f in records[0].frames]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_numpy_decode_equals_the_tensorflow_parser(written, index):
    records, _, parsed, _ = written
    decoded = clip.decode_clip(clip.encode_clip(records[index]))
    expected = parsed[index]
    for feature in CONTEXT_FEATURES:
        want = expected[feature.key]
        if feature.size == 0:
            want = [w.decode("utf-8") if isinstance(w, bytes) else float(w) for w in want]
            assert decoded[feature.key] == pytest.approx(want), feature.key
            continue
        want = want.decode("utf-8") if isinstance(want, bytes) else want
        assert decoded[feature.key] == pytest.approx(want, nan_ok=True), feature.key
    np.testing.assert_array_equal(decoded["frames"], records[index].frames)
    np.testing.assert_array_equal(decoded["boundary_mask"], records[index].boundary_mask)
    assert decoded["frames"].dtype == np.uint8
    context = clip.decode_context(clip.encode_clip(records[index]))
    scalars = [f.key for f in CONTEXT_FEATURES if f.size]
    assert sorted(context) == sorted(scalars)
    assert context == pytest.approx({key: decoded[key] for key in scalars}, nan_ok=True)


@pytest.mark.parametrize("serialized, message", [
    (b"\xff\xff not a proto", "not a SequenceExample"),
    (tf.train.SequenceExample().SerializeToString(), "record lacks features"),
])
def test_numpy_decode_rejects_what_is_not_a_clip(serialized, message):
    with pytest.raises(ValueError, match=message):
        clip.decode_clip(serialized)
    with pytest.raises(ValueError, match=message):
        clip.decode_context(serialized)


def test_a_record_of_schema_1_4_reads_its_offset_as_not_estimated():
    record = _records()[1]
    example = tf.train.SequenceExample.FromString(encode_clip(record))
    for key in (clip.AV_OFFSET, clip.AV_OFFSET_ESTIMATE, clip.AV_OFFSET_PEAK):
        del example.context.feature[key]  # as 1.4.0 wrote it
    old = example.SerializeToString()
    parsed = parse_clip(tf.constant(old))
    assert parsed[clip.AV_OFFSET].numpy() == 0.0
    assert np.isnan(parsed[clip.AV_OFFSET_ESTIMATE].numpy())
    assert np.isnan(parsed[clip.AV_OFFSET_PEAK].numpy())
    decoded = clip.decode_clip(old)
    assert decoded[clip.AV_OFFSET] == 0.0 and np.isnan(decoded[clip.AV_OFFSET_PEAK])
