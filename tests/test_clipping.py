"""The clip-cutting library on its own: crop requests of any length, on synthetic and real video."""

import numpy as np
import pytest

from pipelines.preprocess import clipping
from pipelines.preprocess.config import default
from pipelines.preprocess.crop_mouths import word_spans
from pipelines.preprocess.detect_landmarks import DetectLandmarksFn
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.landmarks.face_tracks import FaceTrack
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import Transcript, parse_transcript
from pipelines.preprocess.word_placement import PlacedWord, prepare_faces
from tests import media

CONFIG = default()


def _still_face(frames: int, track_id: int = 0, first: int = 0):
    """A prepared face that sits still at the mean face's own position for `frames` frames."""
    points = np.repeat(mean_face()[None].astype(np.float32), frames, axis=0)
    track = FaceTrack(track_id, 0, first, points, np.ones(frames, dtype=bool))
    (face,) = prepare_faces([track], CONFIG.max_gap, CONFIG.smooth_window)
    return face


def _numbered_frames(count: int):
    """Flat grey frames whose every pixel is the frame's own number."""
    return (np.full((256, 256), index, np.uint8) for index in range(count))


def test_each_request_gets_its_own_frames_in_its_own_order():
    face = _still_face(60)
    requests = [clipping.CropRequest(np.array([10, 10, 11, 12, 50]), face),   # repeats an edge
                clipping.CropRequest(np.arange(0, 45), face),                 # a sentence
                clipping.CropRequest(np.array([30, 20, 25]), face)]           # any order
    cuts = list(clipping.cut_crops(_numbered_frames(60), requests, mean_face(), 32))
    # Out in order of last frame: request 2 (frame 30), 1 (44), 0 (50).
    assert [cut.request for cut in cuts] == [2, 1, 0]
    for cut in cuts:
        wanted = requests[cut.request].frame_indices
        assert cut.frames.shape == (len(wanted), 32, 32) and cut.frames.dtype == np.uint8
        assert cut.transforms.shape == (len(wanted), 2, 3)
        assert [int(crop[16, 16]) for crop in cut.frames] == [int(i) for i in wanted]


def test_a_request_past_the_end_of_the_stream_is_uncut_and_says_where():
    face = _still_face(40)
    requests = [clipping.CropRequest(np.arange(5, 15), face),
                clipping.CropRequest(np.arange(25, 40), face)]
    outcomes = list(clipping.cut_crops(_numbered_frames(30), requests, mean_face(), 32))
    assert isinstance(outcomes[0], clipping.CutCrops) and outcomes[0].request == 0
    assert outcomes[1] == clipping.Uncut(1, "the decode ended before frame 39")


def test_a_chunk_numbers_its_frames_from_its_first():
    face = _still_face(20, first=100)
    (cut,) = clipping.cut_crops((np.full((256, 256), 7 + k, np.uint8) for k in range(20)),
                                [clipping.CropRequest(np.array([103, 101]), face)],
                                mean_face(), 32, first=100)
    assert [int(crop[16, 16]) for crop in cut.frames] == [7 + 3, 7 + 1]


@pytest.fixture(scope="module")
def grid_tracks():
    clip = "bbaf3s"
    with open(media.sample_align(clip), "rb") as handle:
        transcript = parse_transcript(handle.read(), f"{clip}.align")
    job = VideoJob(VideoInput(media.sample_video(clip), f"video/{clip}", media.sample_align(clip)),
                   Transcript("grid", transcript.words))
    fn = DetectLandmarksFn(CONFIG)
    fn.setup()
    (tracks,) = list(fn.process(job))
    return tracks


def test_a_sentence_long_window_holds_the_same_crops_as_the_word_windows(grid_tracks):
    path, faces = grid_tracks.job.input.video, grid_tracks.faces
    energy = clipping.speech_energy(path, faces, CONFIG.fps, grid_tracks.has_audio)
    placed = [p for p in clipping.place_words(word_spans(grid_tracks, CONFIG.fps), faces, energy,
                                              CONFIG) if isinstance(p, PlacedWord)]
    assert [p.word for p in placed] == ["bin", "blue", "at", "f", "three", "soon"]
    first, last = placed[0].first_frame, placed[-1].last_frame
    sentence = clipping.CropRequest(np.arange(first, last + 1), placed[0].face)
    requests = clipping.crop_requests(placed) + [sentence]
    cuts = {cut.request: cut for cut in clipping.cut_crops(
        clipping.decode_for_cut(path, faces, CONFIG), requests, mean_face(), CONFIG.crop_size)}
    assert len(cuts) == len(requests) and cuts[len(placed)].frames.shape[0] == last - first + 1
    for number, word in enumerate(placed):
        at = word.window.frame_indices - first
        np.testing.assert_array_equal(cuts[number].frames, cuts[len(placed)].frames[at])
        np.testing.assert_array_equal(cuts[number].transforms, cuts[len(placed)].transforms[at])


def test_an_undecodable_file_is_a_record_error_from_track_video(tmp_path):
    from pipelines.preprocess.errors import RecordError
    from pipelines.preprocess.landmarks import make_backend

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    backend = make_backend(CONFIG.landmarks)
    backend.load()
    with pytest.raises(RecordError) as caught:
        clipping.track_video(str(bad), CONFIG, backend, None)
    assert caught.value.reason in ("not_a_video", "corrupt_video", "no_video_stream")
