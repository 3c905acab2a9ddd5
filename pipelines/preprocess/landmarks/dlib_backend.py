"""An embedded offline backend: dlib's HOG face detector and 68-point shape predictor.

The predictor file ships inside the `face_recognition_models` package, so nothing is
downloaded at run time. It was trained on the iBUG 300-W data, whose terms restrict
commercial use (see the README).
"""

from __future__ import annotations

import functools

import numpy as np

from pipelines.preprocess.landmarks.base import LandmarkBackend, LandmarkModelUnavailable


def predictor_path() -> str:
    """Path of the 68-point predictor shipped in face_recognition_models."""
    try:
        import face_recognition_models
    except ImportError as err:
        raise LandmarkModelUnavailable(
            "The dlib backend needs the face_recognition_models package "
            "(pip install face_recognition_models)") from err
    return face_recognition_models.pose_predictor_model_location()


@functools.lru_cache(maxsize=None)
def shape_predictor(path: str):
    """The predictor at `path`, read once per process: reading the 100 MB file takes most of
    a second, and the job loads a backend more than once (a check before the pipeline, then
    each DoFn's setup). dlib's shape predictor is safe to share between threads (its
    detector, which holds scratch state, is made per backend)."""
    import dlib
    return dlib.shape_predictor(path)


class DlibBackend(LandmarkBackend):
    """dlib HOG detector (`upsample` pyramid levels up for small faces) + shape predictor."""

    name = "dlib"

    def __init__(self, upsample: int = 0):
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample!r}")
        self._upsample = upsample
        self._detector = None
        self._predictor = None

    def load(self) -> None:
        try:
            import dlib
        except ImportError as err:
            raise LandmarkModelUnavailable(
                "The dlib backend needs the dlib package (pip install dlib-bin)") from err
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = shape_predictor(predictor_path())

    def detect_faces(self, frame: np.ndarray) -> np.ndarray:
        rects = self._detector(frame, self._upsample)
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)

    def fit_landmarks(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        shape = self._predictor(frame, self._dlib.rectangle(x0, y0, x1, y1))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def versions(self) -> dict[str, str]:
        import dlib
        return {"backend": self.name, "dlib": dlib.__version__,
                "model": "shape_predictor_68_face_landmarks (face_recognition_models)"}
