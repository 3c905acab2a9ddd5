"""A model export, as `lipflow train` writes it and evaluate, predict, retrain and a warm
start read it:

  EXPORT/                 a SavedModel whose `serve` signature (SIGNATURE) takes frames
                          and a boundary mask and returns probabilities over the words
  EXPORT/vocabulary.txt   the label order (schemas/vocabulary.py)
  EXPORT/preprocessing.json  the preprocessing contract (schemas/contract.py)

Read through tf.io.gfile (so any file system TensorFlow reads), without Beam.
"""

from __future__ import annotations

import json
from typing import Sequence

from schemas.contract import CONTRACT_FILE, PreprocessingContract, contract_from_dict
from schemas.vocabulary import VOCABULARY_FILE, vocabulary_words

SIGNATURE = "serve"


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}"


def read_vocabulary(export_dir: str) -> list[str]:
    """The label order of an export (one word a line), or ValueError if it is not one."""
    gfile, path = _gfile(), _join(export_dir, VOCABULARY_FILE)
    if not gfile.exists(path):
        raise ValueError(f"{export_dir!r} is not a lipflow export: it has no {VOCABULARY_FILE} "
                         f"(pass the export/ folder that lipflow train wrote)")
    with gfile.GFile(path, "rb") as handle:
        return vocabulary_words(handle.read().decode("utf-8"), path)


def check_output_width(serve, vocabulary: Sequence[str], export_dir: str) -> None:
    """ValueError unless the serving signature scores as many words as the vocabulary
    names: a vocabulary.txt that does not belong to its model would label every clip
    wrong."""
    spec = serve.structured_outputs.get("probabilities")
    width = None if spec is None else spec.shape[-1]
    if width is not None and width != len(vocabulary):
        raise ValueError(f"the model {export_dir!r} scores {width} words but its "
                         f"{VOCABULARY_FILE} names {len(vocabulary)}: the two do not belong "
                         "together (export the model again)")


def read_contract(export_dir: str) -> PreprocessingContract:
    """The preprocessing contract of an export, or ValueError saying why there is none."""
    gfile, path = _gfile(), _join(export_dir, CONTRACT_FILE)
    if not gfile.exists(path):
        raise ValueError(f"{export_dir!r} has no {CONTRACT_FILE}: it is not a lipflow export, or "
                         "an older lipflow exported it (train it again to record how its clips "
                         "were made)")
    with gfile.GFile(path, "rb") as handle:
        try:
            document = json.loads(handle.read().decode("utf-8"))
        except ValueError as err:
            raise ValueError(f"{path} is not JSON: {err}") from err
    return contract_from_dict(document, path)
