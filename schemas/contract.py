"""The preprocessing contract: what a model depends on in the clips it learnt from.

A model is only right on clips cut the way its training clips were: at the same frame
rate, with windows of the same length, crops of the same size, aligned to the same
mean face, from the same landmark backend with its points smoothed the same way, in the
same record schema; and it
normalises pixels with the statistics of its training split. The preprocess job
writes this contract into `dataset_info.json` ("preprocessing"); `lipflow train` copies
it into the export (`preprocessing.json`); `train`, `evaluate` and `predict` compare
the two and refuse a mismatch, naming both values. Plain Python; no Beam, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np

CONTRACT_KEY = "preprocessing"        # its key in dataset_info.json
CONTRACT_FILE = "preprocessing.json"  # its file in an export folder
# What clips must share with a model's training clips; the pixel statistics are the
# model's own (baked into its serving function), so other data may have others.
MATCHED_FIELDS = ("schema_version", "fps", "window_length", "crop_size", "landmarks",
                  "smooth_window", "mean_face_version")
# What a contract written before a field existed held for it (the setting of that time).
_EARLIER_VALUES = {"smooth_window": 12}


def mean_face_version(reference: np.ndarray) -> str:
    """A short fingerprint of a mean-face reference float [68, 2] (changes when it is remade)."""
    points = np.round(np.asarray(reference, dtype=np.float64), 4)
    return "sha1:" + hashlib.sha1(points.tobytes()).hexdigest()[:12]


@dataclass(frozen=True)
class PreprocessingContract:
    """The preprocessing a model depends on. Times in seconds, sizes in pixels.

    `mean_face`: the reference [68, 2] (mean-face pixels) the crops were aligned to.
    `pixel_mean`, `pixel_std`: grey levels of the train split (the model's normalisation).
    """

    schema_version: str
    fps: float
    window_length: int
    crop_size: int
    landmarks: str
    mean_face_version: str
    mean_face: tuple[tuple[float, float], ...]
    pixel_mean: float
    pixel_std: float
    smooth_window: int = _EARLIER_VALUES["smooth_window"]

    def __post_init__(self):
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"contract fps must be > 0, got {self.fps!r}")
        if self.window_length < 1 or self.crop_size < 1:
            raise ValueError(f"contract window_length and crop_size must be >= 1, got "
                             f"{self.window_length!r}, {self.crop_size!r}")
        if len(self.mean_face) != 68:
            raise ValueError(f"contract mean_face must hold 68 points, got {len(self.mean_face)}")

    def as_dict(self) -> dict:
        document = dataclasses.asdict(self)
        document["mean_face"] = [list(p) for p in self.mean_face]
        return document

    def reference(self) -> np.ndarray:
        """float64 [68, 2]: the mean face the crops are aligned to."""
        return np.asarray(self.mean_face, dtype=np.float64)


def make_contract(options: dict, reference: np.ndarray, pixel_mean: float, pixel_std: float,
                  schema_version: str) -> PreprocessingContract:
    """The contract of clips made with preprocess `options` (PreprocessConfig.as_dict())."""
    points = np.asarray(reference, dtype=np.float64)
    return PreprocessingContract(
        schema_version=schema_version, fps=float(options["fps"]),
        window_length=int(options["window_length"]), crop_size=int(options["crop_size"]),
        landmarks=str(options["landmarks"]), mean_face_version=mean_face_version(points),
        mean_face=tuple((float(x), float(y)) for x, y in points),
        pixel_mean=float(pixel_mean), pixel_std=float(pixel_std),
        smooth_window=int(options["smooth_window"]))


def contract_from_dict(document: dict, where: str) -> PreprocessingContract:
    """The contract in a JSON document; ValueError naming `where` if it is not one."""
    if not isinstance(document, dict):
        raise ValueError(f"{where} holds no preprocessing contract")
    names = [f.name for f in dataclasses.fields(PreprocessingContract)]
    missing = [name for name in names if name not in document and name not in _EARLIER_VALUES]
    if missing:
        raise ValueError(f"{where} has no {', '.join(missing)} in its preprocessing contract")
    values = {name: document.get(name, _EARLIER_VALUES.get(name)) for name in names}
    values["mean_face"] = tuple(tuple(float(v) for v in p) for p in values["mean_face"])
    return PreprocessingContract(**values)


def dataset_contract(card: dict, data: str) -> PreprocessingContract:
    """The contract in a dataset's dataset_info.json content; ValueError if it has none."""
    if CONTRACT_KEY not in card:
        raise ValueError(f"the dataset {data!r} has no preprocessing contract in its "
                         "dataset_info.json (an older lipflow wrote it): run lipflow preprocess "
                         "again")
    return contract_from_dict(card[CONTRACT_KEY], f"the dataset_info.json of {data!r}")


def contract_text(contract: PreprocessingContract) -> str:
    return json.dumps(contract.as_dict(), indent=2, sort_keys=True) + "\n"


def mismatches(model: PreprocessingContract, clips: PreprocessingContract) -> list[str]:
    """One line per field the clips do not share with the model, naming both values."""
    return [f"{name}: the model expects {getattr(model, name)!r}, the clips have "
            f"{getattr(clips, name)!r}"
            for name in MATCHED_FIELDS if getattr(model, name) != getattr(clips, name)]


def check_contract(model: PreprocessingContract, clips: PreprocessingContract,
                   model_name: str, clips_name: str) -> None:
    """ValueError listing every mismatch between a model's contract and some clips'."""
    found = mismatches(model, clips)
    if found:
        raise ValueError(f"the model {model_name} was trained on clips made differently from "
                         f"{clips_name}: " + "; ".join(found)
                         + ". Preprocess the data with the model's settings, or train a model "
                           "on this data")
