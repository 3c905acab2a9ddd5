"""The clip writer: standard GZIP TFRecords that tf.data reads back."""

import glob
import gzip

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.io.tfrecordio import _TFRecordUtil
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from pipelines.preprocess.write_clips import WriteClips, tfrecord_frame
from schemas.clip import ClipRecord, encode_clip, parse_clip


def _clip(index: int) -> ClipRecord:
    rng = np.random.default_rng(index)
    return ClipRecord(
        clip_id=f"v#{index:04d}_w", video_id="v", source_video="v.mp4", word="w",
        word_index=index, start_time=0.5, end_time=0.9, fps=25.0, first_frame=3,
        padded_before=0, padded_after=0,
        frames=rng.integers(0, 256, (29, 96, 96), dtype=np.uint8),
        boundary_mask=np.ones(29, np.uint8), landmarks=rng.random((29, 68, 2), np.float32),
        landmark_detected=np.ones(29, bool), crop_transform=rng.random((29, 2, 3), np.float32))


@pytest.mark.parametrize("record", [b"", b"a", bytes(range(256)) * 40])
def test_framing_matches_beams_reference_encoder(record):
    class Sink:
        data = b""

        def write(self, value):
            Sink.data += value

    _TFRecordUtil.write_record(Sink(), record)
    assert tfrecord_frame(record) == Sink.data


def test_written_shards_read_back_through_the_schema(tmp_path):
    import tensorflow as tf

    clips = [_clip(i) for i in range(5)]
    with BeamTestPipeline() as pipeline:
        _ = pipeline | beam.Create(clips) | WriteClips(str(tmp_path / "clips"), num_shards=2)
    files = sorted(glob.glob(str(tmp_path / "clips-*-of-00002.tfrecord.gz")))
    assert len(files) == 2
    assert all(gzip.open(f).read(1) is not None for f in files)  # real GZIP streams
    read = tf.data.TFRecordDataset(files, compression_type="GZIP")
    assert sorted(r.numpy() for r in read) == sorted(encode_clip(c) for c in clips)
    parsed = {int(p["word_index"]): p["frames"].numpy() for p in read.map(parse_clip)}
    for clip in clips:
        np.testing.assert_array_equal(parsed[clip.word_index], clip.frames)


def test_uncompressed_shards_are_plain_tfrecords(tmp_path):
    import tensorflow as tf

    clips = [_clip(i) for i in range(3)]
    with BeamTestPipeline() as pipeline:
        _ = pipeline | beam.Create(clips) | WriteClips(str(tmp_path / "clips"), num_shards=1,
                                                        compression="none")
    files = glob.glob(str(tmp_path / "clips-*"))
    assert [f.rsplit("/", 1)[1] for f in files] == ["clips-00000-of-00001.tfrecord"]
    with open(files[0], "rb") as handle:
        data = handle.read()
    # Nothing but the framed records: no compression container around them.
    assert len(data) == sum(len(tfrecord_frame(encode_clip(c))) for c in clips)
    assert data[:2] != b"\x1f\x8b"
    read = tf.data.TFRecordDataset(files)
    assert sorted(r.numpy() for r in read) == sorted(encode_clip(c) for c in clips)


def test_gzip_level_and_compression_are_checked():
    with pytest.raises(ValueError, match="gzip_level"):
        WriteClips("x", gzip_level=0)
    with pytest.raises(ValueError, match="compression must be one of"):
        WriteClips("x", compression="zlib")


@pytest.mark.parametrize("level", [1, 3, 4, 9])
def test_every_gzip_level_reads_back_and_repeats_its_bytes(tmp_path, level):
    import tensorflow as tf

    clips = [_clip(i) for i in range(3)]
    files = []
    for run in ("first", "second"):
        with BeamTestPipeline() as pipeline:
            _ = pipeline | beam.Create(clips) | WriteClips(str(tmp_path / run / "clips"),
                                                            num_shards=1, gzip_level=level)
        files += glob.glob(str(tmp_path / run / "clips-*.tfrecord.gz"))
    assert len(files) == 2
    first, second = (open(f, "rb").read() for f in files)
    assert first == second
    read = tf.data.TFRecordDataset(files[:1], compression_type="GZIP")
    assert sorted(r.numpy() for r in read) == sorted(encode_clip(c) for c in clips)


def test_low_gzip_levels_deflate_with_isal_and_the_others_with_zlib(tmp_path):
    from isal import igzip

    from pipelines.preprocess.write_clips import _GzipHandle

    kinds = {}
    for level in range(1, 10):
        handle = _GzipHandle(open(tmp_path / f"{level}.gz", "wb"), level)
        kinds[level] = isinstance(handle._gzip, igzip.GzipFile)
        handle.write(tfrecord_frame(b"x" * 1000))
        handle.close()
        assert gzip.open(tmp_path / f"{level}.gz").read() == tfrecord_frame(b"x" * 1000)
    assert kinds == {level: level <= 3 for level in range(1, 10)}
