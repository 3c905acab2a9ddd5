"""face-alignment's FAN 68-point model (GPU-capable), the design's landmark model.

Its weights are fetched from the internet on first use and cached by torch
(`$TORCH_HOME/hub/checkpoints/`). Where they cannot be fetched, `load` fails with a
message that says how to place them by hand or which backend to use instead.
"""

from __future__ import annotations

import numpy as np

from pipelines.preprocess.landmarks.base import LandmarkBackend, LandmarkModelUnavailable

_INSTALL_HINT = ("install it with: .venv/bin/pip install -e '.[fan]' "
                 "(or use an offline backend: --landmarks mesh, the default, or dlib)")


class FanBackend(LandmarkBackend):
    """FAN landmarks with face-alignment's own face detector (`detector`: sfd or blazeface)."""

    name = "fan"

    def __init__(self, device: str = "cpu", detector: str = "sfd"):
        self._device = device
        self._detector_name = detector
        self._model = None

    def load(self) -> None:
        try:
            import face_alignment
        except ImportError as err:
            raise LandmarkModelUnavailable(
                f"The fan backend needs the face-alignment package; {_INSTALL_HINT}") from err
        try:
            self._model = face_alignment.FaceAlignment(
                face_alignment.LandmarksType.TWO_D, device=self._device,
                face_detector=self._detector_name)
        except (OSError, RuntimeError, ValueError) as err:
            raise LandmarkModelUnavailable(
                "face-alignment could not load its weights (they are downloaded on first use): "
                f"{err}. Put the weight files in $TORCH_HOME/hub/checkpoints/ on a machine "
                "without internet access, or use an offline backend: --landmarks mesh or dlib") from err

    @staticmethod
    def _rgb(frame: np.ndarray) -> np.ndarray:
        return np.repeat(frame[:, :, None], 3, axis=2)

    def detect_faces(self, frame: np.ndarray) -> np.ndarray:
        faces = self._model.face_detector.detect_from_image(self._rgb(frame))
        boxes = [face[:4] for face in faces]
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)

    def fit_landmarks(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        points = self._model.get_landmarks_from_image(self._rgb(frame), detected_faces=[box])
        return np.asarray(points[0][:, :2], dtype=np.float32)

    def versions(self) -> dict[str, str]:
        import face_alignment
        return {"backend": self.name, "face_alignment": face_alignment.__version__,
                "detector": self._detector_name, "device": self._device}
