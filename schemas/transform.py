"""The tf.Transform graph a dataset keeps in transform_fn/: its feature names, and how a
reader gets the vocabulary's label ids and the train split's pixel statistics out of it.

The preprocess job writes the graph (pipelines/preprocess/vocabulary.py); the trainer and
retrain's merge read it. Beam-free: TensorFlow is imported only by the functions that run
the graph.
"""

from __future__ import annotations

WORD = "word"                  # raw feature: a clip's word
PIXEL_MEAN = "pixel_mean"      # raw: the clip's mean pixel; out: the train split's mean
PIXEL_SQ_MEAN = "pixel_sq_mean"
LABEL = "label"                # out: the word's label id (OUT_OF_VOCABULARY when none)
PIXEL_STD = "pixel_std"        # out: the train split's pixel standard deviation
VOCABULARY_NAME = "word"       # the vocabulary asset's name in the graph
OUT_OF_VOCABULARY = -1


def _raw(words: list[bytes]) -> dict:
    import tensorflow as tf

    count = len(words)
    return {WORD: tf.constant(words), PIXEL_MEAN: tf.zeros([count], tf.float32),
            PIXEL_SQ_MEAN: tf.zeros([count], tf.float32)}


def transform_words(transform_output, words: list[str]):
    """Label ids int64 [N] of words through the written transform graph (-1: not in it)."""
    raw = _raw([w.encode("utf-8") for w in words])
    return transform_output.transform_raw_features(raw)[LABEL].numpy()


def pixel_statistics(transform_output) -> tuple[float, float]:
    """(mean, std) of the train split's pixels, as stored in the transform graph."""
    out = transform_output.transform_raw_features(_raw([b""]))
    return float(out[PIXEL_MEAN].numpy()[0]), float(out[PIXEL_STD].numpy()[0])
