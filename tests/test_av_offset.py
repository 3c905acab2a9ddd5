"""The sound-to-picture offset estimate on signals whose offset is known by construction."""

import math

import numpy as np
import pytest

from pipelines.preprocess.av_offset import NO_OFFSET, OffsetRule, delayed, estimate_offset


def _mouth(frames: int, seed: int = 0) -> np.ndarray:
    """A mouth opening that moves like speech: smoothed noise, a few syllables a second."""
    rng = np.random.default_rng(seed)
    return np.convolve(rng.normal(size=frames + 4), np.ones(5) / 5, mode="valid")


@pytest.mark.parametrize("late", [-6, -2, 0, 3, 8])
def test_the_offset_of_sound_that_follows_the_mouth_is_found(late):
    opening = _mouth(200)
    energy = delayed(opening, late) + np.random.default_rng(1).normal(0, 0.05, 200)
    found = estimate_offset(opening, energy)
    assert found.frames == late and found.confident and found.frames_used == 200 - abs(late)
    rule = OffsetRule()
    assert found.applied(rule) == (late if abs(late) >= rule.min_shift else 0)


def test_a_mouth_that_does_not_speak_gives_no_trusted_offset():
    opening = _mouth(200, seed=2)
    energy = _mouth(200, seed=3)  # another signal altogether
    found = estimate_offset(opening, energy)
    assert not found.confident and found.applied(OffsetRule()) == 0


def test_too_few_frames_or_flat_signals_give_no_estimate():
    assert estimate_offset(_mouth(40), _mouth(40)) == NO_OFFSET
    flat = estimate_offset(np.ones(100), _mouth(100))
    assert flat == NO_OFFSET and math.isnan(flat.peak)
    with pytest.raises(ValueError, match=r"\[T\]"):
        estimate_offset(np.ones(100), np.ones(99))


def test_delayed_moves_a_signal_and_leaves_the_unknown_empty():
    moved = delayed(np.arange(5.0), 2)
    assert np.isnan(moved[:2]).all() and moved[2:].tolist() == [0.0, 1.0, 2.0]
    assert delayed(np.arange(5.0), -1)[:4].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.isnan(delayed(np.arange(3.0), 5)).all()


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="min_shift"):
        OffsetRule(min_shift=0)
    with pytest.raises(ValueError, match="min_frames"):
        OffsetRule(max_lag=30, min_frames=50)
