"""Mean-face alignment and mouth crops.

Landmarks follow the 68-point iBUG scheme (0-based: 33 nose tip, 36/39 and 42/45 eye
corners, 48-67 mouth); points are (x, y) in pixels, x to the right, y down. A frame is
registered to a mean face by a least-squares similarity on the stable points (nose
tip and eye corners), then shifted so the mouth sits at the centre of the crop.
Affine matrices are float64 [2, 3] and map a point p to M[:, :2] @ p + M[:, 2].
Pure numpy plus cv2 for the warp; no Beam, no TensorFlow.
"""

from __future__ import annotations

import cv2
import numpy as np

STABLE_POINTS: tuple[int, ...] = (33, 36, 39, 42, 45)
MOUTH_POINTS = slice(48, 68)
N_LANDMARKS = 68
LEFT_EYE_OUTER = 36
RIGHT_EYE_OUTER = 45


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """float64 [..., 2, 3]: least-squares similarity from src [..., N, 2] to dst [..., N, 2].

    Umeyama (1991) without reflection; the caller guarantees src is not degenerate.
    """
    src_mean = src.mean(axis=-2, keepdims=True)
    dst_mean = dst.mean(axis=-2, keepdims=True)
    src_centred = src - src_mean
    dst_centred = dst - dst_mean
    n_points = src.shape[-2]
    src_variance = np.sum(src_centred ** 2, axis=(-2, -1)) / n_points
    covariance = np.swapaxes(dst_centred, -1, -2) @ src_centred / n_points
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.where(np.linalg.det(u) * np.linalg.det(vt) < 0, -1.0, 1.0)
    correction = np.stack([np.ones_like(sign), sign], axis=-1)
    rotation = u @ (correction[..., :, None] * vt)
    scale = np.sum(singular * correction, axis=-1) / src_variance
    linear = scale[..., None, None] * rotation
    translation = dst_mean[..., 0, :] - (linear @ src_mean[..., 0, :, None])[..., 0]
    return np.concatenate([linear, translation[..., None]], axis=-1)


def _is_degenerate(points: np.ndarray) -> np.ndarray:
    """bool [...]: True where all points [..., N, 2] coincide (to rounding)."""
    spread = np.sum((points - points.mean(axis=-2, keepdims=True)) ** 2, axis=(-2, -1))
    magnitude = np.maximum(1.0, np.max(np.abs(points), axis=(-2, -1))) ** 2
    return spread <= np.finfo(np.float64).eps * magnitude


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) from src onto dst.

    Args:
      src: float [N, 2] source points (x, y), N >= 2, not all equal.
      dst: float [N, 2] destination points, same order as src.

    Returns:
      float64 [2, 3] M with dst ~= M[:, :2] @ p + M[:, 2]; never a reflection
      (det M[:, :2] > 0) and never a shear.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2 or src.shape != dst.shape:
        raise ValueError(
            f"src and dst must both have shape [N, 2] with N >= 2; got {src.shape!r} and "
            f"{dst.shape!r}")
    if not (np.all(np.isfinite(src)) and np.all(np.isfinite(dst))):
        raise ValueError("src and dst must be finite")
    if _is_degenerate(src):
        raise ValueError(f"src points all coincide, no similarity is defined: {src.tolist()!r}")
    return _umeyama(src, dst)


def _check_matrix(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(f"matrix must have shape [2, 3], got {matrix.shape!r}")
    return matrix


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """float64 [..., 2]: points [..., 2] mapped by the affine matrix [2, 3]."""
    matrix = _check_matrix(matrix)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 1 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape [..., 2], got {points.shape!r}")
    return points @ matrix[:, :2].T + matrix[:, 2]


def _check_face(name: str, face: np.ndarray) -> np.ndarray:
    face = np.asarray(face, dtype=np.float64)
    if face.shape != (N_LANDMARKS, 2):
        raise ValueError(f"{name} must have shape [{N_LANDMARKS}, 2], got {face.shape!r}")
    return face


def _check_crop_size(crop_size: int) -> None:
    if int(crop_size) != crop_size or crop_size < 1:
        raise ValueError(f"crop_size must be an integer >= 1 pixel, got {crop_size!r}")


def mouth_crop_transform(landmarks: np.ndarray, mean_face: np.ndarray,
                         crop_size: int) -> np.ndarray:
    """Affine matrix from source frame pixels to mouth-crop pixels.

    Args:
      landmarks: float [68, 2], this frame's landmarks in source pixels.
      mean_face: float [68, 2], the reference face in mean-face pixels.
      crop_size: side of the square crop in pixels.

    Returns:
      float64 [2, 3]: the similarity that takes landmarks[STABLE_POINTS] onto
      mean_face[STABLE_POINTS], shifted so the centroid of the mapped mouth points
      (48-67) lands on the crop centre ((crop_size - 1) / 2, (crop_size - 1) / 2).
    """
    landmarks = _check_face("landmarks", landmarks)
    mean_face = _check_face("mean_face", mean_face)
    _check_crop_size(crop_size)
    stable = list(STABLE_POINTS)
    matrix = similarity_transform(landmarks[stable], mean_face[stable])
    mouth_centre = apply_transform(matrix, landmarks[MOUTH_POINTS]).mean(axis=0)
    matrix[:, 2] += (crop_size - 1) / 2.0 - mouth_centre
    return matrix


def warp_crop(frame: np.ndarray, matrix: np.ndarray, crop_size: int) -> np.ndarray:
    """uint8 [crop_size, crop_size]: grey frame uint8 [H, W] warped by matrix [2, 3].

    Bilinear sampling; pixels that map outside the frame repeat its border.
    """
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 2:
        raise ValueError(
            f"frame must be a grey uint8 [H, W] image, got dtype {frame.dtype!r} and shape "
            f"{frame.shape!r}")
    matrix = _check_matrix(matrix)
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"matrix must be finite, got {matrix.tolist()!r}")
    _check_crop_size(crop_size)
    size = int(crop_size)
    return cv2.warpAffine(np.ascontiguousarray(frame), matrix, (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_footprint(matrix: np.ndarray, crop_size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), inclusive pixels: the frame pixels `warp_crop` reads.

    The crop's corners mapped back into the frame, widened by a pixel on each side for
    the bilinear neighbours and the warp's fixed-point rounding (1/32 pixel).
    """
    inverse = _inverse_affine(_check_matrix(matrix))
    last = float(crop_size - 1)
    corners = np.array([[0.0, 0.0], [last, 0.0], [0.0, last], [last, last]])
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    low, high = np.floor(mapped.min(axis=0)), np.floor(mapped.max(axis=0))
    return int(low[0]) - 1, int(low[1]) - 1, int(high[0]) + 2, int(high[1]) + 2


def _inverse_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of the affine matrix [2, 3], computed as cv2.warpAffine inverts it.

    Same operations in the same order, so a warp given this inverse (WARP_INVERSE_MAP)
    samples exactly the pixels `warp_crop` samples.
    """
    m = [float(v) for v in matrix.ravel()]
    det = m[0] * m[4] - m[1] * m[3]
    det = 1.0 / det if det != 0 else 0.0
    a11, a22 = m[4] * det, m[0] * det
    m[0], m[1], m[3], m[4] = a11, m[1] * -det, m[3] * -det, a22
    b1 = -m[0] * m[2] - m[1] * m[5]
    b2 = -m[3] * m[2] - m[4] * m[5]
    m[2], m[5] = b1, b2
    return np.array(m, dtype=np.float64).reshape(2, 3)


def warp_crop_from_region(region: np.ndarray, left: int, top: int, matrix: np.ndarray,
                          crop_size: int) -> np.ndarray:
    """uint8 [crop_size, crop_size]: `warp_crop` of a frame, from the part of it held.

    `region`: uint8 [h, w], the frame's pixels from column `left` and row `top` on;
    `matrix` maps frame pixels to crop pixels, as for `warp_crop`. The result equals
    `warp_crop(frame, matrix, crop_size)` when `region` holds the crop's footprint
    (`crop_footprint`), or reaches the frame's edge wherever the footprint passes it.
    """
    matrix = _check_matrix(matrix)
    _check_crop_size(crop_size)
    inverse = _inverse_affine(matrix)
    # Subtracting the integer origin is exact: the footprint, hence each translation,
    # lies at or beyond it.
    inverse[0, 2] -= left
    inverse[1, 2] -= top
    size = int(crop_size)
    return cv2.warpAffine(np.ascontiguousarray(region), inverse, (size, size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _canonical_pose(shape: np.ndarray, eye_distance: float, centre: np.ndarray) -> np.ndarray:
    """float64 [68, 2]: shape scaled to eye_distance, eyes level (36 left of 45), centroid at centre."""
    eye_line = shape[RIGHT_EYE_OUTER] - shape[LEFT_EYE_OUTER]
    length = float(np.hypot(*eye_line))
    if length == 0.0:
        raise ValueError("points 36 and 45 coincide; the eye line has no direction")
    cos, sin = eye_line / length
    rotation = np.array([[cos, sin], [-sin, cos]])
    centred = shape - shape.mean(axis=0)
    return centred @ (eye_distance / length * rotation).T + centre


def procrustes_mean(shapes: np.ndarray, eye_distance: float, canvas: int,
                    iterations: int = 10) -> np.ndarray:
    """Generalised Procrustes mean face of many landmark shapes.

    Args:
      shapes: float [N, 68, 2], landmark shapes in pixels (N >= 1).
      eye_distance: distance in pixels between points 36 and 45 in the result.
      canvas: side of the square mean-face canvas in pixels.
      iterations: rounds of align-to-mean / re-average / renormalise.

    Returns:
      float64 [68, 2]: the mean shape with |p45 - p36| = eye_distance, the line
      36 -> 45 horizontal (36 at smaller x), and the centroid of the 68 points at
      (canvas / 2, canvas / 2).
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    if shapes.ndim != 3 or shapes.shape[1:] != (N_LANDMARKS, 2) or shapes.shape[0] < 1:
        raise ValueError(f"shapes must have shape [N, {N_LANDMARKS}, 2] with N >= 1, "
                         f"got {shapes.shape!r}")
    if not np.all(np.isfinite(shapes)):
        raise ValueError("shapes must be finite")
    if not eye_distance > 0 or not canvas > 0:
        raise ValueError(f"eye_distance and canvas must be > 0 pixels, got {eye_distance!r} "
                         f"and {canvas!r}")
    if int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
    degenerate = np.flatnonzero(_is_degenerate(shapes))
    if degenerate.size:
        raise ValueError(f"shapes at indices {degenerate[:10].tolist()!r} have all points equal")

    origin = np.zeros(2)
    mean = _canonical_pose(shapes[0], 1.0, origin)
    for _ in range(int(iterations)):
        matrices = _umeyama(shapes, np.broadcast_to(mean, shapes.shape))
        aligned = shapes @ np.swapaxes(matrices[:, :, :2], 1, 2) + matrices[:, None, :, 2]
        mean = _canonical_pose(aligned.mean(axis=0), 1.0, origin)
    return _canonical_pose(mean, float(eye_distance), np.full(2, canvas / 2.0))
