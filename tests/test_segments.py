"""Where predict reads lips without a transcript: voice activity and word-length spans."""

import wave

import numpy as np
import pytest

from pipelines.preprocess.audio import SAMPLE_RATE, decode_audio, frame_log_energy
from pipelines.preprocess.landmarks.face_tracks import FaceTrack
from pipelines.preprocess.transcripts import parse_transcript
from pipelines.preprocess.word_placement import prepare_faces
from pipelines.predict.segments import (VoiceActivityConfig, face_segments, speech_segments,
                                        voiced_frames, word_spans)
from tests import media


def _flags(speech: list[tuple[int, int]], frames: int = 100) -> np.ndarray:
    voiced = np.zeros(frames, dtype=bool)
    for first, end in speech:
        voiced[first:end] = True
    return voiced


def test_a_short_pause_is_bridged_and_a_blip_dropped():
    # A 4-frame pause (<= max_pause 5) joins; a 3-frame blip (< min_speech 4) goes.
    assert speech_segments(_flags([(10, 30), (34, 50), (80, 83)])) == [(10, 50)]
    assert speech_segments(_flags([(10, 30), (36, 50)])) == [(10, 30), (36, 50)]
    assert speech_segments(np.zeros(0, dtype=bool)) == []


def test_silence_and_steady_noise_hold_no_speech():
    silence = np.zeros(3 * SAMPLE_RATE, dtype=np.int16)
    hum = (2000 * np.sin(2 * np.pi * 50 * np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE)).astype(
        np.int16)
    for samples in (silence, hum):
        assert not voiced_frames(samples, SAMPLE_RATE, 25.0, 75).any()


def test_video_frames_past_the_audio_are_not_voiced():
    samples = decode_audio(media.sample_video("bbaf3s"))
    voiced = voiced_frames(samples[: SAMPLE_RATE], SAMPLE_RATE, 25.0, 75)
    assert voiced.shape == (75,) and not voiced[25:].any() and voiced[:25].any()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="aggressiveness"):
        VoiceActivityConfig(aggressiveness=4)
    with pytest.raises(ValueError, match="min_voiced"):
        VoiceActivityConfig(min_voiced=0.0)


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


def _words(clip: str):
    with open(media.sample_align(clip), "rb") as handle:
        return parse_transcript(handle.read(), f"{clip}.align").words


@pytest.mark.parametrize("clip", ["bbaf3s", "lgiz3s"])
def test_grid_speech_starts_and_ends_with_the_sentence(clip):
    words = _words(clip)
    samples = decode_audio(media.sample_video(clip))
    found = speech_segments(voiced_frames(samples, SAMPLE_RATE, 25.0, 75))
    assert found[0][0] / 25.0 == pytest.approx(words[0].start, abs=0.1)
    assert found[-1][1] / 25.0 == pytest.approx(words[-1].end, abs=0.1)


def test_continuous_broadcast_speech_gives_speech_segments(tmp_path):
    """Six GRID sentences without their pauses, through a broadcast-style compressor: the
    quietest tenth of the frames is speech too (a log-energy range under 1 between its 10th
    and 95th percentiles), so no silence exists to measure a floor against."""
    parts = []
    for clip in ("bbaf3s", "bbiz1s", "bgbo1a", "bras9a", "bwag5s", "lgiz3s"):
        words = _words(clip)
        samples = decode_audio(media.sample_video(clip))
        parts.append(samples[int(words[0].start * SAMPLE_RATE):int(words[-1].end * SAMPLE_RATE)])
    raw, squeezed = tmp_path / "speech.wav", tmp_path / "broadcast.wav"
    with wave.open(str(raw), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(np.concatenate(parts).astype("<i2").tobytes())
    media.ffmpeg("-i", str(raw), "-af",
                 "acompressor=threshold=-40dB:ratio=20:attack=1:release=50,volume=10dB",
                 str(squeezed))
    samples = decode_audio(str(squeezed))
    frames = int(len(samples) / SAMPLE_RATE * 25)
    energy = frame_log_energy(samples, SAMPLE_RATE, 25.0, 0, frames)
    assert np.subtract(*np.percentile(energy, [95, 10])) < 1.0
    found = speech_segments(voiced_frames(samples, SAMPLE_RATE, 25.0, frames))
    assert sum(end - first for first, end in found) >= 0.9 * frames
