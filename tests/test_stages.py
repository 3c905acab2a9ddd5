"""Each Beam stage on TestPipeline: main and dead-letter outputs, and its counters."""

import dataclasses
import json
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.preprocess.config import default
from pipelines.preprocess.crop_mouths import CropMouths
from pipelines.preprocess.dead_letters import DEAD_LETTER, WriteDeadLetters
from pipelines.preprocess.detect_landmarks import DetectLandmarks, DetectLandmarksFn
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.read_transcripts import ReadTranscripts
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import Transcript, WordTiming, parse_transcript
from tests import media

CONFIG = default()


def _counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    return sum(c.committed for c in found)


def _reasons(failures):
    return sorted((f["stage"], f["reason"], f["words_affected"]) for f in failures)


def _grid_job(clip="bbaf3s", extra_words=()) -> VideoJob:
    with open(media.sample_align(clip), "rb") as handle:
        transcript = parse_transcript(handle.read(), f"{clip}.align")
    words = transcript.words + tuple(extra_words)
    return VideoJob(VideoInput(media.sample_video(clip), f"video/{clip}", media.sample_align(clip)),
                    Transcript("grid", words))


def test_read_transcripts_routes_bad_transcripts_to_dead_letters(tmp_path):
    latin1 = tmp_path / "latin.align"
    latin1.write_bytes("0 1000 caf\xe9\n".encode("latin-1"))
    garbled = tmp_path / "garbled.align"
    garbled.write_text("0 17750 sil\nthis is not a line\n")
    # Files built to break a parser: an overflowing count, a number Python cannot convert.
    overflow = tmp_path / "overflow.TextGrid"
    overflow.write_text('File type = "ooTextFile"\nObject class = "TextGrid"\nxmin = 0\n'
                        'xmax = 1\ntiers? <exists>\nsize = 1e400\n')
    giant = tmp_path / "giant.srt"
    giant.write_text(f"1\n{'9' * 5000}:00:00,000 --> 00:00:01,000\nhello\n")
    large = tmp_path / "large.align"
    large.write_text("0 1000 a\n" * 1000)
    videos = [
        VideoInput(media.sample_video(), "good", media.sample_align()),
        VideoInput("a.mp4", "no_transcript", None),
        VideoInput("b.mp4", "latin", str(latin1)),
        VideoInput("c.mp4", "garbled", str(garbled)),
        VideoInput("d.mp4", "overflow", str(overflow)),
        VideoInput("e.mp4", "giant", str(giant)),
        VideoInput("f.mp4", "large", str(large)),
    ]
    pipeline = BeamTestPipeline()
    out = pipeline | beam.Create(videos) | ReadTranscripts(max_bytes=8000)
    assert_that(out.jobs | beam.Map(lambda j: (j.input.video_id, len(j.transcript.words))),
                equal_to([("good", 6)]), label="main")
    assert_that(out[DEAD_LETTER] | beam.Map(lambda f: (f["video_id"], f["reason"])),
                equal_to([("no_transcript", "missing_transcript"), ("latin", "bad_encoding"),
                          ("garbled", "unparseable_transcript"),
                          ("overflow", "unparseable_transcript"),
                          ("giant", "unparseable_transcript"),
                          ("large", "transcript_too_large")]), label="dead")
    result = pipeline.run()
    result.wait_until_finish()
    assert _counter(result, "read_transcript.ok") == 1
    assert _counter(result, "read_transcript.failed.bad_encoding") == 1


def _check_track(tracks):
    (track,) = tracks
    (face,) = track.faces.faces
    assert track.num_frames == 75 and list(track.faces.shot_starts) == [0]
    assert face.points.shape[1:] == (68, 2) and face.points.dtype == np.float32
    assert face.fitted.sum() >= 70 and face.shot == 0
    assert (track.faces.height, track.faces.width) == (288, 360)
    assert track.faces.video_start == 0.0 and track.has_audio
    mouth_x = np.nanmean(face.points[:, 48:68, 0])
    assert 120 < mouth_x < 240  # the speaker sits in the middle of the frame


def test_detect_landmarks_tracks_a_real_face_and_rejects_the_rest(tmp_path):
    no_face = media.no_face(str(tmp_path / "test_card.mp4"))
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    good = _grid_job()
    jobs = [good,
            VideoJob(VideoInput(no_face, "card", None), good.transcript),
            VideoJob(VideoInput(str(text), "text", None), good.transcript)]
    pipeline = BeamTestPipeline()
    out = pipeline | beam.Create(jobs) | DetectLandmarks(CONFIG)
    assert_that(out.tracks, _check_track, label="main")
    assert_that(out[DEAD_LETTER] | beam.Map(lambda f: (f["video_id"], f["reason"],
                                                      f["words_affected"])),
                equal_to([("card", "no_face", 6), ("text", "not_a_video", 6)]), label="dead")
    result = pipeline.run()
    result.wait_until_finish()
    assert _counter(result, "detect_landmarks.ok") == 1
    assert _counter(result, "detect_landmarks.frames_decoded") == 75 + 75


def test_detect_landmarks_fits_only_the_frames_a_word_window_can_use():
    # 'bin' alone: its window is frames 6-34; landmarks are wanted 33 frames either side
    # (half the 75-frame sync span beyond the 29-frame window, 23, and the 10 frames a
    # sound-to-picture offset may move the window), so frames 0-67 of 75.
    job = _grid_job()
    only_bin = dataclasses.replace(job, transcript=Transcript("grid", job.transcript.words[:1]))
    fn = DetectLandmarksFn(CONFIG)
    fn.setup()
    (track,) = list(fn.process(only_bin))
    assert CONFIG.context_frames == 33
    assert track.faces.decoded_frames == 75
    assert track.faces.fitted_frames == 68
    assert all(f.first_frame >= 0 and f.last_frame <= 67 for f in track.faces.faces)
    assert track.faces.frames_with_face == 68


def test_words_past_the_end_of_a_face_video_are_outside_it_not_faceless():
    # A transcript shifted past the end of a 3-second clip with a face in every frame:
    # no frame is searched, and each word is reported as outside the video.
    job = _grid_job()
    late = tuple(WordTiming(w.word, w.start + 5.0, w.end + 5.0) for w in job.transcript.words)
    shifted = dataclasses.replace(job, transcript=Transcript("grid", late))
    fn = DetectLandmarksFn(CONFIG)
    fn.setup()
    (track,) = list(fn.process(shifted))
    assert track.faces.fitted_frames == 0 and track.faces.decoded_frames == 75
    pipeline = BeamTestPipeline()
    out = pipeline | beam.Create([track]) | CropMouths(CONFIG)
    assert_that(out.clips, equal_to([]), label="main")
    assert_that(out[DEAD_LETTER] | beam.Map(lambda f: (f["word"], f["reason"])),
                equal_to([(w.word, "word_outside_video") for w in late]), label="dead")
    pipeline.run().wait_until_finish()


@pytest.fixture(scope="module")
def grid_track():
    """A real landmark track of a sample clip, with two words that cannot be cut."""
    job = _grid_job(extra_words=(WordTiming("late", 3.5, 3.9), WordTiming("back", 1.0, 0.5)))
    fn = DetectLandmarksFn(CONFIG)
    fn.setup()
    (track,) = list(fn.process(job))
    return track


def _check_clips(clips):
    assert sorted(c.word for c in clips) == sorted(["bin", "blue", "at", "f", "three", "soon"])
    for clip in clips:
        assert clip.frames.shape == (29, 96, 96) and clip.frames.dtype == np.uint8
        assert clip.boundary_mask.sum() >= 1
        assert np.isfinite(clip.landmarks).all()


def test_crop_mouths_cuts_each_word_and_dead_letters_the_rest(grid_track):
    pipeline = BeamTestPipeline()
    out = pipeline | beam.Create([grid_track]) | CropMouths(CONFIG)
    assert_that(out.clips, _check_clips, label="main")
    assert_that(out[DEAD_LETTER] | beam.Map(lambda f: (f["word"], f["reason"])),
                equal_to([("late", "word_outside_video"), ("back", "invalid_word_times")]),
                label="dead")
    result = pipeline.run()
    result.wait_until_finish()
    assert _counter(result, "crop_mouths.clips") == 6
    assert _counter(result, "crop_mouths.failed.word_outside_video") == 1


def test_a_window_without_a_face_is_never_cropped(grid_track):
    # No face from frame 25 on: held for max_gap = 12 frames, so frames 25-36 stay usable.
    # 'bin' (window 6-34) is cut; 'blue' (10-38) and every later word need frames >= 37.
    (face,) = grid_track.faces.faces
    fitted = face.fitted.copy()
    fitted[25 - face.first_frame:] = False
    points = face.points.copy()
    points[25 - face.first_frame:] = np.nan
    blind_face = dataclasses.replace(face, points=points, fitted=fitted)
    blind = dataclasses.replace(grid_track,
                                faces=dataclasses.replace(grid_track.faces, faces=[blind_face]))
    pipeline = BeamTestPipeline()
    out = pipeline | beam.Create([blind]) | CropMouths(CONFIG)
    assert_that(out.clips | beam.Map(lambda c: c.word), equal_to(["bin"]), label="main")
    assert_that(out[DEAD_LETTER] | beam.Map(lambda f: f["reason"]),
                equal_to(["no_face"] * 5 + ["word_outside_video", "invalid_word_times"]),
                label="dead")
    pipeline.run().wait_until_finish()


def test_dead_letters_file_exists_even_when_nothing_failed(tmp_path):
    path = str(tmp_path / "dead_letters.jsonl")
    with BeamTestPipeline() as pipeline:
        _ = pipeline | beam.Create([], reshuffle=False) | WriteDeadLetters(path)
    assert os.path.exists(path) and open(path).read() == ""


def test_dead_letters_are_json_lines(tmp_path):
    path = str(tmp_path / "dead_letters.jsonl")
    records = [{"input": "vidéo.mp4", "stage": "s", "reason": "r", "detail": "d"}]
    with BeamTestPipeline() as pipeline:
        _ = pipeline | beam.Create(records) | WriteDeadLetters(path)
    with open(path, encoding="utf-8") as handle:
        assert [json.loads(line) for line in handle] == records
