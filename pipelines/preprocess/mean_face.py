"""The reference face that every frame is warped to before the mouth is cropped.

Only its stable points (eye corners, nose tip) drive the similarity warp, so it fixes
the scale and the upright pose of every crop: the outer eye corners lie `EYE_DISTANCE`
pixels apart, so a 96-pixel crop spans the mouth with the chin and the nose tip at its
edges, as in LRW. The values below are the Procrustes mean of the landmarks of the
repository's sample clips (every 5th frame), made by `estimate_mean_face`; run
`python -m pipelines.preprocess.mean_face data/sample/grid_s1/video/*.mpg` to remake them.
"""

from __future__ import annotations

import sys

import numpy as np

EYE_DISTANCE = 80.0
CANVAS = 256

# fmt: off
MEAN_FACE_68 = np.array([
    [57.89, 95.91],
    [60.14, 114.55],
    [62.34, 132.91],
    [64.64, 151.26],
    [70.48, 167.94],
    [81.50, 182.18],
    [96.43, 193.22],
    [112.94, 200.94],
    [131.33, 203.76],
    [148.90, 200.28],
    [162.57, 190.73],
    [173.65, 177.99],
    [180.35, 162.17],
    [183.11, 144.84],
    [184.50, 127.15],
    [185.64, 109.67],
    [186.51, 92.41],
    [72.52, 76.91],
    [79.92, 67.44],
    [91.88, 64.12],
    [104.47, 65.30],
    [116.44, 68.78],
    [138.62, 67.98],
    [150.26, 64.62],
    [162.14, 63.76],
    [173.14, 67.18],
    [179.07, 76.99],
    [128.72, 83.46],
    [129.37, 95.58],
    [130.18, 107.40],
    [130.95, 119.84],
    [115.58, 132.63],
    [122.79, 134.11],
    [130.14, 135.46],
    [136.85, 134.33],
    [143.36, 133.00],
    [86.25, 88.13],
    [93.47, 84.61],
    [101.97, 84.90],
    [110.27, 89.49],
    [102.15, 91.18],
    [93.34, 91.30],
    [143.24, 89.68],
    [150.89, 85.05],
    [159.33, 84.91],
    [166.25, 88.13],
    [159.95, 91.63],
    [151.36, 91.49],
    [104.27, 160.44],
    [113.49, 155.97],
    [123.38, 153.14],
    [130.33, 155.13],
    [137.46, 153.06],
    [146.40, 156.21],
    [154.24, 160.77],
    [146.97, 168.32],
    [138.64, 171.97],
    [131.06, 172.70],
    [123.63, 171.90],
    [113.75, 168.12],
    [108.45, 160.69],
    [123.53, 158.57],
    [130.46, 159.27],
    [137.58, 158.49],
    [150.05, 160.89],
    [137.96, 163.42],
    [130.77, 164.24],
    [123.76, 163.39],
], dtype=np.float64)
# fmt: on


def mean_face() -> np.ndarray:
    """float64 [68, 2]: the reference face, outer eye corners EYE_DISTANCE px apart."""
    return MEAN_FACE_68.copy()


def estimate_mean_face(videos: list[str], every: int = 5) -> np.ndarray:
    """Procrustes mean float64 [68, 2] of the dlib landmarks of every `every`-th frame."""
    from pipelines.preprocess.alignment import procrustes_mean
    from pipelines.preprocess.decode import DecodeReport, decode_frames
    from pipelines.preprocess.landmarks import make_backend
    from pipelines.preprocess.landmarks.tracker import FaceTracker

    backend = make_backend("dlib")
    backend.load()
    shapes = []
    for video in videos:
        tracker = FaceTracker(backend, detect_every=1)
        for index, frame in enumerate(decode_frames(video, DecodeReport())):
            points = tracker.update(frame) if index % every == 0 else None
            if points is not None:
                shapes.append(points)
    return procrustes_mean(np.stack(shapes), eye_distance=EYE_DISTANCE, canvas=CANVAS)


if __name__ == "__main__":
    estimated = estimate_mean_face(sys.argv[1:])
    print(",\n".join(f"    [{x:.2f}, {y:.2f}]" for x, y in estimated))
