"""Test-time augmentation: the views of a batch of 96x96 crops that are averaged.

The exported model centre-crops 88x88 itself, so a view is made on the 96x96 input: a
horizontal flip, or a shift by the 4-pixel margin that moves the model's centre crop
onto a corner crop. np.roll's wrapped-around rows land outside the 88x88 crop for
shifts up to the margin, so every view shows the model only real pixels, the same
crops it saw in training (random 88x88 crops, flips).
"""

from __future__ import annotations

import numpy as np

MARGIN = 4  # (96 - 88) / 2
_CORNERS = {"top_left": (-MARGIN, -MARGIN), "top_right": (-MARGIN, MARGIN),
            "bottom_left": (MARGIN, -MARGIN), "bottom_right": (MARGIN, MARGIN)}
TTA_MODES = {
    "none": ("centre",),
    "flip": ("centre", "flip"),
    # The classic 10-crop: centre and four corners, each also flipped.
    "multi": tuple(f"{name}{suffix}" for suffix in ("", "+flip")
                   for name in ("centre", *_CORNERS)),
}


def view(frames: np.ndarray, name: str) -> np.ndarray:
    """One named view of uint8 frames [..., H, W]: centre, a corner, optional '+flip'."""
    base, _, flip = name.partition("+")
    if base == "flip":
        base, flip = "centre", "flip"
    if base != "centre":
        if base not in _CORNERS:
            raise ValueError(f"unknown view {name!r}")
        # Shifting the content by -d moves the centre crop's window by +d.
        dy, dx = _CORNERS[base]
        frames = np.roll(frames, shift=(-dy, -dx), axis=(-2, -1))
    if flip:
        frames = frames[..., ::-1]
    return np.ascontiguousarray(frames)
