"""The evaluation job's settings: one typed, frozen place, checked on construction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pipelines.evaluate.views import TTA_MODES
from pipelines.preprocess.splits import SPLITS

# Slices every report carries; `extra_slices` adds any context key of the clip schema.
CONTEXT_MODES = ("none", "bigram")
DEFAULT_SLICES = ("speaker", "show", "word_length", "face_size", "yaw", "edge_padded")


@dataclass(frozen=True)
class EvaluateConfig:
    """What is scored, how, and how the numbers are summarised."""

    models: tuple[str, ...]            # export folders; several are averaged as an ensemble
    split: str = "test"
    tta: str = "none"                  # test-time views averaged: none, flip or multi (10-crop)
    batch_size: int = 32               # clips per model call
    viseme_mapping: str = "lee2002"
    extra_slices: tuple[str, ...] = ()
    bootstrap_samples: int = 1000
    confidence_level: float = 0.95
    seed: int = 0
    baseline: str = ""                 # a metrics.json to compare against ("" = none)
    context: str = "none"              # none, or bigram: decode each video's words together
    context_weight: float = 0.25       # exponent of the context factor (chosen on GRID val)
    context_classes: int = 0           # word classes of the class bigram (0: chosen held out)

    def __post_init__(self):
        from pipelines.evaluate.homophemes import MAPPINGS
        from schemas.clip import CONTEXT_FEATURES

        if not self.models:
            raise ValueError("at least one model is needed")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if self.tta not in TTA_MODES:
            raise ValueError(f"tta must be one of {tuple(TTA_MODES)}, got {self.tta!r}")
        if self.viseme_mapping not in MAPPINGS:
            raise ValueError(f"viseme mapping must be one of {tuple(MAPPINGS)}, "
                             f"got {self.viseme_mapping!r}")
        known = {f.key for f in CONTEXT_FEATURES}
        unknown = [key for key in self.extra_slices if key not in known]
        if unknown:
            raise ValueError(f"cannot slice by {unknown}: not clip context keys "
                             f"(known: {', '.join(sorted(known))})")
        if self.context not in CONTEXT_MODES:
            raise ValueError(f"context must be one of {CONTEXT_MODES}, got {self.context!r}")
        if not 0.0 < self.context_weight <= 10.0 or self.context_classes < 0:
            raise ValueError("context_weight must be in (0, 10] and context_classes >= 0 "
                             f"(got {self.context_weight}, {self.context_classes})")
        if self.batch_size < 1 or self.bootstrap_samples < 0:
            raise ValueError("batch_size must be >= 1 and bootstrap_samples >= 0")
        if not 0.5 <= self.confidence_level < 1.0:
            raise ValueError(f"confidence_level must be in [0.5, 1), got {self.confidence_level}")

    @property
    def slices(self) -> tuple[str, ...]:
        return DEFAULT_SLICES + tuple(k for k in self.extra_slices if k not in DEFAULT_SLICES)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
