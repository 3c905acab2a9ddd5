"""Vocabulary, label ids and pixel statistics, computed with tf.Transform on the train split.

The analysis sees three small features per training clip (its word and the mean and
mean square of its pixels; every clip has the same number of pixels, so their means
are the split's pixel mean and second moment). It writes a transform graph to
`transform_fn/` beside the TFRecords: `word -> label` (top-K words by count with a
minimum count; others map to -1) and the train split's pixel mean and std. Labels are
then attached by running that same graph, so the trainer and the exported model apply
exactly the mapping the data was written with.

With a fixed vocabulary (`--vocabulary PATH`: a vocabulary.txt, an export folder or an
earlier dataset) the graph maps words through that list, in its order, instead of
learning one; it is kept as the same asset (`transform_fn/assets/word`), so readers
cannot tell the two apart. Only the pixel statistics are then learnt.
"""

from __future__ import annotations

import dataclasses
import json

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, dead_letter, failure
from pipelines.storage import is_dir, read_text
from schemas.clip import ClipRecord
from schemas.layout import DATASET_INFO_FILE, TRANSFORM_DIR
from schemas.transform import (LABEL, OUT_OF_VOCABULARY, PIXEL_MEAN, PIXEL_SQ_MEAN,  # noqa: F401
                               PIXEL_STD, VOCABULARY_NAME, WORD, pixel_statistics,
                               transform_words)
from schemas.vocabulary import VOCABULARY_FILE, vocabulary_words

STAGE = "vocabulary"
_LABEL_BATCH = 64


def _words_of_folder(path: str) -> list[str]:
    """An export folder's vocabulary.txt, else a dataset's card or its transform graph."""
    for name in (VOCABULARY_FILE, DATASET_INFO_FILE):
        candidate = FileSystems.join(path, name)
        if FileSystems.exists(candidate):
            if name == VOCABULARY_FILE:
                return vocabulary_words(read_text(candidate, "utf-8"), candidate)
            return list(json.loads(read_text(candidate, "utf-8")).get("vocabulary", []))
    transform_dir = FileSystems.join(path, TRANSFORM_DIR)
    if FileSystems.exists(transform_dir):
        import tensorflow_transform as tft

        return [w.decode("utf-8") for w in
                tft.TFTransformOutput(transform_dir).vocabulary_by_name(VOCABULARY_NAME)]
    raise ValueError(f"--vocabulary {path!r} holds no {VOCABULARY_FILE} (an export folder), "
                     f"no {DATASET_INFO_FILE} and no {TRANSFORM_DIR}/ (a dataset)")


def read_fixed_vocabulary(path: str) -> list[str]:
    """Words in label order from a vocabulary.txt, an export folder or a dataset folder.

    ValueError if `path` is none of them, or if the list is empty, has blank lines or
    repeats a word (labels would be ambiguous).
    """
    if not FileSystems.exists(path):
        raise ValueError(f"--vocabulary {path!r} does not exist")
    words = (_words_of_folder(path) if is_dir(path)
             else vocabulary_words(read_text(path, "utf-8"), f"--vocabulary {path!r}"))
    if not words or any(not w.strip() or w != w.strip() for w in words):
        raise ValueError(f"--vocabulary {path!r}: the list is empty or has blank lines or "
                         "surrounding spaces")
    repeated = sorted({w for w in words if words.count(w) > 1})
    if repeated:
        raise ValueError(f"--vocabulary {path!r} repeats words {repeated[:5]!r}")
    return words


def write_vocabulary_asset(words: list[str], folder: str) -> str:
    """Writes `words` one a line as FOLDER/word (the asset's name in transform_fn); its path."""
    path = FileSystems.join(folder, VOCABULARY_NAME)
    with FileSystems.create(path, mime_type="text/plain") as handle:
        handle.write("".join(f"{w}\n" for w in words).encode("utf-8"))
    return path


def analysis_features(clip: ClipRecord) -> dict:
    """What the analysis needs of a clip: its word and its pixels' first two moments."""
    pixels = clip.frames.astype(np.float64)
    return {WORD: clip.word.encode("utf-8"), PIXEL_MEAN: float(pixels.mean()),
            PIXEL_SQ_MEAN: float(np.square(pixels).mean())}


def raw_metadata():
    """tf.Transform metadata of the analysis features."""
    import tensorflow as tf
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    spec = {WORD: tf.io.FixedLenFeature([], tf.string),
            PIXEL_MEAN: tf.io.FixedLenFeature([], tf.float32),
            PIXEL_SQ_MEAN: tf.io.FixedLenFeature([], tf.float32)}
    return dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))


def _fixed_labels(words, vocabulary_file: str):
    """word -> label through the file `vocabulary_file` (named `word`), kept as an asset."""
    import tensorflow as tf
    import tensorflow_transform as tft

    # Tracked so the file is copied into transform_fn/assets/ and read from there later.
    asset = tft.make_and_track_object(lambda: tf.saved_model.Asset(vocabulary_file),
                                      name="fixed_vocabulary")
    tft.annotate_asset(VOCABULARY_NAME, VOCABULARY_NAME)
    return tft.apply_vocabulary(words, deferred_vocab_filename_tensor=asset.asset_path,
                                default_value=OUT_OF_VOCABULARY)


def make_preprocessing_fn(top_k: int, min_count: int, vocabulary_file: str = ""):
    """The tf.Transform function: word -> label (learnt top-K, or through `vocabulary_file`
    when given); the split's pixel mean and std as constants."""

    def preprocessing_fn(inputs):
        import tensorflow as tf
        import tensorflow_transform as tft

        if vocabulary_file:
            label = _fixed_labels(inputs[WORD], vocabulary_file)
        else:
            label = tft.compute_and_apply_vocabulary(
                inputs[WORD], top_k=top_k,
                frequency_threshold=min_count if min_count > 1 else None,
                default_value=OUT_OF_VOCABULARY, vocab_filename=VOCABULARY_NAME)
        mean = tft.mean(inputs[PIXEL_MEAN], output_dtype=tf.float64)
        second = tft.mean(inputs[PIXEL_SQ_MEAN], output_dtype=tf.float64)
        std = tf.sqrt(tf.maximum(second - mean * mean, 0.0))
        # Moments in float64 (the variance is a small difference of large numbers); the
        # outputs in float32, the only float dtype a feature spec takes.
        ones = tf.ones_like(inputs[PIXEL_MEAN])
        return {LABEL: label, PIXEL_MEAN: tf.cast(mean, tf.float32) * ones,
                PIXEL_STD: tf.cast(std, tf.float32) * ones}

    return preprocessing_fn


def analysis_example(features: dict) -> bytes:
    """An analysis_features dict as a serialised tf.Example (floats in float32, as the
    feature spec reads them)."""
    import tensorflow as tf

    def floats(value):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))

    feature = {WORD: tf.train.Feature(bytes_list=tf.train.BytesList(value=[features[WORD]])),
               PIXEL_MEAN: floats(features[PIXEL_MEAN]),
               PIXEL_SQ_MEAN: floats(features[PIXEL_SQ_MEAN])}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write_transform_fn(features, transform_dir: str, temp_dir: str, preprocessing_fn):
    """PCollection[analysis_features dict] -> the written transform_fn (a signal).

    The features reach tf.Transform as Arrow record batches through a TFXIO, its native
    input; instance dicts go through a slower conversion it warns about."""
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.public import tfxio

    source = tfxio.TFExampleBeamRecord(physical_format="inmem", telemetry_descriptors=["lipflow"],
                                       schema=raw_metadata().schema)
    # Materialised right before tf.Transform, whose analyzers use side inputs internally
    # (the same runner bug as in AttachLabels would skew the statistics).
    batches = (features | "ToExamples" >> beam.Map(analysis_example)
               | "ToRecordBatches" >> source.BeamSource()
               | "MaterializeFeatures" >> beam.Reshuffle())
    with tft_beam.Context(temp_dir=temp_dir):
        transform_fn = ((batches, source.TensorAdapterConfig())
                        | "AnalyzeDataset" >> tft_beam.AnalyzeDataset(preprocessing_fn))
        return transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(transform_dir)


class AnalyzeFeatures(beam.PTransform):
    """PCollection[analysis_features dict] -> the written transform_fn (a signal).

    `vocabulary_file`: a fixed vocabulary (one word a line, file named `word`) to map
    words through instead of learning the top `top_k` with at least `min_count` clips.
    """

    def __init__(self, transform_dir: str, temp_dir: str, top_k: int, min_count: int,
                 vocabulary_file: str = ""):
        super().__init__()
        self._transform_dir = transform_dir
        self._temp_dir = temp_dir
        self._preprocessing_fn = make_preprocessing_fn(top_k, min_count, vocabulary_file)

    def expand(self, features):
        return _write_transform_fn(features, self._transform_dir, self._temp_dir,
                                   self._preprocessing_fn)


class AnalyzeVocabulary(AnalyzeFeatures):
    """PCollection[ClipRecord] of the train split -> the written transform_fn (a signal)."""

    def expand(self, train_clips):
        return super().expand(train_clips | "AnalysisFeatures" >> beam.Map(analysis_features))


class AttachLabelsFn(beam.DoFn):
    """Batches of ClipRecord -> ClipRecord with `label`; words outside the vocabulary are dead letters."""

    def __init__(self, transform_dir: str, fixed_vocabulary: bool = False):
        self._transform_dir = transform_dir
        self._fixed_vocabulary = fixed_vocabulary
        self._output = None
        self._out_of_vocabulary = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.out_of_vocabulary")

    def process(self, clips: list[ClipRecord], written):
        # The graph exists only once the side input (the write's completion) is ready.
        if self._output is None:
            import tensorflow_transform as tft

            self._output = tft.TFTransformOutput(self._transform_dir)
        labels = transform_words(self._output, [clip.word for clip in clips])
        for clip, label in zip(clips, labels):
            if label == OUT_OF_VOCABULARY:
                self._out_of_vocabulary.inc()
                yield dead_letter(failure(
                    clip.source_video, STAGE, "out_of_vocabulary",
                    f"word {clip.word!r} is not among the vocabulary's words ("
                    + ("the fixed --vocabulary" if self._fixed_vocabulary else
                       "top --vocab_size of the train split with at least --min_word_count "
                       "clips") + ")",
                    video_id=clip.video_id, word=clip.word, word_index=clip.word_index,
                    words_affected=1))
            else:
                yield dataclasses.replace(clip, label=int(label))


class AttachLabels(beam.PTransform):
    """PCollection[ClipRecord] -> main: labelled clips, dead_letter: out-of-vocabulary words."""

    def __init__(self, transform_dir: str, written, fixed_vocabulary: bool = False):
        super().__init__()
        self._transform_dir = transform_dir
        self._written = written
        self._fixed_vocabulary = fixed_vocabulary

    def expand(self, clips):
        from pipelines.preprocess.dead_letters import DEAD_LETTER

        # Materialised first: on the local multi-worker runner, a ParDo whose side input
        # derives from its own main input's producer silently lost that producer's last
        # outputs under load (about 3% to 19% of GRID's clips); a Reshuffle in between
        # lost none (see docs/commands/preprocess.md, "Local runs and a Beam data-loss bug").
        return (clips
                | "MaterializeClips" >> beam.Reshuffle()
                | "BatchClips" >> beam.BatchElements(min_batch_size=1, max_batch_size=_LABEL_BATCH)
                | "LabelBatch" >> beam.ParDo(AttachLabelsFn(self._transform_dir,
                                                            self._fixed_vocabulary),
                                             beam.pvalue.AsList(self._written)).with_outputs(
                    DEAD_LETTER, main="clips"))
