"""Where predict reads lips without a transcript: voice activity and word-length spans."""

import numpy as np
import pytest

from pipelines.preprocess.audio import SAMPLE_RATE, decode_audio, frame_log_energy
from pipelines.preprocess.landmarks.face_tracks import FaceTrack
from pipelines.preprocess.transcripts import parse_transcript
from pipelines.preprocess.word_placement import prepare_faces
from pipelines.predict.segments import (VoiceActivityConfig, face_segments, speech_segments,
                                        word_spans)
from tests import media


def _energy(speech: list[tuple[int, int]], frames: int = 100) -> np.ndarray:
    """Silence at -20 (ln units), speech at -5 over the given frame ranges."""
    energy = np.full(frames, -20.0)
    for first, end in speech:
        energy[first:end] = -5.0
    return energy


def test_speech_is_found_where_the_energy_rises():
    assert speech_segments(_energy([(10, 30), (60, 80)])) == [(10, 30), (60, 80)]


def test_a_short_pause_is_bridged_and_a_blip_dropped():
    # A 4-frame pause (<= max_pause 5) joins; a 3-frame blip (< min_speech 4) goes.
    assert speech_segments(_energy([(10, 30), (34, 50), (80, 83)])) == [(10, 50)]


def test_flat_audio_holds_no_speech():
    assert speech_segments(np.full(100, -7.0)) == []
    assert speech_segments(np.zeros(0)) == []


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        VoiceActivityConfig(threshold=1.5)


def test_a_segment_becomes_spans_of_about_a_window():
    spans = word_spans([(10, 68), (80, 90)], window_length=29, fps=25.0, first_frame=100)
    assert [(s.index, s.start, s.end) for s in spans] == [
        (0, 110 / 25, 139 / 25), (1, 139 / 25, 168 / 25), (2, 180 / 25, 190 / 25)]
    assert all(s.word == "" for s in spans)


def test_face_segments_follow_the_usable_landmarks():
    fitted = np.ones(30, dtype=bool)
    fitted[10:25] = False  # 15 frames without a face: more than max_gap 12, not bridged
    points = np.where(fitted[:, None, None], 100.0, np.nan).astype(np.float32) * np.ones(
        (30, 68, 2), np.float32)
    face = prepare_faces([FaceTrack(0, 0, 5, points, fitted)], max_gap=12, smooth_window=3)
    # Track frames 5..34 of the video; counted here from frame 0 over 40 frames.
    assert face_segments(face, 40) == [(5, 15), (30, 35)]


@pytest.mark.parametrize("clip", ["bbaf3s", "lgiz3s"])
def test_grid_speech_starts_and_ends_with_the_sentence(clip):
    with open(media.sample_align(clip), "rb") as handle:
        words = parse_transcript(handle.read(), f"{clip}.align").words
    samples = decode_audio(media.sample_video(clip))
    found = speech_segments(frame_log_energy(samples, SAMPLE_RATE, 25.0, 0, 75))
    assert found[0][0] / 25.0 == pytest.approx(words[0].start, abs=0.1)
    assert found[-1][1] / 25.0 == pytest.approx(words[-1].end, abs=0.1)
