"""One decode per video: crops cut from the regions the landmark pass keeps are the crops of
the whole frames, and a real preprocess run decodes each video exactly once."""

import dataclasses
import glob
import hashlib
import os
import shutil
from collections import Counter

import cv2
import numpy as np
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from pipelines.preprocess import clipping, job
from pipelines.preprocess.alignment import crop_footprint, warp_crop, warp_crop_from_region
from pipelines.preprocess.config import default
from pipelines.preprocess.crop_mouths import clip_id, word_spans
from pipelines.preprocess.crop_sources import CropSources, KeptFrame, Region, kept_region
from pipelines.preprocess.detect_landmarks import DetectLandmarksFn
from pipelines.preprocess.inputs import VideoInput, list_inputs
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import Transcript, parse_transcript
from pipelines.preprocess.word_placement import PlacedWord
from schemas.clip import CLIP_ID, FRAMES, decode_clip
from schemas.layout import clip_file_pattern
from tests import media

CONFIG = default()
CLIPS = ("bbaf3s", "bbiz1s")


def _textured_frame(height=240, width=320, seed=0) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 1.5)


def _similarity(scale: float, angle: float, centre, crop_size: int) -> np.ndarray:
    """Frame -> crop matrix that puts frame point `centre` at the crop's centre."""
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]])
    shift = np.full(2, (crop_size - 1) / 2.0) - linear @ np.asarray(centre, dtype=np.float64)
    return np.concatenate([linear, shift[:, None]], axis=1)


def test_the_footprint_of_a_shift_is_the_crop_square_moved_and_widened_by_a_pixel():
    # Crop pixel (x, y) reads frame pixel (x + 10, y + 20): crop 0..31 reads 10..41 and
    # 20..51, and the bilinear neighbour and rounding add a pixel on each side.
    shift = np.array([[1.0, 0.0, -10.0], [0.0, 1.0, -20.0]])
    assert crop_footprint(shift, 32) == (9, 19, 43, 53)


@pytest.mark.parametrize("centre", [(160.0, 120.0), (30.0, 25.0), (300.0, 230.0)],
                         ids=["inside", "past_top_left", "past_bottom_right"])
def test_a_crop_from_a_region_holding_its_footprint_is_the_whole_frame_crop(centre):
    frame = _textured_frame()
    for k, (scale, angle) in enumerate([(0.7, 0.1), (1.3, -0.25), (0.45, 0.02)]):
        matrix = _similarity(scale, angle, centre, 64)
        region = kept_region(frame, crop_footprint(matrix, 64), margin=0.1)
        assert region.holds(crop_footprint(matrix, 64))
        assert region.pixels.size < frame.size
        whole = warp_crop(frame, matrix, 64)
        cut = warp_crop_from_region(region.pixels, region.left, region.top, matrix, 64)
        np.testing.assert_array_equal(cut, whole, err_msg=f"transform {k}")


def test_a_region_one_pixel_short_of_the_footprint_is_refused():
    frame = _textured_frame()
    matrix = _similarity(0.8, 0.2, (160.0, 120.0), 48)
    left, top, right, bottom = crop_footprint(matrix, 48)
    exact = Region(left, top, frame[top:bottom + 1, left:right + 1].copy(), 320, 240)
    short = Region(left, top, frame[top:bottom + 1, left:right].copy(), 320, 240)
    np.testing.assert_array_equal(KeptFrame({3: exact}).crop(3, matrix, 48),
                                  warp_crop(frame, matrix, 48))
    assert KeptFrame({3: short}).crop(3, matrix, 48) is None
    assert KeptFrame({3: exact}).crop(4, matrix, 48) is None  # no region of that face


def test_only_frames_inside_the_crop_ranges_are_kept():
    face = mean_face().astype(np.float32)  # the mean face's own pose on a 256-pixel frame
    sources = CropSources(mean_face(), 96, ranges=[(2, 4), (9, 9)])
    for index in range(12):
        sources.keep(index, _textured_frame(256, 256, seed=index), [(5, face)])
    kept = [index for index, frame in enumerate(sources.frames(0, 12)) if frame.regions]
    assert kept == [2, 3, 4, 9]
    assert sources.nbytes > 0


def _grid_job(clip: str) -> VideoJob:
    with open(media.sample_align(clip), "rb") as handle:
        transcript = parse_transcript(handle.read(), f"{clip}.align")
    return VideoJob(VideoInput(media.sample_video(clip), f"video/{clip}", media.sample_align(clip)),
                    Transcript("grid", transcript.words))


def _digest(frames: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


def _placed(tracks) -> list[PlacedWord]:
    energy = clipping.speech_energy(tracks.job.input.video, tracks.faces, CONFIG.fps,
                                    tracks.has_audio)
    return [p for p in clipping.place_words(word_spans(tracks, CONFIG.fps), tracks.faces, energy,
                                            CONFIG) if isinstance(p, PlacedWord)]


def _whole_frame_crops(job: VideoJob) -> dict[str, str]:
    """Clip id -> digest of its crops, cut by the library from a decode of the whole frames."""
    fn = DetectLandmarksFn(CONFIG)
    fn.setup()
    (tracks,) = list(fn.process(job))
    placed = _placed(tracks)
    frames = clipping.decode_for_cut(job.input.video, tracks.faces, CONFIG)
    cuts = list(clipping.cut_crops(frames, clipping.crop_requests(placed), mean_face(),
                                   CONFIG.crop_size))
    return {clip_id(job.input.video_id, placed[c.request].index, placed[c.request].word):
            _digest(c.frames) for c in cuts}


def _counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    return sum(c.committed for c in found)


def _sample_folder(root) -> str:
    for folder in ("video", "align"):
        (root / folder).mkdir(parents=True)
    for clip in CLIPS:
        shutil.copyfile(media.sample_video(clip), root / "video" / f"{clip}.mpg")
        shutil.copyfile(media.sample_align(clip), root / "align" / f"{clip}.align")
    return str(root)


def _written_crops(output: str) -> dict[str, str]:
    """Clip id -> digest of its frames, read back from the train split's files."""
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(output, "train", clip_file_pattern("gzip"))))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    clips = [decode_clip(r.numpy()) for r in records]
    return {c[CLIP_ID]: _digest(c[FRAMES]) for c in clips}


@pytest.mark.slow
def test_the_preprocess_job_decodes_each_video_once_and_writes_the_whole_frame_crops(
        tmp_path, monkeypatch):
    source = _sample_folder(tmp_path / "in")
    listing = list_inputs(source)
    config = dataclasses.replace(CONFIG, train_fraction=1.0, val_fraction=0.0)
    expected = {}
    for video in listing.videos:
        expected.update(_whole_frame_crops(_grid_job(os.path.basename(video.video)[:-4])))
    assert len(expected) == 12
    decodes = Counter()
    real_decode = clipping.decode_frames

    def counted_decode(path, *args, **kwargs):
        decodes[path] += 1
        return real_decode(path, *args, **kwargs)

    monkeypatch.setattr(clipping, "decode_frames", counted_decode)
    output = str(tmp_path / "out")
    os.makedirs(output)
    run_info = {"input": source, "output": output, "options": config.as_dict()}
    pipeline = BeamTestPipeline(options=PipelineOptions(["--direct_running_mode", "in_memory"]))
    job.build_pipeline(pipeline, listing, config, output, run_info)
    result = pipeline.run()
    result.wait_until_finish()
    assert dict(decodes) == {video.video: 1 for video in listing.videos}
    assert _counter(result, "detect_landmarks.decode_passes") == len(CLIPS)
    assert _counter(result, "crop_mouths.decode_passes") == 0
    assert _written_crops(output) == expected


def test_a_crop_the_kept_regions_do_not_hold_is_cut_from_a_second_decode():
    job = _grid_job(CLIPS[0])
    fn = DetectLandmarksFn(CONFIG)
    fn.setup()
    (tracks,) = list(fn.process(job))
    first = clipping.crop_requests(_placed(tracks)[:1])[0]
    # The second request, on frames the first does not use, follows a face 60 pixels right
    # of the one fitted: the regions kept around the fitted face do not hold its crops.
    face = first.face
    moved = type(face)(face.track, face.filled + [60.0, 0.0], face.smoothed + [60.0, 0.0],
                       face.usable)
    requests = [first, clipping.CropRequest(np.arange(first.last_frame + 1, 70), moved)]
    tracked = clipping.TrackedVideo(tracks.faces, tracks.has_audio, sources=tracks.sources)
    outcomes = list(clipping.cut_video_crops(job.input.video, tracked, requests, mean_face(),
                                             CONFIG))
    assert [type(o).__name__ for o in outcomes] == ["CutCrops", "SecondDecode", "CutCrops"]
    assert outcomes[1] == clipping.SecondDecode(1)
    whole = {c.request: c for c in clipping.cut_crops(
        clipping.decode_for_cut(job.input.video, tracks.faces, CONFIG), requests, mean_face(),
        CONFIG.crop_size)}
    for outcome in (outcomes[0], outcomes[2]):
        np.testing.assert_array_equal(outcome.frames, whole[outcome.request].frames)
    assert outcomes[2].request == 1
