"""An auxiliary target for training: which phonemes the word holds.

A vocabulary of short words gives some words a dozen training clips each (GRID's letters),
yet most of their sounds recur in other words: the K of "k" and "q" is also in "six" and
"x", the EY of "k" in "eight", "lay" and "place". A second head that predicts the word's
phonemes (a 39-way multi-label target, one per ARPAbet phoneme present) makes the features
of every word that holds a sound learn that sound together, so a rare word borrows from
common ones. The word's pronunciation is the one the evaluation's homopheme tables read
(`pipelines.evaluate.homophemes.pronunciation`: CMUdict's first entry, else letter-to-sound
rules), so no download happens. The head is used in training only; the export holds the
word classifier alone.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from pipelines.evaluate.homophemes import ARPABET, pronunciation
from trainer.models import LOGITS

WORD_OUTPUT = "word"
PHONEME_OUTPUT = "phonemes"
PHONEME_LOGITS = "phoneme_logits"


def phoneme_targets(vocabulary: tuple[str, ...]) -> np.ndarray:
    """float32 [words, 39]: 1 where the word's pronunciation holds the ARPAbet phoneme."""
    index = {phoneme: i for i, phoneme in enumerate(ARPABET)}
    table = np.zeros((len(vocabulary), len(ARPABET)), dtype=np.float32)
    for row, word in enumerate(vocabulary):
        try:
            phonemes, _ = pronunciation(word)
        except ValueError as err:
            raise ValueError(f"phoneme_loss needs a pronunciation of every word: {err}") from err
        table[row, [index[p] for p in phonemes]] = 1.0
    return table


def with_phoneme_head(model: keras.Model) -> keras.Model:
    """The training model: `model`'s inputs -> {word: its logits, phonemes: 39 logits from
    the features its classifier reads}. Shares every layer with `model`."""
    features = model.get_layer(LOGITS).input
    phonemes = layers.Dense(len(ARPABET), dtype="float32", name=PHONEME_LOGITS)(features)
    return keras.Model(model.input, {WORD_OUTPUT: model.output, PHONEME_OUTPUT: phonemes},
                       name=model.name)


def word_model(model: keras.Model) -> keras.Model:
    """The word classifier of a model trained with or without the phoneme head."""
    if not isinstance(model.output, dict):
        return model
    return keras.Model(model.input, model.get_layer(LOGITS).output, name=model.name)
