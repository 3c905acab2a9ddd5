"""Test-time augmentation: the views of a batch of clips whose predictions are averaged.

A view has a spatial part and an optional shift in time, named `SPATIAL[@SHIFT]`
(`centre`, `top_left+flip`, `centre@-1`).

Spatial: the exported model centre-crops 88x88 itself, so a spatial view is made on the
96x96 input: a horizontal flip, or a shift by the 4-pixel margin that moves the model's
centre crop onto a corner crop. np.roll's wrapped-around rows land outside the 88x88 crop
for shifts up to the margin, so every view shows the model only real pixels, the same
crops it saw in training (random 88x88 crops, flips).

Time: a model trained with `input.time_jitter` saw its kept frames shifted by a frame or
two either way around the word's centre; `@+k` shows it the window moved k frames later
(frames and boundary mask alike), so the vote covers the placements it was trained on.
Frames past the clip's ends repeat its edge frame, as the preprocessing pads a window at
a video's ends, and the mask is 0 there (outside the word); a model that keeps only the
centre frames of the window never sees those for shifts within its margin.
"""

from __future__ import annotations

import numpy as np

MARGIN = 4  # (96 - 88) / 2
TIME_SHIFT = 1  # the grid presets' input.time_jitter: the shifts their models trained on
_CORNERS = {"top_left": (-MARGIN, -MARGIN), "top_right": (-MARGIN, MARGIN),
            "bottom_left": (MARGIN, -MARGIN), "bottom_right": (MARGIN, MARGIN)}
_TIMES = ("", f"@-{TIME_SHIFT}", f"@+{TIME_SHIFT}")
TTA_MODES = {
    "none": ("centre",),
    "flip": ("centre", "flip"),
    # The classic 10-crop: centre and four corners, each also flipped.
    "multi": tuple(f"{name}{suffix}" for suffix in ("", "+flip")
                   for name in ("centre", *_CORNERS)),
    # The centre crop at the word's centre and one frame either side.
    "time": tuple(f"centre{t}" for t in _TIMES),
    # Both: centre and mirror, each at the three placements in time (6 views).
    "flip_time": tuple(f"{name}{t}" for t in _TIMES for name in ("centre", "flip")),
}


def view(frames: np.ndarray, name: str) -> np.ndarray:
    """One named spatial view of uint8 frames [..., H, W]: centre, a corner, optional '+flip'."""
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


def shifted_in_time(frames: np.ndarray, mask: np.ndarray, shift: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The window moved `shift` frames later: frames [B, T, ...] and mask [B, T] with
    out[:, t] = in[:, t + shift]; past the ends, the edge frame and a mask of 0."""
    steps = frames.shape[1]
    source = np.arange(steps) + shift
    index = np.clip(source, 0, steps - 1)
    inside = source == index
    moved_mask = np.where(inside, mask[:, index], 0).astype(mask.dtype)
    return np.ascontiguousarray(frames[:, index]), moved_mask


def clip_view(frames: np.ndarray, mask: np.ndarray, name: str
              ) -> tuple[np.ndarray, np.ndarray]:
    """One named view (`SPATIAL[@SHIFT]`) of a batch: frames uint8 [B, T, H, W], mask [B, T]."""
    spatial, _, shift = name.partition("@")
    frames = view(frames, spatial)
    if not shift:
        return frames, mask
    try:
        steps = int(shift)
    except ValueError:
        raise ValueError(f"unknown view {name!r}: the shift after '@' is not an integer") from None
    return shifted_in_time(frames, mask, steps)
