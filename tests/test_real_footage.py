"""What real footage asks of the clip cutter: tight face crops, a face lost for a moment, a
face too small to read, sound out of step with the picture, a sentence without word times.
Real media made from the sample recordings with the pipeline's own ffmpeg."""

import dataclasses

import numpy as np
import pytest

from pipelines.preprocess import clipping
from pipelines.preprocess.align_subtitles import AlignSubtitlesFn
from pipelines.preprocess.config import default
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.landmarks import make_backend
from pipelines.preprocess.landmarks.mesh_points import MESH_TO_IBUG, ibug_points
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import parse_transcript
from pipelines.preprocess.video_tracks import track_faces
from tests import media

CONFIG = default()


@pytest.fixture(scope="module")
def backends():
    found = {}
    for name in ("mesh", "dlib"):
        found[name] = make_backend(name)
        found[name].load()
    return found


@pytest.fixture(scope="module")
def face_box(backends):
    frame = next(f for k, f in enumerate(decode_frames(media.sample_video(), DecodeReport()))
                 if k == 10)
    (box,) = backends["dlib"].detect_faces(frame)
    return box


def _grid_words(clip: str):
    with open(media.sample_align(clip), "rb") as handle:
        return parse_transcript(handle.read(), f"{clip}.align").words


def _spans(clip: str):
    return [clipping.SpeechSpan(i, w.word, w.start, w.end) for i, w in enumerate(_grid_words(clip))]


# --- the mesh backend ----------------------------------------------------------------------

def test_the_mesh_reads_68_points_on_the_face(backends):
    frame = list(decode_frames(media.sample_video(), DecodeReport()))[10]
    mesh = backends["mesh"]
    (box,) = mesh.detect_faces(frame)
    points = mesh.fit_landmarks(frame, box)
    assert points.shape == (68, 2) and points.dtype == np.float32
    reference = backends["dlib"].fit_landmarks(frame, backends["dlib"].detect_faces(frame)[0])
    eyes = np.linalg.norm(reference[45] - reference[36])
    # The points the warp and the quality checks use agree with dlib's within 8% of the eye
    # distance (medians over 40 recordings: 1-5%); the mouth's centre within 5% (3%).
    for point in (33, 36, 39, 42, 45):
        assert np.linalg.norm(points[point] - reference[point]) < 0.08 * eyes
    assert np.linalg.norm(points[48:68].mean(0) - reference[48:68].mean(0)) < 0.05 * eyes


def test_the_mesh_sees_no_face_in_a_blank_frame_or_box(backends, tmp_path):
    blank = np.full((288, 360), 90, np.uint8)
    assert backends["mesh"].detect_faces(blank).shape == (0, 4)
    assert backends["mesh"].fit_landmarks(blank, np.array([100.0, 80, 200, 180])) is None


def test_the_point_table_keeps_the_corners_and_refuses_other_shapes():
    assert len(MESH_TO_IBUG) == 68 and len(set(MESH_TO_IBUG.tolist())) == 68
    assert [MESH_TO_IBUG[i] for i in (36, 39, 42, 45, 48, 54, 60, 64)] == [
        33, 133, 362, 263, 61, 291, 78, 308]
    with pytest.raises(ValueError, match="468"):
        ibug_points(np.zeros((68, 2)))


# --- tight face crops ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mesh", "dlib"])
def test_a_tight_face_crop_finds_its_face(backends, face_box, tmp_path, name):
    """The frame half as wide as the detector's face box (the face overflows it, as in the
    tightest LRS2 crops): found on every frame; without the padded search, on none."""
    tight = media.tight_crop(media.sample_video(), str(tmp_path / "tight.mp4"), face_box, 0.5)
    tracked = clipping.track_video(tight, CONFIG, backends[name], None)
    assert tracked.faces.frames_with_face == tracked.faces.decoded_frames == 75
    bare = dataclasses.replace(CONFIG.tracking_rule, search_padding=0.0)
    frames = decode_frames(tight, DecodeReport(), CONFIG.fps, CONFIG.max_side)
    assert track_faces(frames, backends[name], bare, None).frames_with_face == 0


def test_words_of_a_tight_face_crop_become_clips(backends, face_box, tmp_path):
    tight = media.tight_crop(media.sample_video(), str(tmp_path / "tight.mp4"), face_box, 0.5)
    tracked = clipping.track_video(tight, CONFIG, backends["mesh"], None)
    energy = clipping.speech_energy(tight, tracked.faces, CONFIG.fps)
    placed = list(clipping.place_words(_spans("bbaf3s"), tracked.faces, energy, CONFIG))
    assert all(isinstance(p, clipping.PlacedWord) for p in placed), placed


# --- a face lost for a moment ----------------------------------------------------------------

def test_a_face_hidden_for_a_moment_stays_one_track(backends, face_box, tmp_path):
    """A grey box hides the face for four frames: the tracker loses it and finds it again
    within `rejoin_gap` frames, so it stays one track and the gap is bridged for the words
    (without rejoining, the face would be two tracks and no window across the gap cut)."""
    box = face_box + np.array([10, 10, -10, -10])  # small enough not to read as a cut
    hidden = media.occluded(media.sample_video(), str(tmp_path / "hidden.mp4"), box, 30, 4)
    tracked = clipping.track_video(hidden, CONFIG, backends["mesh"], None)
    (track,) = tracked.faces.faces
    assert not track.fitted[30:34].any() and track.fitted[:30].all() and track.fitted[34:].all()
    apart = dataclasses.replace(CONFIG.tracking_rule, rejoin_gap=0)
    frames = decode_frames(hidden, DecodeReport(), CONFIG.fps, CONFIG.max_side)
    assert len(track_faces(frames, backends["mesh"], apart, None).faces) == 2
    energy = clipping.speech_energy(hidden, tracked.faces, CONFIG.fps)
    placed = list(clipping.place_words(_spans("bbaf3s"), tracked.faces, energy, CONFIG))
    assert all(isinstance(p, clipping.PlacedWord) for p in placed), placed


# --- a face too small to read ----------------------------------------------------------------

def test_a_face_too_small_to_read_is_its_own_dead_letter_with_its_size(backends, tmp_path):
    small = media.scaled(media.sample_video(), str(tmp_path / "small.mp4"), 0.5)
    config = dataclasses.replace(CONFIG, min_face_size=40.0)
    tracked = clipping.track_video(small, config, backends["mesh"], None)
    assert tracked.faces.frames_with_face > 0  # found, and then refused for its size
    energy = clipping.speech_energy(small, tracked.faces, config.fps)
    outcomes = list(clipping.place_words(_spans("bbaf3s"), tracked.faces, energy, config))
    assert {o.reason for o in outcomes} == {"face_too_small"}
    assert all("px" in o.detail and "< min_face_size 40.0 px" in o.detail for o in outcomes)


def test_a_small_face_in_a_wide_shot_is_found_and_reported_with_its_size(backends, tmp_path):
    """A face with eyes about 20 px apart in a 1280x720 picture: too small for the detector
    on the scaled frame, found in the tiled search, then refused for its size."""
    wide = media.wide_shot(media.sample_video(), str(tmp_path / "wide.mp4"), 0.3)
    tracked = clipping.track_video(wide, CONFIG, backends["mesh"], None)
    assert tracked.faces.frames_with_face >= 0.9 * tracked.faces.decoded_frames
    untiled = dataclasses.replace(CONFIG.tracking_rule, tile_side=0)
    frames = decode_frames(wide, DecodeReport(), CONFIG.fps, CONFIG.max_side)
    assert track_faces(frames, backends["mesh"], untiled, None).frames_with_face == 0
    energy = clipping.speech_energy(wide, tracked.faces, CONFIG.fps)
    outcomes = list(clipping.place_words(_spans("bbaf3s"), tracked.faces, energy, CONFIG))
    assert {o.reason for o in outcomes} == {"face_too_small"}
    sizes = [float(o.detail.split("face size ")[1].split(" px")[0]) for o in outcomes]
    assert all(15.0 < size < 25.0 for size in sizes)


# --- sound out of step with the picture -----------------------------------------------------

def test_sound_late_by_five_frames_moves_the_windows_to_the_mouth(backends, tmp_path):
    """lgiz3s with its sound 0.2 s late: its offset is estimated and trusted, and every
    word's window moves 5 frames earlier than the audio-timed one; in sync, nothing moves.
    (The clip's sync is clear enough to be trusted; how often that holds is measured by
    benchmarks/av_offset.py.)"""
    clip = "lgiz3s"
    late = media.audio_delayed(media.sample_video(clip), str(tmp_path / "late.mp4"), 0.2)
    windows = {}
    for name, path in (("in_sync", media.sample_video(clip)), ("late", late)):
        tracked = clipping.track_video(path, CONFIG, backends["mesh"], None)
        energy = clipping.speech_energy(path, tracked.faces, CONFIG.fps)
        placed = list(clipping.place_words(_spans(clip), tracked.faces, energy, CONFIG))
        assert all(isinstance(p, clipping.PlacedWord) for p in placed), placed
        windows[name] = placed
    assert all(p.shift_frames == 0 for p in windows["in_sync"])
    assert all(p.shift_frames == 5 and p.av_offset.confident for p in windows["late"])
    for synced, moved in zip(windows["in_sync"], windows["late"]):
        assert moved.window.first_frame == synced.window.first_frame - 5


# --- a sentence without word times ----------------------------------------------------------

def test_a_sentence_only_transcript_gives_timed_words(tmp_path):
    """The sample clip's sentence as a `Text:` line alone is aligned to its audio: every
    word is timed, within 0.1 s of GRID's own alignment, with a confidence."""
    grid = _grid_words("bbaf3s")
    transcript = tmp_path / "bbaf3s.txt"
    transcript.write_text("Text:  " + " ".join(w.word.upper() for w in grid) + "\nConf:  3\n")
    parsed = parse_transcript(transcript.read_bytes(), "bbaf3s.txt")
    aligner = AlignSubtitlesFn()
    aligner.setup()
    (job,) = list(aligner.process(VideoJob(VideoInput(media.sample_video(), "bbaf3s",
                                                      str(transcript)), parsed)))
    words = job.transcript.words
    assert [w.word for w in words] == [w.word for w in grid]
    for aligned, truth in zip(words, grid):
        assert aligned.start == pytest.approx(truth.start, abs=0.1)
        assert aligned.end == pytest.approx(truth.end, abs=0.1)
        assert 0.0 < aligned.confidence <= 1.0


def test_the_real_footage_benchmark_reads_a_sentence_only_transcript(tmp_path):
    """The benchmark's worker cuts clips through predict's functions, in the tree under
    test: with a `Text:` transcript its segments are the sentence's words, timed."""
    import os
    import shutil
    import sys

    repo = media.REPO
    sys.path.insert(0, os.path.join(repo, "benchmarks"))
    import real_footage

    video = tmp_path / "bbaf3s.mpg"
    shutil.copyfile(media.sample_video("bbaf3s"), video)
    (tmp_path / "bbaf3s.txt").write_text("Text:  BIN BLUE AT F THREE SOON\n", encoding="utf-8")
    result = real_footage.run_worker(repo, [str(video)], "mesh")["videos"][str(video)]
    assert "error" not in result and result["transcript_error"] is None, result.get("error")
    words = [s for s in result["segments"] if s["kind"] == "word"]
    assert len(words) == 6 and all(s["end"] > s["start"] for s in words)
