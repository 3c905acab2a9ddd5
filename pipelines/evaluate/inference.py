"""RunInference over exported lipflow SavedModels: one ensemble, loaded once per worker.

Beam's stock TensorFlow handlers load through `tf.keras.models.load_model`, which under
Keras 3 no longer reads SavedModels; `SavedModelHandler` loads with
`tf.saved_model.load` and calls the export's `serve` signature instead, keeping
RunInference's batching, model sharing and dead-letter handling.

Several models (an ensemble) may know different words. Their probabilities are
scattered into one vocabulary (the union, in the order the models list their words)
and averaged over models and test-time views; a model gives 0 to a word it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from pipelines.evaluate.views import clip_view
from schemas.export import load_export


def union_vocabulary(vocabularies: Sequence[Sequence[str]]) -> list[str]:
    """Every word any model knows, in first-seen order."""
    seen: dict[str, None] = {}
    for words in vocabularies:
        seen.update(dict.fromkeys(words))
    return list(seen)


@dataclass
class Ensemble:
    """Loaded serving functions and where each one's outputs go in the union vocabulary."""

    serves: list
    columns: list[np.ndarray]   # per model: union index of each of its outputs
    size: int                   # union vocabulary size

    def probabilities(self, frames: np.ndarray, mask: np.ndarray,
                      views: Sequence[str]) -> np.ndarray:
        """Mean probabilities [batch, union] over models and views."""
        import tensorflow as tf

        total = np.zeros((frames.shape[0], self.size), dtype=np.float64)
        inputs = [clip_view(frames, mask, name) for name in views]
        for serve, columns in zip(self.serves, self.columns):
            for view_frames, view_mask in inputs:
                out = serve(frames=tf.constant(view_frames), boundary_mask=tf.constant(view_mask))
                total[:, columns] += out["probabilities"].numpy()
        return (total / (len(self.serves) * len(views))).astype(np.float32)


class SavedModelHandler(ModelHandler[dict, PredictionResult, Ensemble]):
    """Examples are clip dicts (`frames` uint8 [T, S, S], `boundary_mask` [T]); each
    prediction is the clip's probability vector over the union vocabulary."""

    def __init__(self, export_dirs: Sequence[str], vocabularies: Sequence[Sequence[str]],
                 views: Sequence[str], batch_size: int):
        super().__init__(min_batch_size=1, max_batch_size=batch_size)
        self._export_dirs = list(export_dirs)
        self._vocabularies = [list(v) for v in vocabularies]
        self._views = tuple(views)

    def load_model(self) -> Ensemble:
        union = union_vocabulary(self._vocabularies)
        index = {word: i for i, word in enumerate(union)}
        exports = [load_export(path) for path in self._export_dirs]
        for export, words in zip(exports, self._vocabularies):
            if export.vocabulary != list(words):
                raise ValueError(f"{export.export_dir!r} changed while the job ran: its "
                                 "vocabulary is not the one read at the start")
        columns = [np.array([index[w] for w in words]) for words in self._vocabularies]
        return Ensemble([export.serve for export in exports], columns, len(union))

    def run_inference(self, batch: Sequence[dict], model: Ensemble,
                      inference_args: Optional[dict[str, Any]] = None
                      ) -> Iterable[PredictionResult]:
        frames = np.stack([clip["frames"] for clip in batch])
        mask = np.stack([clip["boundary_mask"] for clip in batch]).astype(np.float32)
        probabilities = model.probabilities(frames, mask, self._views)
        return [PredictionResult(clip, row, "+".join(self._export_dirs))
                for clip, row in zip(batch, probabilities)]

    def get_num_bytes(self, batch: Sequence[dict]) -> int:
        return sum(clip["frames"].nbytes for clip in batch)

    def get_metrics_namespace(self) -> str:
        return "lipflow.evaluate.inference"
