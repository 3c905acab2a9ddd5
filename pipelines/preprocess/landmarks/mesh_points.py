"""The 68 iBUG points read off the 468-point face mesh.

Each iBUG point takes one mesh point of the same part of the face (jaw line from the face
oval, brows, nose, eye corners and lids, outer and inner lip contours): within that part,
the mesh point nearest to dlib's point over 312 frames of 39 GRID recordings (median
distance in outer-eye-corner distances; `python benchmarks/mesh_points.py --grid DIR`
remakes the table and writes benchmarks/results/mesh_points.json). The eye and mouth
corners are fixed to the mesh's own corners (33, 133, 362, 263; 61, 291, 78, 308), so the
points the warp and the quality checks use keep their meaning. Pure numpy.
"""

from __future__ import annotations

import numpy as np

# fmt: off
MESH_TO_IBUG = np.array([
    127, 93, 132, 58, 172, 136, 149, 148, 152, 400, 378, 365, 397, 288, 361, 454, 356,  # jaw
    46, 63, 105, 66, 107,                     # brow on the image's left (17-21)
    336, 296, 334, 293, 276,                  # brow on the image's right (22-26)
    168, 197, 195, 4, 75, 99, 2, 328, 460,    # nose bridge (27-30) and base (31-35)
    33, 160, 158, 133, 153, 144,              # eye on the image's left (36-41)
    362, 384, 386, 263, 373, 380,             # eye on the image's right (42-47)
    61, 39, 37, 0, 267, 270, 291, 405, 314, 17, 84, 181,  # outer lip (48-59)
    78, 82, 13, 312, 308, 317, 14, 87,        # inner lip (60-67)
])
# fmt: on


def ibug_points(mesh: np.ndarray) -> np.ndarray:
    """float [68, 2]: the iBUG points of mesh points [468, 2] (or [..., 468, 2])."""
    mesh = np.asarray(mesh)
    if mesh.shape[-2:] != (468, 2):
        raise ValueError(f"mesh points must have shape [..., 468, 2], got {mesh.shape!r}")
    return mesh[..., MESH_TO_IBUG, :]
