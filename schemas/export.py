"""A model export, as `lipflow train` writes it and evaluate, predict, retrain and a warm
start read it:

  EXPORT/                 a SavedModel whose `serve` signature (SIGNATURE) takes frames
                          and a boundary mask and returns probabilities over the words
  EXPORT/vocabulary.txt   the label order (schemas/vocabulary.py)
  EXPORT/preprocessing.json  the preprocessing contract (schemas/contract.py)

Read through tf.io.gfile (so any file system TensorFlow reads), without Beam.
`load_export` is the one loader: evaluate, predict and retrain (through evaluate) call it,
so every reader checks the same things.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass
class Export:
    """A loaded export: its `serve` signature, label order and preprocessing contract."""

    export_dir: str
    serve: object
    vocabulary: list[str]
    contract: PreprocessingContract


def _input_size(serve) -> int | None:
    spec = serve.structured_input_signature[1].get("frames")
    return None if spec is None else spec.shape[-1]


def load_export(export_dir: str) -> Export:
    """Loads an export and checks that its parts belong together: the vocabulary's length
    against the model's output width, and the contract's crop size against the model's
    input. ValueError, saying which, when the folder is not a usable export."""
    vocabulary = read_vocabulary(export_dir)
    contract = read_contract(export_dir)
    import tensorflow as tf

    try:
        serve = tf.saved_model.load(export_dir).signatures[SIGNATURE]
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"{export_dir!r} holds no loadable SavedModel with a {SIGNATURE!r} "
                         f"signature: {err}") from err
    check_output_width(serve, vocabulary, export_dir)
    size = _input_size(serve)
    if size is not None and size != contract.crop_size:
        raise ValueError(f"the model {export_dir!r} takes {size}-pixel crops but its contract "
                         f"says {contract.crop_size}")
    return Export(export_dir, serve, vocabulary, contract)
