"""Export: a SavedModel that takes raw uint8 mouth crops and returns words.

The serving function holds the eval-time preprocessing (centre frames and crop,
normalisation with the train split's tf.Transform statistics, downscaling) and the vocabulary, so serving cannot drift
from training. Signature `serve` (also `serving_default`):

  frames         uint8 [batch, T, S, S]     grey mouth crops as the preprocess job writes
                                            (S: the dataset's crop size, 96 by default)
  boundary_mask  float32 [batch, T]         1 inside the word (ignored by models without it)
  -> probabilities     float32 [batch, classes]
     top_words         string  [batch, k]   the k most likely words (k = min(5, classes))
     top_probabilities float32 [batch, k]

Beside it: `model.keras` (for warm starts), `vocabulary.txt` (label order) and
`preprocessing.json`, the contract of the clips it learnt from (schemas/contract.py):
evaluate and predict cut or read clips only the same way.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from schemas.contract import CONTRACT_FILE, PreprocessingContract, contract_text
from schemas.export import SIGNATURE
from schemas.vocabulary import VOCABULARY_FILE, vocabulary_text
from trainer.input import DatasetStats, InputConfig, serving_features

TOP_K = 5


def serving_function(model: keras.Model, stats: DatasetStats, input_config: InputConfig):
    """The function the SavedModel serves: uint8 crops -> probabilities and top words."""
    vocabulary = tf.constant(list(stats.vocabulary))
    k = min(TOP_K, len(stats.vocabulary))

    def serve(frames, boundary_mask):
        features = serving_features(frames, boundary_mask, stats, input_config.crop_size,
                                    input_config.frames, input_config.downscale)
        logits = tf.cast(model(features, training=False), tf.float32)
        probabilities = tf.nn.softmax(logits, axis=-1)
        top = tf.math.top_k(probabilities, k=k)
        return {"probabilities": probabilities, "top_words": tf.gather(vocabulary, top.indices),
                "top_probabilities": top.values}

    return serve


def export_model(model: keras.Model, stats: DatasetStats, config, export_dir: str,
                 contract: PreprocessingContract) -> str:
    """Writes the SavedModel, model.keras, vocabulary.txt and preprocessing.json into
    `export_dir`; returns it. The serving input is `contract.crop_size` square."""
    tf.io.gfile.makedirs(export_dir)
    archive = keras.export.ExportArchive()
    archive.track(model)
    size = contract.crop_size
    signature = [tf.TensorSpec([None, None, size, size], tf.uint8, name="frames"),
                 tf.TensorSpec([None, None], tf.float32, name="boundary_mask")]
    archive.add_endpoint(SIGNATURE, serving_function(model, stats, config.input),
                         input_signature=signature)
    archive.write_out(export_dir, verbose=False)
    model.save(os.path.join(export_dir, "model.keras"))
    with tf.io.gfile.GFile(os.path.join(export_dir, VOCABULARY_FILE), "w") as handle:
        handle.write(vocabulary_text(list(stats.vocabulary)))
    with tf.io.gfile.GFile(os.path.join(export_dir, CONTRACT_FILE), "w") as handle:
        handle.write(contract_text(contract))
    return export_dir
