"""A fixed vocabulary (`--vocabulary`): where it is read from, the transform graph it
writes (the same asset and statistics a learnt one gives), and a real preprocess run."""

import glob
import json
import os
import shutil

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.preprocess.dead_letters import DEAD_LETTER
from pipelines.preprocess.vocabulary import (AnalyzeVocabulary, AttachLabels, pixel_statistics,
                                             read_fixed_vocabulary, transform_words,
                                             write_vocabulary_asset)
from schemas.clip import parse_clip
from tests import media
from tests.runs import lipflow
from tests.test_dataset_stages import clip

FIXED = ["zero", "blue", "bin"]  # not in count order: the list's order must be kept


def test_vocabulary_is_read_from_a_file_an_export_and_a_dataset(tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_text("zero\nblue\nbin\n")
    export = tmp_path / "export"
    export.mkdir()
    (export / "vocabulary.txt").write_text("a\nb\n")
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "dataset_info.json").write_text(json.dumps({"vocabulary": ["x", "y", "z"]}))
    assert read_fixed_vocabulary(str(listed)) == FIXED
    assert read_fixed_vocabulary(str(export)) == ["a", "b"]
    assert read_fixed_vocabulary(str(dataset)) == ["x", "y", "z"]


@pytest.mark.parametrize("text, message", [("a\na\n", "repeats"), ("a\n\nb\n", "blank"),
                                           ("", "empty")])
def test_a_bad_vocabulary_is_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "vocabulary.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_fixed_vocabulary(str(path))


def test_a_folder_without_a_vocabulary_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no vocabulary.txt"):
        read_fixed_vocabulary(str(tmp_path))
    with pytest.raises(ValueError, match="does not exist"):
        read_fixed_vocabulary(str(tmp_path / "missing"))


def test_fixed_vocabulary_keeps_its_order_and_statistics_are_still_learnt(tmp_path):
    import tensorflow_transform as tft

    # "at" is the most frequent train word but not in the fixed list: out of vocabulary.
    train = [clip(w, video=f"v{i}", index=i, seed=i)
             for i, w in enumerate(["at"] * 5 + ["bin"] * 2 + ["blue"])]
    vocabulary_file = write_vocabulary_asset(FIXED, str(tmp_path / "staged"))
    transform_dir = str(tmp_path / "transform_fn")
    pipeline = BeamTestPipeline()
    written = (pipeline | "Train" >> beam.Create(train)
               | AnalyzeVocabulary(transform_dir, str(tmp_path / "tmp"), top_k=1, min_count=3,
                                   vocabulary_file=vocabulary_file))
    labelled = (pipeline | "All" >> beam.Create(train)
                | AttachLabels(transform_dir, written, fixed_vocabulary=True))
    assert_that(labelled.clips | beam.Map(lambda c: (c.word, c.label)),
                equal_to([("bin", 2), ("bin", 2), ("blue", 1)]), label="labels")
    assert_that(labelled[DEAD_LETTER] | beam.Map(lambda f: (f["word"], "fixed" in f["detail"])),
                equal_to([("at", True)] * 5), label="dead")
    pipeline.run().wait_until_finish()
    shutil.rmtree(tmp_path / "staged")  # the graph keeps its own copy
    output = tft.TFTransformOutput(transform_dir)
    assert output.vocabulary_by_name("word") == [w.encode() for w in FIXED]
    assert list(transform_words(output, ["bin", "zero", "at"])) == [2, 0, -1]
    pixels = np.concatenate([c.frames.ravel() for c in train]).astype(np.float64)
    mean, std = pixel_statistics(output)
    assert mean == pytest.approx(pixels.mean(), abs=1e-3)
    assert std == pytest.approx(pixels.std(), abs=1e-3)


def _written_labels(data: str) -> list[tuple[str, int]]:
    files = glob.glob(os.path.join(data, "*", "clips-*.tfrecord.gz"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP").map(parse_clip)
    return [(r["word"].numpy().decode(), int(r["label"].numpy())) for r in records]


@pytest.mark.slow
def test_preprocess_labels_real_clips_with_a_fixed_vocabulary(tmp_path):
    root = tmp_path / "videos"
    for kind in ("video", "align"):
        (root / kind).mkdir(parents=True)
    shutil.copyfile(media.sample_video("bbaf3s"), root / "video" / "bbaf3s.mpg")
    shutil.copyfile(media.sample_align("bbaf3s"), root / "align" / "bbaf3s.align")
    # bbaf3s says "bin blue at f three soon": "at", "f" and "soon" are not in the list.
    vocabulary = ["three", "blue", "bin", "now"]
    (tmp_path / "vocabulary.txt").write_text("".join(f"{w}\n" for w in vocabulary))
    output = tmp_path / "data"
    result = lipflow("preprocess", "--input", str(root), "--output", str(output),
                     "--vocabulary", str(tmp_path / "vocabulary.txt"), "--train_fraction", "1",
                     "--val_fraction", "0", "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((output / "dataset_info.json").read_text())
    assert info["vocabulary"] == vocabulary
    assert sorted(_written_labels(str(output))) == [("bin", 2), ("blue", 1), ("three", 0)]
    dead = [json.loads(line) for line in (output / "dead_letters.jsonl").read_text().splitlines()]
    assert sorted(d["word"] for d in dead if d["reason"] == "out_of_vocabulary") == [
        "at", "f", "soon"]


def test_preprocess_with_a_missing_vocabulary_is_a_bad_setup(tmp_path):
    (tmp_path / "in").mkdir()
    result = lipflow("preprocess", "--input", str(tmp_path / "in"), "--output",
                     str(tmp_path / "out"), "--vocabulary", str(tmp_path / "none.txt"))
    assert result.returncode == 3, result.stderr[-2000:]
    assert "does not exist" in result.stderr
