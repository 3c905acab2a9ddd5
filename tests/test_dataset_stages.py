"""Dataset building stages on TestPipeline: vocabulary and statistics (tf.Transform),
splits, augmentation and quality filters."""

import glob
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.preprocess.assign_splits import AssignSplits
from pipelines.preprocess.augment import AugmentConfig
from pipelines.preprocess.augment_clips import AugmentTrain
from pipelines.preprocess.dead_letters import DEAD_LETTER
from pipelines.preprocess.filter_quality import FilterQuality
from pipelines.preprocess.quality import QualityThresholds
from pipelines.preprocess.splits import SplitRatios
from pipelines.preprocess.vocabulary import (AnalyzeVocabulary, AttachLabels, pixel_statistics,
                                             transform_words)
from pipelines.preprocess.write_clips import WriteClips
from schemas.clip import ClipRecord

T, S = 5, 8


def clip(word: str, video: str = "v0", index: int = 0, seed: int = 0, **fields) -> ClipRecord:
    rng = np.random.default_rng(seed)
    base = dict(
        clip_id=f"{video}#{index:04d}_{word}", video_id=video, source_video=f"{video}.mp4",
        word=word, word_index=index, start_time=0.4, end_time=0.8, fps=25.0, first_frame=0,
        padded_before=0, padded_after=0, frames=rng.integers(0, 256, (T, S, S), dtype=np.uint8),
        boundary_mask=np.array([0, 1, 1, 1, 0], np.uint8),
        landmarks=np.zeros((T, 68, 2), np.float32), landmark_detected=np.ones(T, bool),
        crop_transform=np.zeros((T, 2, 3), np.float32), face_size=60.0, yaw=0.05,
        landmark_jitter=0.01, sharpness=100.0)
    base.update(fields)
    return ClipRecord(**base)


# ---- vocabulary, label ids, pixel statistics ------------------------------------------

TRAIN_WORDS = ["bin"] * 4 + ["blue"] * 3 + ["at"] * 2 + ["zero"]  # counts 4, 3, 2, 1


@pytest.fixture(scope="module")
def vocabulary_run(tmp_path_factory):
    import tensorflow_transform as tft

    folder = tmp_path_factory.mktemp("vocabulary")
    train = [clip(w, video=f"v{i}", index=i, seed=i) for i, w in enumerate(TRAIN_WORDS)]
    others = [clip("bin", video="w1", seed=100), clip("zero", video="w2", seed=101),
              clip("unseen", video="w3", seed=102)]
    transform_dir = str(folder / "transform_fn")
    pipeline = BeamTestPipeline()
    written = (pipeline | "Train" >> beam.Create(train)
               | AnalyzeVocabulary(transform_dir, str(folder / "tmp"), top_k=3, min_count=2))
    labelled = (pipeline | "All" >> beam.Create(train + others)
                | AttachLabels(transform_dir, written))
    assert_that(labelled.clips | beam.Map(lambda c: (c.clip_id, c.label)),
                equal_to([(c.clip_id, {"bin": 0, "blue": 1, "at": 2}[c.word])
                          for c in train + others if c.word in ("bin", "blue", "at")]),
                label="labels")
    assert_that(labelled[DEAD_LETTER] | beam.Map(lambda f: (f["word"], f["reason"])),
                equal_to([("zero", "out_of_vocabulary"), ("zero", "out_of_vocabulary"),
                          ("unseen", "out_of_vocabulary")]), label="dead")
    pipeline.run().wait_until_finish()
    return train, tft.TFTransformOutput(transform_dir)


def test_vocabulary_is_top_k_by_count_with_a_minimum(vocabulary_run):
    _, output = vocabulary_run
    # Hand-computed: counts bin 4, blue 3, at 2, zero 1; top 3 with count >= 2.
    assert output.vocabulary_by_name("word") == [b"bin", b"blue", b"at"]
    assert list(transform_words(output, ["at", "bin", "zero", "unseen"])) == [2, 0, -1, -1]


def test_pixel_statistics_equal_numpys(vocabulary_run):
    train, output = vocabulary_run
    pixels = np.concatenate([c.frames.ravel() for c in train]).astype(np.float64)
    mean, std = pixel_statistics(output)
    assert mean == pytest.approx(pixels.mean(), abs=1e-3)
    assert std == pytest.approx(pixels.std(), abs=1e-3)


# ---- splits -----------------------------------------------------------------------------

def _split_clips():
    clips = [clip("w", video=f"vid{v}", index=i, seed=v) for v in range(60) for i in range(4)]
    clips += [clip("w", video="lrw1", split="validation"), clip("w", video="lrw2", split="test")]
    return clips


def _groups_in_one_split(clips):
    by_group = {}
    for c in clips:
        by_group.setdefault(c.group, set()).add(c.split)
    assert all(len(splits) == 1 for splits in by_group.values()), by_group
    named = {c.video_id: c.split for c in clips if c.video_id.startswith("lrw")}
    assert named == {"lrw1": "val", "lrw2": "test"}
    counts = {s: sum(c.split == s for c in clips) for s in ("train", "val", "test")}
    assert all(counts.values()) and counts["train"] > counts["val"]


def test_no_group_is_in_two_splits_and_named_splits_are_kept():
    with BeamTestPipeline() as pipeline:
        out = pipeline | beam.Create(_split_clips()) | AssignSplits(SplitRatios(0.7, 0.15), "video")
        assert_that(out.clips, _groups_in_one_split)


def test_split_by_speaker_without_a_speaker_is_a_dead_letter():
    clips = [clip("w", video="a", speaker="s1"), clip("w", video="b", speaker="s1"),
             clip("w", video="c")]
    with BeamTestPipeline() as pipeline:
        out = pipeline | beam.Create(clips) | AssignSplits(SplitRatios(), "speaker")
        assert_that(out.clips | beam.Map(lambda c: c.group), equal_to(["speaker:s1"] * 2),
                    label="main")
        assert_that(out[DEAD_LETTER] | beam.Map(lambda f: (f["video_id"], f["reason"])),
                    equal_to([("c", "bad_split")]), label="dead")


# ---- augmentation -----------------------------------------------------------------------

def _write_augmented(folder: str, clips) -> dict:
    with BeamTestPipeline() as pipeline:
        out = pipeline | beam.Create(clips, reshuffle=False) | AugmentTrain(2, AugmentConfig())
        for split in ("train", "val"):
            (out | f"Only{split}" >> beam.Filter(lambda c, s=split: c.split == s)
             | f"Write{split}" >> WriteClips(os.path.join(folder, split, "clips"), num_shards=1))
    return {os.path.relpath(f, folder): open(f, "rb").read()
            for f in glob.glob(os.path.join(folder, "*", "*.tfrecord.gz"))}


def test_augmentation_is_deterministic_and_only_for_train(tmp_path):
    import tensorflow as tf

    from schemas.clip import parse_clip

    clips = [clip("w", video=f"v{i}", index=i, seed=i, split="train" if i < 3 else "val")
             for i in range(5)]
    first = _write_augmented(str(tmp_path / "a"), clips)
    rerun = _write_augmented(str(tmp_path / "b"), clips)
    _write_augmented(str(tmp_path / "c"), list(reversed(clips)))  # read back below
    assert len(first) == 2 and first == rerun  # a rerun writes identical bytes
    # In another input order every record is still byte-identical (only their order moves).
    read = {name: sorted(r.numpy() for r in tf.data.TFRecordDataset(
        glob.glob(str(tmp_path / name / "*" / "*.tfrecord.gz")), "GZIP")) for name in "ac"}
    assert read["a"] == read["c"]

    def copies(split):
        files = glob.glob(str(tmp_path / "a" / split / "*.tfrecord.gz"))
        parsed = tf.data.TFRecordDataset(files, compression_type="GZIP").map(parse_clip)
        return sorted(int(p["augment_copy"]) for p in parsed)

    assert copies("train") == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # originals kept, 2 copies each
    assert copies("val") == [0, 0]


# ---- quality filters -------------------------------------------------------------------

def test_each_quality_filter_drops_its_clip_and_keeps_the_good_one():
    thresholds = QualityThresholds()
    undetected = np.zeros(T, bool)
    clips = [clip("good"), clip("small", face_size=10.0), clip("turned", yaw=0.9),
             clip("shaky", landmark_jitter=0.2), clip("blank", landmark_detected=undetected),
             clip("blurred", sharpness=1.0)]
    with BeamTestPipeline() as pipeline:
        out = pipeline | beam.Create(clips) | FilterQuality(thresholds)
        assert_that(out.clips | beam.Map(lambda c: c.word), equal_to(["good"]), label="kept")
        assert_that(out[DEAD_LETTER] | beam.Map(lambda f: (f["word"], f["reason"])),
                    equal_to([("small", "face_too_small"), ("turned", "head_turned"),
                              ("shaky", "landmark_jitter"), ("blank", "too_many_interpolated"),
                              ("blurred", "too_blurred")]), label="dropped")


def _producers(pipeline: beam.Pipeline) -> dict[str, str]:
    """full label of each applied transform -> full label of what produced its first input."""
    found = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            producer = node.inputs[0].producer if node.inputs else None
            if producer is not None:
                found[node.full_label] = producer.full_label

        def enter_composite_transform(self, node):
            self.visit_transform(node)

    pipeline.visit(Visitor())
    return found


def test_side_input_stages_read_materialised_input(tmp_path):
    # The local multi-worker runner lost the last outputs of a producer whose output fed a
    # ParDo with a side input derived from the same producer (reproduced without lipflow
    # code: 2,100 to 2,310 of 2,340 elements under load); a Reshuffle in between lost none.
    pipeline = beam.Pipeline()
    clips = pipeline | "Clips" >> beam.Create([clip("w")])
    written = clips | AnalyzeVocabulary(str(tmp_path / "t"), str(tmp_path / "tmp"), 10, 1)
    _ = clips | AttachLabels(str(tmp_path / "t"), written)
    producers = _producers(pipeline)
    assert producers["AttachLabels/BatchClips"].startswith("AttachLabels/MaterializeClips")
    analysis = [label for label, producer in producers.items()
                if label.startswith("AnalyzeVocabulary/AnalyzeDataset")
                and producer.startswith("AnalyzeVocabulary/MaterializeFeatures")]
    assert analysis, producers
