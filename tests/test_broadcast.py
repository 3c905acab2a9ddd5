"""Broadcast-style video: cuts, several faces, the speaking face, audio/video offsets.

Programmes are built from the sample GRID recordings with ffmpeg: clips joined with
hard cuts, split screens with one clip's audio, a video stream delayed after its audio.
The real landmark model and the real stages run on them.
"""

import dataclasses
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.preprocess.config import default
from pipelines.preprocess.crop_mouths import CropMouths, CropWordClipsFn
from pipelines.preprocess.dead_letters import DEAD_LETTER
from pipelines.preprocess.audio import probe_media
from pipelines.preprocess.decode import DecodeReport, decode_frames, decode_thumbnails
from pipelines.preprocess.detect_landmarks import DetectLandmarksFn
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.plan_chunks import (ChunkVideoFn, PieceCuts, PlanChunksFn, ScanPiece,
                                              ScanPieceFn, plan_in_one_process, scan_piece,
                                              scan_pieces)
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.shots import ShotDetector, shot_of, shot_starts, with_cut_flags
from pipelines.preprocess.transcripts import Transcript, WordTiming, parse_transcript
from pipelines.preprocess.windows import clamp_to_shot, word_window
from tests import media

CONFIG = default()
HALF_WIDTH = 360  # a GRID frame is 360x288; a split screen puts the second one at x >= 360


def _words(clip: str, shift: float = 0.0) -> tuple[WordTiming, ...]:
    with open(media.sample_align(clip), "rb") as handle:
        words = parse_transcript(handle.read(), f"{clip}.align").words
    return tuple(WordTiming(w.word, w.start + shift, w.end + shift) for w in words)


@pytest.fixture(scope="module")
def fns():
    detect, crop = DetectLandmarksFn(CONFIG), CropWordClipsFn(CONFIG)
    detect.setup()
    crop.setup()
    return detect, crop


def _run(fns, path: str, words) -> tuple[list, list, object]:
    """(clips, failures, tracks) of the landmark and crop stages on one video."""
    detect, crop = fns
    job = VideoJob(VideoInput(path, os.path.basename(path), None), Transcript("grid", words))
    (tracks,) = list(detect.process(job))
    clips, failures = [], []
    for out in crop.process(tracks):
        (failures.append(out.value) if isinstance(out, beam.pvalue.TaggedOutput)
         else clips.append(out))
    return clips, failures, tracks


@pytest.fixture(scope="module")
def programme(tmp_path_factory):
    """Three sample clips joined by hard cuts: frames 0-74, 75-139, 140-214.

    The middle one starts 0.4 s into its recording, so its first word follows the cut.
    """
    folder = tmp_path_factory.mktemp("programme")
    middle = str(folder / "middle.mp4")
    media.ffmpeg("-i", media.sample_video("lgiz3s"), "-vf", "trim=start=0.4,setpts=PTS-STARTPTS",
                 "-af", "atrim=start=0.4,asetpts=PTS-STARTPTS", "-c:v", "libx264",
                 "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", middle)
    return media.concatenated([media.sample_video("bbaf3s"), middle, media.sample_video("pbai7a")],
                              str(folder / "programme.mp4"))


def test_cuts_are_found_at_the_joins_and_nowhere_inside_a_clip(programme):
    detector = ShotDetector()
    flags = [cut for _, cut in with_cut_flags(decode_frames(programme, DecodeReport()), detector)]
    assert detector.cuts == [75, 140] and [i for i, cut in enumerate(flags) if cut] == [75, 140]
    for clip in ("bbaf3s", "bgbo1a", "lwbf3s", "srwi5a"):
        inside = ShotDetector()
        list(with_cut_flags(decode_frames(media.sample_video(clip), DecodeReport()), inside))
        assert inside.cuts == [], clip


def test_a_turning_head_a_pan_or_a_flash_is_not_a_cut(tmp_path):
    # Frames 25-36 warp the picture a little more each frame (a head turning, a camera
    # move: every frame jumps); frame 60 is a white flash. Neither is a new shot.
    warped = media.turning(media.sample_video(), str(tmp_path / "turn.mp4"), 25, 12,
                           "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(n,60)'")
    detector = ShotDetector()
    list(with_cut_flags(decode_frames(warped, DecodeReport()), detector))
    assert detector.cuts == []


@pytest.fixture(scope="module")
def dlib_fns():
    config = dataclasses.replace(CONFIG, landmarks="dlib")
    detect, crop = DetectLandmarksFn(config), CropWordClipsFn(config)
    detect.setup()
    crop.setup()
    return detect, crop


def test_a_face_turning_away_mid_clip_ends_its_track_and_loses_no_word(dlib_fns, tmp_path):
    # The picture turns over frames 25-36 and stays turned: dlib's frontal detector loses
    # the face, the track is kept by fitting alone for two missed detections, then ends.
    turned = media.turning(media.sample_video(), str(tmp_path / "turn.mp4"), 25, 12)
    clips, failures, tracks = _run(dlib_fns, turned, _words("bbaf3s"))
    (face,) = tracks.faces.faces
    assert 36 < face.last_frame < 74  # followed into the turn, not to the end
    assert len(clips) + len(failures) == 6
    assert {f["reason"] for f in failures} == {"no_face"}
    assert "bin" in {c.word for c in clips}  # window 6-34: the turn has barely begun
    assert "soon" in {f["word"] for f in failures}  # window 27-55: the face is gone
    for record in clips:
        assert record.first_frame + 28 <= face.last_frame + CONFIG.max_gap, record.word


def test_the_face_mesh_follows_a_face_through_the_turn(fns, tmp_path):
    # The same turn: the face mesh (the default) keeps finding and fitting the turned face
    # to the end of the clip, so every word is cut from it.
    turned = media.turning(media.sample_video(), str(tmp_path / "turn.mp4"), 25, 12)
    clips, failures, tracks = _run(fns, turned, _words("bbaf3s"))
    (face,) = tracks.faces.faces
    assert face.last_frame == 74 and face.fitted.all()
    assert failures == [] and len(clips) == 6


def test_shot_lookup_and_window_clamped_to_its_shot():
    starts = shot_starts([75, 150])
    assert list(shot_of(np.array([0, 74, 75, 149, 150, 224]), starts)) == [0, 0, 1, 1, 2, 2]
    # A word at 2.78-2.98 s is centred on frame 72: window 58..86, its shot ends at 74.
    window = clamp_to_shot(word_window(2.78, 2.98, 225), 0, 74)
    assert window.first_frame == 58
    assert list(window.frame_indices) == list(range(58, 75)) + [74] * 12
    assert (window.padded_before, window.padded_after) == (0, 12)
    # A word right after a cut at 75 is padded with the shot's first frame.
    after = clamp_to_shot(word_window(3.04, 3.2, 225), 75, 149)
    assert after.first_frame == 64 and after.padded_before == 11
    assert list(after.frame_indices[:12]) == [75] * 12


def test_a_word_spoken_across_a_cut_is_refused():
    with pytest.raises(RecordError) as caught:
        clamp_to_shot(word_window(2.9, 3.1, 225), 0, 74)
    assert caught.value.reason == "word_crosses_cut"


def test_no_clip_holds_frames_of_two_shots(fns, programme):
    words = _words("bbaf3s") + _words("lgiz3s", 3.0 - 0.4) + (WordTiming("across", 2.9, 3.1),)
    clips, failures, tracks = _run(fns, programme, words)
    assert list(tracks.faces.shot_starts) == [0, 75, 140]
    assert {0, 1} <= {f.shot for f in tracks.faces.faces}
    assert [(f["word"], f["reason"]) for f in failures] == [("across", "word_crosses_cut")]
    assert len(clips) == 12
    for clip in clips:
        first, last = (0, 74) if clip.shot == 0 else (75, 139)
        positions = clip.first_frame + np.arange(29)
        assert clip.padded_before == np.count_nonzero(positions < first)
        assert clip.padded_after == np.count_nonzero(positions > last)
        # Padded positions repeat the edge crop of the word's own shot.
        inside = (positions >= first) & (positions <= last)
        edge_before, edge_after = clip.frames[inside][0], clip.frames[inside][-1]
        assert all((f == edge_before).all() for f in clip.frames[positions < first])
        assert all((f == edge_after).all() for f in clip.frames[positions > last])
    # 'lay' (0.48-0.72 s in its recording) is spoken 0.08 s after the cut: frames 77-82,
    # centred on frame 80, so its window starts at frame 66, 9 positions before the cut.
    (lay,) = [c for c in clips if c.word == "lay"]
    assert (lay.shot, lay.first_frame, lay.padded_before) == (1, 66, 9)


@pytest.fixture(scope="module")
def split_screens(tmp_path_factory):
    folder = tmp_path_factory.mktemp("split")
    left, right = media.sample_video("bbaf3s"), media.sample_video("lgiz3s")
    return {side: media.side_by_side(left, right, str(folder / f"{side}.mp4"), audio=side)
            for side in ("left", "right")}


@pytest.mark.parametrize("side,clip", [("left", "bbaf3s"), ("right", "lgiz3s")])
def test_split_screen_crops_come_from_the_speaking_side(fns, split_screens, side, clip):
    clips, failures, tracks = _run(fns, split_screens[side], _words(clip))
    assert len(tracks.faces.faces) == 2
    assert len(clips) + len(failures) == 6
    assert {f["reason"] for f in failures} <= {"ambiguous_speaker"}
    for record in clips:
        mouth_x = float(np.mean(record.landmarks[:, 48:68, 0]))
        assert (mouth_x < HALF_WIDTH) == (side == "left"), record.word
        assert record.candidate_faces == 2
        assert record.speaker_margin >= fns[1]._speaker.min_margin


def test_split_screen_without_audio_is_never_guessed(fns, tmp_path):
    silent = media.h264(media.side_by_side(media.sample_video("bbaf3s"),
                                           media.sample_video("lgiz3s"),
                                           str(tmp_path / "with_audio.mp4")),
                        str(tmp_path / "silent.mp4"))
    job = VideoJob(VideoInput(silent, "silent", None), Transcript("grid", _words("bbaf3s")))
    tracks = list(fns[0].process(job))
    pipeline = BeamTestPipeline()
    out = pipeline | beam.Create(tracks) | CropMouths(CONFIG)
    assert_that(out.clips, equal_to([]), label="main")
    assert_that(out[DEAD_LETTER] | beam.Map(lambda f: f["reason"]),
                equal_to(["ambiguous_speaker"] * 6), label="dead")
    pipeline.run().wait_until_finish()


def test_split_screen_with_a_silent_audio_track_has_no_sync_signal(fns, tmp_path):
    video = media.side_by_side(media.sample_video("bbaf3s"), media.sample_video("lgiz3s"),
                               str(tmp_path / "loud.mp4"))
    hushed = str(tmp_path / "hushed.mp4")
    media.ffmpeg("-i", video, "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-map", "0:v",
                 "-map", "1:a", "-shortest", "-c:v", "copy", "-c:a", "aac", hushed)
    clips, failures, tracks = _run(fns, hushed, _words("bbaf3s"))
    assert tracks.has_audio and len(tracks.faces.faces) == 2
    assert clips == []
    assert [f["reason"] for f in failures] == ["no_sync_signal"] * 6


def test_three_faces_in_a_shot_are_each_tracked(fns, tmp_path):
    path = str(tmp_path / "three.mp4")
    media.ffmpeg("-i", media.sample_video("bbaf3s"), "-i", media.sample_video("lgiz3s"),
                 "-i", media.sample_video("pbai7a"), "-filter_complex",
                 "[0:v][1:v][2:v]hstack=inputs=3[v]", "-map", "[v]", "-map", "1:a:0",
                 "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 path)
    clips, failures, tracks = _run(fns, path, _words("lgiz3s"))
    centres = sorted(float(np.nanmean(f.points[:, 48:68, 0])) for f in tracks.faces.faces)
    assert len(centres) == 3 and centres[0] < 360 < centres[1] < 720 < centres[2]
    assert len(clips) + len(failures) == 6
    assert {f["reason"] for f in failures} <= {"ambiguous_speaker"}
    for record in clips:
        assert 360 < float(np.mean(record.landmarks[:, 48:68, 0])) < 720, record.word


def test_a_video_starting_after_its_audio_keeps_the_words_on_its_lips(fns, tmp_path):
    original, _, _ = _run(fns, media.h264(media.sample_video(), str(tmp_path / "same.mp4")),
                          _words("bbaf3s"))
    delayed_path = media.video_delayed(media.sample_video(), str(tmp_path / "late.mp4"), 0.4)
    delayed, failures, tracks = _run(fns, delayed_path, _words("bbaf3s", 0.4))
    assert failures == [] and tracks.faces.video_start == pytest.approx(0.4)
    assert [c.word for c in delayed] == [c.word for c in original]
    for ours, reference in zip(delayed, original):
        assert ours.first_frame == reference.first_frame, ours.word
        assert ours.start_time == pytest.approx(reference.start_time + 0.4)
        assert ours.video_start == pytest.approx(0.4)
        difference = np.abs(ours.frames.astype(int) - reference.frames.astype(int)).mean()
        assert difference < 3.0, ours.word  # the same frames, up to re-encoding noise


def test_minutes_without_a_face_cost_no_landmark_fits_and_lose_no_word(fns, tmp_path):
    card = media.no_face(str(tmp_path / "card.mp4"), seconds=40.0)
    carded = str(tmp_path / "card_audio.mp4")
    media.ffmpeg("-i", card, "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-shortest",
                 "-c:v", "copy", "-c:a", "aac", carded)
    path = media.concatenated([carded, media.sample_video("bbaf3s")], str(tmp_path / "long.mp4"))
    words = (WordTiming("nobody", 20.0, 20.4),) + _words("bbaf3s", 40.0)
    clips, failures, tracks = _run(fns, path, words)
    assert list(tracks.faces.shot_starts) == [0, 1000]
    assert [(f["word"], f["reason"]) for f in failures] == [("nobody", "no_face")]
    assert sorted(c.word for c in clips) == sorted(w.word for w in _words("bbaf3s"))
    assert all(c.shot == 1 for c in clips)


def test_a_cut_to_black_mid_clip_ends_the_shot_and_no_black_frame_is_cropped(fns, tmp_path):
    # The picture goes black from frame 30 on: a cut. GRID 'bbaf3s' words, in frames:
    # bin 18-22 (window 6-34), blue 23-26 (10-38), at 27 (13-41) stay in shot 0 and are
    # padded with frame 29; f 28-30 is spoken across the cut; three and soon lie in the
    # black shot, where there is no face.
    hidden = media.h264(media.sample_video(), str(tmp_path / "hidden.mp4"),
                        "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='gte(n,30)'")
    clips, failures, tracks = _run(fns, hidden, _words("bbaf3s"))
    assert list(tracks.faces.shot_starts) == [0, 30]
    (face,) = tracks.faces.faces
    assert face.last_frame == 29
    assert sorted((f["word"], f["reason"]) for f in failures) == [
        ("f", "word_crosses_cut"), ("soon", "no_face"), ("three", "no_face")]
    assert [(c.word, c.padded_after) for c in clips] == [("bin", 5), ("blue", 9), ("at", 12)]


def _chunked_run(fns, path: str, words, chunk_seconds: float):
    config = dataclasses.replace(CONFIG, chunk_seconds=chunk_seconds)
    planners = (PlanChunksFn(config), ScanPieceFn(config), ChunkVideoFn(config))
    job = VideoJob(VideoInput(path, "programme", None), Transcript("grid", words))
    items = list(plan_in_one_process(planners, job))
    clips = []
    for item in items:
        for tracks in fns[0].process(item):
            clips.extend(c for c in fns[1].process(tracks)
                         if not isinstance(c, beam.pvalue.TaggedOutput))
    return items, sorted(clips, key=lambda c: c.clip_id)


def test_a_long_programme_in_chunks_gives_the_clips_of_one_pass(fns, tmp_path):
    names = ("bbaf3s", "lgiz3s", "pbai7a", "srwi5a", "bwag5s", "lriq9a")
    path = media.concatenated([media.sample_video(c) for c in names], str(tmp_path / "six.mp4"))
    lengths = [sum(1 for _ in decode_frames(media.sample_video(c), DecodeReport())) for c in names]
    assert lengths == [75, 75, 75, 74, 75, 75]
    starts = [0, 75, 150, 225, 299, 374]
    words = tuple(w for start, name in zip(starts, names) for w in _words(name, start / 25))
    whole_items, whole = _chunked_run(fns, path, words, chunk_seconds=600.0)
    chunk_items, chunked = _chunked_run(fns, path, words, chunk_seconds=7.0)
    assert len(whole_items) == 1 and whole_items[0].plan.chunk is None
    # 449 frames in six shots: chunks of whole shots up to 175 frames hold two shots each.
    assert [(j.plan.chunk.first, j.plan.chunk.end) for j in chunk_items] == [
        (0, 150), (150, 299), (299, 449)]
    assert list(chunk_items[0].plan.shot_starts) == starts
    assert sorted(i for j in chunk_items for i in j.plan.word_indices) == list(range(36))
    assert [c.clip_id for c in chunked] == [c.clip_id for c in whole] and len(whole) == 36
    for ours, reference in zip(chunked, whole):
        np.testing.assert_array_equal(ours.frames, reference.frames)
        assert (ours.shot, ours.first_frame) == (reference.shot, reference.first_frame)


def test_a_cut_scan_in_pieces_finds_the_cuts_of_one_whole_scan(tmp_path):
    # Six GRID clips joined: cuts at 75, 150, 225, 299 and 374. Pieces of 75 frames start
    # on three of the cuts and end one frame after the other two (a cut is decided on the
    # frame after it, which the piece before the boundary must still decode).
    names = ("bbaf3s", "lgiz3s", "pbai7a", "srwi5a", "bwag5s", "lriq9a")
    path = media.concatenated([media.sample_video(c) for c in names], str(tmp_path / "six.mp4"))
    whole = ShotDetector()
    for thumb in decode_thumbnails(path, CONFIG.fps):
        whole.update(thumb)
    whole.finish()
    assert whole.cuts == [75, 150, 225, 299, 374]
    media_info = probe_media(path, CONFIG.fps)
    job = VideoJob(VideoInput(path, "six", None), Transcript("grid", _words("bbaf3s")))
    pieces = scan_pieces(job, media_info, CONFIG.fps, piece_frames=75)
    assert [(p.first, p.end) for p in pieces] == [
        (0, 75), (75, 150), (150, 225), (225, 300), (300, 375), (375, None)]
    found = [scan_piece(path, piece, CONFIG.fps) for piece in pieces]
    assert [cut for part in found for cut in part.cuts] == whole.cuts
    assert max(part.seen_to for part in found) == 449  # the video's length, from the last piece
    assert [len(part.cuts) for part in found] == [0, 1, 1, 2, 1, 0]


def test_a_scan_piece_past_the_end_of_the_video_sees_nothing(tmp_path):
    path = media.sample_video("bbaf3s")
    piece = ScanPiece(1, 200, None, probe_media(path, CONFIG.fps).video_start, path)
    assert scan_piece(path, piece, CONFIG.fps) == PieceCuts(piece, (), 0)
