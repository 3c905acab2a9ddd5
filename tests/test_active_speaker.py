"""Choosing the speaking face: hand-computed signals, and two real clips with one audio."""

import dataclasses
import math

import numpy as np
import pytest

from pipelines.preprocess.active_speaker import (
    AMBIGUOUS_SPEAKER, NO_SYNC_SIGNAL, SpeakerConfig, choose_speaker, lagged_correlations,
    mouth_opening, scored_frames, sync_score, sync_signals)
from pipelines.preprocess.audio import SAMPLE_RATE, decode_audio, frame_log_energy
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.landmarks import make_backend
from pipelines.preprocess.landmarks.tracker import FaceTracker
from pipelines.preprocess.transcripts import parse_transcript
from tests import media

CONFIG = SpeakerConfig()


def _energy(length: int = 60, seed: int = 0) -> np.ndarray:
    """A log energy per frame that changes at random: white noise."""
    return np.random.default_rng(seed).normal(size=length)


def _lips(gap: float, width: float, outer_gap: float = 0.0) -> np.ndarray:
    """68 points at the origin but the mouth: corners (48, 54) `width` apart, the facing
    inner-lip points `gap` apart and the facing outer-lip points `outer_gap` apart."""
    points = np.zeros((68, 2))
    points[[48, 60]], points[[54, 64]] = (0.0, 0.0), (width, 0.0)
    points[[61, 62, 63], 1], points[[67, 66, 65], 1] = -gap / 2, gap / 2
    points[[50, 51, 52], 1], points[[58, 57, 56], 1] = -outer_gap / 2, outer_gap / 2
    points[[50, 51, 52, 56, 57, 58], 0] = [3.0, 5.0, 7.0, 7.0, 5.0, 3.0]
    points[[61, 62, 63, 65, 66, 67], 0] = [2.0, 5.0, 8.0, 8.0, 5.0, 2.0]
    return points


# mouth_opening ---------------------------------------------------------------------------


def test_mouth_opening_is_the_lip_gap_over_the_mouth_width():
    points = np.stack([_lips(0.0, 10.0, 1.0), _lips(2.0, 10.0, 4.0), _lips(3.0, 20.0, 5.0)])
    np.testing.assert_allclose(mouth_opening(points, lips="inner"), [0.0, 0.2, 0.15])
    np.testing.assert_allclose(mouth_opening(points, lips="outer"), [0.1, 0.4, 0.25])


def test_mouth_opening_is_nan_where_the_face_is_missing():
    points = np.stack([_lips(1.0, 10.0, 2.0), np.full((68, 2), np.nan), _lips(1.0, 0.0, 2.0)])
    opening = mouth_opening(points)
    assert opening[0] == pytest.approx(0.2)
    assert np.isnan(opening[1]) and np.isnan(opening[2])


def test_mouth_opening_rejects_points_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\[T, 68, 2\]"):
        mouth_opening(np.zeros((5, 5, 2)))
    with pytest.raises(ValueError, match="lips"):
        mouth_opening(np.zeros((5, 68, 2)), lips="teeth")


# sync_score ------------------------------------------------------------------------------


def test_a_mouth_one_frame_ahead_of_the_sound_correlates_at_lag_plus_one():
    energy = _energy()
    opening = np.roll(energy, -1)  # opening[t] = energy[t + 1]: the sound follows the mouth
    opening[-1] = np.nan
    correlations = lagged_correlations(*sync_signals(opening, energy), max_lag=2)
    assert correlations.shape == (5,)
    assert correlations[2 + 1] == pytest.approx(1.0)
    assert np.nanmax(np.delete(correlations, 3)) < 0.5
    assert sync_score(opening, energy, max_lag=1) == pytest.approx(1.0)
    assert sync_score(opening, energy, max_lag=0) < 0.5


def test_sync_score_ignores_nan_frames_and_needs_enough_pairs():
    energy = _energy()
    opening = 0.1 * energy + 3.0
    opening[[5, 20, 21, 40]] = np.nan
    assert sync_score(opening, energy, max_lag=1) == pytest.approx(1.0)
    few = np.full(60, np.nan)
    few[:8] = energy[:8]  # 7 differences: fewer than the pairs a score needs
    assert math.isnan(sync_score(few, energy, max_lag=1))
    assert math.isnan(sync_score(np.full(60, np.nan), energy, max_lag=1))


def test_sync_score_is_nan_on_silence():
    silence = frame_log_energy(np.zeros(SAMPLE_RATE * 2, np.int16), SAMPLE_RATE, 25.0, 0, 50)
    assert math.isnan(sync_score(_energy(50), silence, max_lag=1))


def test_sync_score_rejects_mismatched_signals_and_negative_lags():
    with pytest.raises(ValueError, match="shape"):
        sync_score(np.zeros(10), np.zeros(11), max_lag=1)
    with pytest.raises(ValueError, match="max_lag"):
        sync_score(np.zeros(10), np.zeros(10), max_lag=-1)


def test_sync_signals_are_changes_over_three_frames():
    frames = np.array([0.0, 3.0, 6.0, 12.0, 12.0, np.nan, 12.0, 12.0, 12.0, 12.0])
    visual, audio = sync_signals(frames, 2 * frames)
    # (x[t + 3] - x[t]) / 3: NaN wherever the 4 frames reach the missing one.
    np.testing.assert_allclose(visual, [4.0, 3.0, np.nan, np.nan, np.nan, np.nan, 0.0])
    np.testing.assert_allclose(audio, 2 * visual)
    assert sync_signals(frames[:3], frames[:3])[0].shape == (0,)


# choose_speaker --------------------------------------------------------------------------


def test_the_mouth_that_moves_with_the_sound_is_chosen_over_noise():
    energy = _energy()
    openings = {"left": np.random.default_rng(7).normal(size=60), "right": 0.05 * energy}
    choice = choose_speaker(openings, energy, max_lag=1, min_margin=0.2)
    assert choice.track_id == "right" and choice.reason is None
    assert choice.score == pytest.approx(1.0)
    assert choice.margin == pytest.approx(1.0 - choice.scores["left"])
    assert choice.margin >= 0.2


def test_equal_candidates_are_ambiguous():
    energy = _energy()
    openings = {"a": 0.05 * energy, "b": 0.05 * energy + 1.0}
    choice = choose_speaker(openings, energy, max_lag=1, min_margin=0.01)
    assert choice.track_id is None and choice.reason == AMBIGUOUS_SPEAKER
    assert choice.margin == pytest.approx(0.0)
    assert choice.score == pytest.approx(1.0)


def test_a_candidate_without_a_score_counts_as_zero():
    energy = _energy()
    openings = {"seen": 0.05 * energy, "gone": np.full(60, np.nan)}
    choice = choose_speaker(openings, energy, max_lag=1, min_margin=0.2)
    assert choice.track_id == "seen" and choice.margin == pytest.approx(1.0)
    assert math.isnan(choice.scores["gone"])


def test_one_candidate_is_chosen_without_audio():
    choice = choose_speaker({"only": _energy()}, None, max_lag=1, min_margin=0.2)
    assert choice.track_id == "only" and choice.reason is None
    assert choice.margin == math.inf and math.isnan(choice.score)


def test_silent_audio_gives_no_sync_signal():
    silence = frame_log_energy(np.zeros(SAMPLE_RATE * 2, np.int16), SAMPLE_RATE, 25.0, 0, 50)
    openings = {"a": _energy(50, 1), "b": _energy(50, 2)}
    choice = choose_speaker(openings, silence, max_lag=1, min_margin=0.2)
    assert choice.track_id is None and choice.reason == NO_SYNC_SIGNAL
    assert math.isnan(choice.margin)
    no_audio = choose_speaker(openings, None, max_lag=1, min_margin=0.2)
    assert no_audio.reason == NO_SYNC_SIGNAL


def test_choose_speaker_rejects_no_candidates_and_bad_margins():
    with pytest.raises(ValueError, match="at least one"):
        choose_speaker({}, _energy(), max_lag=1, min_margin=0.2)
    with pytest.raises(ValueError, match="min_margin"):
        choose_speaker({"a": _energy()}, _energy(), max_lag=1, min_margin=-0.1)


# config and spans ------------------------------------------------------------------------


def test_speaker_config_checks_its_fields():
    assert CONFIG.max_lag >= 0 and CONFIG.min_margin > 0
    with pytest.raises(ValueError, match="max_lag"):
        dataclasses.replace(CONFIG, max_lag=-1)
    with pytest.raises(ValueError, match="min_margin"):
        dataclasses.replace(CONFIG, min_margin=math.nan)
    with pytest.raises(ValueError, match="span"):
        dataclasses.replace(CONFIG, span=5)


def test_scored_frames_centre_on_the_word_and_stay_in_the_video():
    # A word over [1.0, 1.2) s at 25 fps: midpoint frame 27, 29 frames from 13 to 41.
    assert scored_frames(1.0, 1.2, 75, 29) == (13, 42)
    # Midpoint frame 5: frames -9..19 wanted, 0..19 exist; midpoint 70: 56..84 wanted.
    assert scored_frames(0.1, 0.3, 75, 29) == (0, 20)
    assert scored_frames(2.7, 2.9, 75, 29) == (56, 75)


# real clips ------------------------------------------------------------------------------


def _openings(clip: str, backend) -> np.ndarray:
    tracker = FaceTracker(backend)
    found = [tracker.update(f) for f in decode_frames(media.sample_video(clip), DecodeReport())]
    return mouth_opening(np.stack([p if p is not None else np.full((68, 2), np.nan)
                                   for p in found]))


def _sentence_energy(clip: str) -> tuple[np.ndarray, int, int]:
    """Log energy per frame of the clip's audio, and its spoken frames [first, stop)."""
    with open(media.sample_align(clip), "rb") as handle:
        words = parse_transcript(handle.read(), f"{clip}.align").words
    first, stop = math.ceil(words[0].start * 25), math.ceil(words[-1].end * 25)
    energy = frame_log_energy(decode_audio(media.sample_video(clip)), SAMPLE_RATE, 25.0,
                              first, stop - first)
    return energy, first, stop


def test_the_speaking_clip_wins_over_another_sentence_of_the_same_speaker():
    backend = make_backend("dlib")
    backend.load()
    openings = {clip: _openings(clip, backend) for clip in ("bbaf3s", "bbiz1s")}
    energy, first, stop = _sentence_energy("bbaf3s")
    choice = choose_speaker({clip: o[first:stop] for clip, o in openings.items()}, energy,
                            CONFIG.max_lag, CONFIG.min_margin)
    assert choice.track_id == "bbaf3s", choice
    assert choice.margin >= CONFIG.min_margin
    # With the other clip's audio the other mouth ranks first.
    energy, first, stop = _sentence_energy("bbiz1s")
    choice = choose_speaker({clip: o[first:stop] for clip, o in openings.items()}, energy,
                            CONFIG.max_lag, CONFIG.min_margin)
    assert choice.scores["bbiz1s"] > choice.scores["bbaf3s"], choice
