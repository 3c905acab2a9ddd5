"""The one small interface every landmark backend implements.

A backend does two things: find face boxes in a frame, and fit the 68 iBUG points
inside a given box. Keeping the two apart lets the tracker run the (slow) detector on
a subset of frames and fit points inside a box carried over from the previous frame.
"""

from __future__ import annotations

import abc

import numpy as np

NUM_LANDMARKS = 68


class LandmarkModelUnavailable(RuntimeError):
    """The backend's model cannot be loaded here; the message says what to do about it."""


class LandmarkBackend(abc.ABC):
    """Face detector + 68-point landmark model. Loaded once per worker (`load`)."""

    name: str = "abstract"

    @abc.abstractmethod
    def load(self) -> None:
        """Loads the models; raises LandmarkModelUnavailable with a remedy if it cannot."""

    @abc.abstractmethod
    def detect_faces(self, frame: np.ndarray) -> np.ndarray:
        """Face boxes of a uint8 [H, W] grey frame as float32 [F, 4] (x0, y0, x1, y1) pixels."""

    @abc.abstractmethod
    def fit_landmarks(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """The 68 points of the face in `box` (float [4]) as float32 [68, 2] (x, y) pixels,
        or None where the model says the box holds no face (a model without such a score,
        like dlib's, always fits)."""

    def versions(self) -> dict[str, str]:
        """Model and package versions, recorded in the run's manifest."""
        return {"backend": self.name}
