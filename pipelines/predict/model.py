"""An exported model, loaded for prediction, with the contract its clips must follow.

The export's own serving function does the eval-time preprocessing (centre crop,
normalisation with its train split's statistics), so predictions here are exactly
what `evaluate` and any server get from the same crops.
"""

from __future__ import annotations

import logging

import numpy as np

from schemas.clip import SCHEMA_VERSION
from schemas.contract import PreprocessingContract, mean_face_version
from schemas.export import Export, load_export

_LOG = logging.getLogger(__name__)
BATCH = 32  # clips per model call


class LoadedModel(Export):
    """An export loaded for prediction: its `serve` signature, label order and contract."""

    def probabilities(self, frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """float32 [N, classes] for uint8 frames [N, T, S, S] and boundary masks [N, T]."""
        import tensorflow as tf

        out = []
        for first in range(0, frames.shape[0], BATCH):
            result = self.serve(frames=tf.constant(frames[first:first + BATCH]),
                                boundary_mask=tf.constant(
                                    masks[first:first + BATCH].astype(np.float32)))
            out.append(result["probabilities"].numpy())
        if not out:
            return np.zeros((0, len(self.vocabulary)), np.float32)
        return np.concatenate(out).astype(np.float32)


def check_contract_usable(contract: PreprocessingContract, export_dir: str) -> None:
    """ValueError when this lipflow cannot cut clips the way the export's clips were cut."""
    if contract.schema_version != SCHEMA_VERSION:
        raise ValueError(f"the model {export_dir!r} was trained on clips of schema "
                         f"{contract.schema_version!r}, this lipflow cuts clips of schema "
                         f"{SCHEMA_VERSION!r}: use the lipflow it was trained with, or train "
                         "it again")
    recorded = mean_face_version(contract.reference())
    if recorded != contract.mean_face_version:
        raise ValueError(f"the mean face in {export_dir!r} has version {recorded!r} but the "
                         f"contract names {contract.mean_face_version!r}: the export's "
                         "preprocessing.json was edited or damaged")


def load_model(export_dir: str) -> LoadedModel:
    """Loads an export (schemas/export.py checks its parts) and checks that this lipflow
    can cut clips the way its clips were cut; ValueError otherwise."""
    export = load_export(export_dir)
    check_contract_usable(export.contract, export_dir)
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    _LOG.info("model %s: %d words, %s", export_dir, len(export.vocabulary),
              f"on {devices[0]}" if devices else "on the CPU")
    return LoadedModel(export.export_dir, export.serve, export.vocabulary, export.contract)
