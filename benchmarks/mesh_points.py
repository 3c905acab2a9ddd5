"""The face mesh's points that stand for the 68 iBUG points: how the table was made.

    .venv/bin/python benchmarks/mesh_points.py --grid DIR [--videos 40] [--every 10]
        [--output benchmarks/results/mesh_points.json]

On every `--every`-th frame of the first `--videos` GRID recordings (a frontal face, where
dlib's 68-point model is at its best), dlib's points and the mesh's 468 points are fitted,
each with its own detector. For each iBUG point, the mesh point of the same part of the face
(jaw line from the face oval, brows, nose, eye lids, outer and inner lips; the eye and
mouth corners fixed to the mesh's own) whose median distance to dlib's point, in outer-eye-
corner distances, is smallest is chosen. The result lists the table and each point's
median distance, and checks it against the table in
pipelines/preprocess/landmarks/mesh_points.py. Only the JSON result goes to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import sys

import numpy as np

from bench_utils import (  # beside this script
    add_output_argument, cpu_model, output_path, stdout_to_stderr,
    write_result)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = "benchmarks/results/mesh_points.json"

# The mesh's contours (MediaPipe's face-mesh topology), by the part of the face they draw.
OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
        152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
BROW_LEFT_OF_IMAGE = [70, 63, 105, 66, 107, 46, 53, 52, 65, 55]
BROW_RIGHT_OF_IMAGE = [336, 296, 334, 293, 300, 285, 295, 282, 283, 276]
EYE_LEFT_UPPER, EYE_LEFT_LOWER = [246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153,
                                                                       154, 155]
EYE_RIGHT_UPPER, EYE_RIGHT_LOWER = [398, 384, 385, 386, 387, 388, 466], [249, 390, 373, 374,
                                                                         380, 381, 382]
LIP_UPPER_OUTER = [185, 40, 39, 37, 0, 267, 269, 270, 409]
LIP_LOWER_OUTER = [375, 321, 405, 314, 17, 84, 181, 91, 146]
LIP_UPPER_INNER = [191, 80, 81, 82, 13, 312, 311, 310, 415]
LIP_LOWER_INNER = [324, 318, 402, 317, 14, 87, 178, 88, 95]
CORNERS = {36: 33, 39: 133, 42: 362, 45: 263, 48: 61, 54: 291, 60: 78, 64: 308}


def candidates() -> dict[int, list[int]]:
    """iBUG point -> the mesh points of its part of the face."""
    contours = (OVAL + BROW_LEFT_OF_IMAGE + BROW_RIGHT_OF_IMAGE + EYE_LEFT_UPPER
                + EYE_LEFT_LOWER + EYE_RIGHT_UPPER + EYE_RIGHT_LOWER + LIP_UPPER_OUTER
                + LIP_LOWER_OUTER + LIP_UPPER_INNER + LIP_LOWER_INNER + list(CORNERS.values()))
    nose = [i for i in range(468) if i not in set(contours)]
    parts = {**{i: OVAL for i in range(17)}, **{i: BROW_LEFT_OF_IMAGE for i in range(17, 22)},
             **{i: BROW_RIGHT_OF_IMAGE for i in range(22, 27)}, **{i: nose for i in range(27, 36)},
             37: EYE_LEFT_UPPER, 38: EYE_LEFT_UPPER, 40: EYE_LEFT_LOWER, 41: EYE_LEFT_LOWER,
             43: EYE_RIGHT_UPPER, 44: EYE_RIGHT_UPPER, 46: EYE_RIGHT_LOWER, 47: EYE_RIGHT_LOWER,
             **{i: LIP_UPPER_OUTER for i in range(49, 54)},
             **{i: LIP_LOWER_OUTER for i in range(55, 60)},
             **{i: LIP_UPPER_INNER for i in range(61, 64)},
             **{i: LIP_LOWER_INNER for i in range(65, 68)}}
    parts.update({point: [mesh] for point, mesh in CORNERS.items()})
    return parts


def paired_points(paths: list[str], every: int) -> tuple[np.ndarray, np.ndarray]:
    """(dlib float [N, 68, 2], mesh float [N, 468, 2]) on frames where both find one face."""
    from pipelines.preprocess.decode import DecodeReport, decode_frames
    from pipelines.preprocess.landmarks import make_backend

    dlib, mesh = make_backend("dlib"), make_backend("mesh")
    dlib.load()
    mesh.load()
    ours, theirs = [], []
    for path in paths:
        for index, frame in enumerate(decode_frames(path, DecodeReport())):
            if index % every:
                continue
            found, boxes = dlib.detect_faces(frame), mesh.detect_faces(frame)
            if len(found) != 1 or len(boxes) != 1:
                continue
            points = mesh.fit_mesh(frame, boxes[0])
            if points is not None:
                ours.append(dlib.fit_landmarks(frame, found[0]))
                theirs.append(points)
    return np.asarray(ours, np.float64), np.asarray(theirs, np.float64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", required=True, help="a GRID speaker folder (video/, align/)")
    parser.add_argument("--videos", type=int, default=40, help="recordings used (default 40)")
    parser.add_argument("--every", type=int, default=10, help="every n-th frame (default 10)")
    add_output_argument(parser, DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    output = output_path(args.output, REPO, DEFAULT_OUTPUT)
    sys.path.insert(0, REPO)
    from pipelines.preprocess.landmarks.mesh_points import MESH_TO_IBUG

    started = datetime.datetime.now(datetime.timezone.utc)
    paths = sorted(glob.glob(os.path.join(args.grid, "video", "*.mpg")))[::10][:args.videos]
    with stdout_to_stderr():
        dlib, mesh = paired_points(paths, args.every)
    eyes = np.linalg.norm(dlib[:, 45] - dlib[:, 36], axis=1)
    distance = np.linalg.norm(dlib[:, :, None, :] - mesh[:, None, :, :], axis=-1) / eyes[:, None,
                                                                                       None]
    median = np.median(distance, axis=0)
    table, errors = [], []
    for point, parts in sorted(candidates().items()):
        parts = np.asarray(parts)
        best = int(parts[np.argmin(median[point, parts])])
        table.append(best)
        errors.append(round(float(median[point, best]), 4))
    mouth = np.linalg.norm(mesh[:, np.asarray(table)[48:68]].mean(axis=1)
                           - dlib[:, 48:68].mean(axis=1), axis=1) / eyes
    write_result(output, {
        "benchmark": "mesh_points", "date": started.isoformat(timespec="seconds"),
        "recordings": len(paths), "frames": int(len(dlib)), "table": table,
        "matches_the_code": table == MESH_TO_IBUG.tolist(),
        "median_distance_in_eye_distances": errors,
        "mouth_centre_distance_median": round(float(np.median(mouth)), 4),
        "mouth_width_per_eye_distance_median": round(float(np.median(
            np.linalg.norm(dlib[:, 54] - dlib[:, 48], axis=1) / eyes)), 3),
        "cpu": cpu_model()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
