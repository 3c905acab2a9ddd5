"""Slice values of a clip: the metadata keys its accuracy is broken down by.

Derived slices bucket the quality measures the preprocess job recorded; the buckets
are fixed (not quantiles) so that two reports on different data slice alike.
"""

from __future__ import annotations

from typing import Sequence

from schemas.clip import FACE_SIZE, PADDED_AFTER, PADDED_BEFORE, WORD, YAW

UNKNOWN = "(none)"
# Outer-eye-corner distance in source pixels; the quality filter drops faces under 40.
FACE_SIZE_BUCKETS = ((60.0, "<60 px"), (90.0, "60-90 px"), (float("inf"), ">=90 px"))
# The yaw proxy runs from 0 (frontal) to 1 (profile); the filter drops clips over 0.5.
YAW_BUCKETS = ((0.1, "frontal <0.1"), (0.25, "slight 0.1-0.25"), (float("inf"), "turned >=0.25"))


def _bucket(value: float, buckets) -> str:
    return next(name for limit, name in buckets if value < limit)


def _derived(clip: dict, key: str) -> str | None:
    if key == "word_length":
        return f"{len(clip[WORD])} letters"
    if key == "face_size":
        return _bucket(float(clip[FACE_SIZE]), FACE_SIZE_BUCKETS)
    if key == "yaw":
        return _bucket(float(clip[YAW]), YAW_BUCKETS)
    if key == "edge_padded":
        return "yes" if clip[PADDED_BEFORE] or clip[PADDED_AFTER] else "no"
    return None


def slice_values(clip: dict, keys: Sequence[str]) -> dict[str, str]:
    """key -> value for every slice key; raw context keys give their value as text."""
    values = {}
    for key in keys:
        value = _derived(clip, key)
        if value is None:
            raw = clip[key]
            value = f"{raw:g}" if isinstance(raw, float) else str(raw)
        values[key] = value or UNKNOWN
    return values
