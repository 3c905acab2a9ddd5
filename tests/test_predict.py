"""lipflow predict on real sample videos with a real small export, checked against the
SavedModel called directly on the clips the preprocess job cut from the same videos."""

import json
import os
import shutil

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf

from schemas.export import read_vocabulary
from pipelines.evaluate.read_clips import split_files
from pipelines.preprocess import clipping
from pipelines.preprocess.config import default
from pipelines.preprocess.crop_mouths import CropWordClipsFn
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.detect_landmarks import DetectLandmarksFn
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import Transcript, WordTiming, parse_transcript
from pipelines.predict.model import load_model
from pipelines.predict.predictor import Predictor
from schemas.clip import decode_clip
from tests import media
from tests.runs import SMALL_VAL_CLIPS, lipflow

WITH_TRANSCRIPT, BARE = SMALL_VAL_CLIPS  # lgiz3s, lriq9a: clips of the val split


def _jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _align_words(clip: str) -> list[str]:
    with open(media.sample_align(clip), "rb") as handle:
        return [w.word for w in parse_transcript(handle.read(), f"{clip}.align").words]


@pytest.fixture(scope="module")
def export(small_model):
    return os.path.join(small_model, "export")


@pytest.fixture(scope="module")
def serve(export):
    return tf.saved_model.load(export).signatures["serve"]


@pytest.fixture(scope="module")
def predictor(export):
    return Predictor(export)


@pytest.fixture(scope="module")
def dataset_clips(small_dataset):
    """word_index -> clip dict of every original val clip of WITH_TRANSCRIPT."""
    clips = {}
    for path in split_files(small_dataset, "val"):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            clip = decode_clip(record.numpy())
            if clip["video_id"].endswith(WITH_TRANSCRIPT) and clip["augment_copy"] == 0:
                clips[clip["word_index"]] = clip
    return clips


def _served(serve, frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = serve(frames=tf.constant(frames), boundary_mask=tf.constant(mask.astype(np.float32)))
    return out["probabilities"].numpy()


def test_words_get_the_crops_and_probabilities_of_the_preprocess_clips(predictor, serve,
                                                                       dataset_clips):
    prediction = predictor.predict(media.sample_video(WITH_TRANSCRIPT))
    assert prediction.clips.source == "word"
    by_index = {s.index: (s, row) for s, row in zip(prediction.clips.segments,
                                                   prediction.probabilities)}
    assert len(dataset_clips) >= 5 and set(dataset_clips) <= set(by_index)
    for index, clip in dataset_clips.items():
        segment, row = by_index[index]
        assert segment.true_word == clip["word"]
        np.testing.assert_array_equal(segment.frames, clip["frames"])
        np.testing.assert_array_equal(segment.boundary_mask, clip["boundary_mask"])
        direct = _served(serve, clip["frames"][None], clip["boundary_mask"][None])[0]
        np.testing.assert_allclose(row, direct, atol=1e-5)


def _alone(clip: str, folder) -> str:
    """A copy of a sample video in a folder of its own: no transcript to find."""
    os.makedirs(folder)
    return shutil.copyfile(media.sample_video(clip), os.path.join(folder, f"{clip}.mpg"))


def test_speech_segments_get_what_the_preprocess_job_cuts_for_the_same_times(predictor, serve,
                                                                             tmp_path):
    # The preprocess stages, given the segments' own times as words, must cut the same
    # crops and the model must give them the same probabilities.
    video = _alone(BARE, tmp_path / "mine")
    prediction = predictor.predict(video)
    assert prediction.clips.source == "speech" and prediction.clips.transcript is None
    segments = prediction.clips.segments
    assert segments
    words = tuple(WordTiming("speech", s.start, s.end) for s in segments)
    job = VideoJob(VideoInput(video, BARE, None), Transcript("grid", words))
    detect, crop = DetectLandmarksFn(default()), CropWordClipsFn(default())
    detect.setup()
    crop.setup()
    (tracks,) = list(detect.process(job))
    records = [r for r in crop.process(tracks) if not isinstance(r, beam.pvalue.TaggedOutput)]
    assert [r.word_index for r in records] == list(range(len(segments)))
    rows = _served(serve, np.stack([r.frames for r in records]),
                   np.stack([r.boundary_mask for r in records]))
    for segment, record, row, predicted in zip(segments, records, rows,
                                               prediction.probabilities):
        np.testing.assert_array_equal(segment.frames, record.frames)
        np.testing.assert_allclose(predicted, row, atol=1e-5)


def test_the_command_writes_lines_a_page_and_an_annotated_video(export, serve, dataset_clips,
                                                               tmp_path):
    bare = _alone(BARE, tmp_path / "mine")
    output = tmp_path / "out"
    result = lipflow("predict", media.sample_video(WITH_TRANSCRIPT), bare, "--model",
                     export, "--output", str(output), "--annotate", "--top_k", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{output}/predictions.html" in result.stdout
    lines = _jsonl(output / "predictions.jsonl")
    worded = [line for line in lines if line["video"].endswith(f"{WITH_TRANSCRIPT}.mpg")]
    assert [line["true_word"] for line in worded] == _align_words(WITH_TRANSCRIPT)
    vocabulary = read_vocabulary(export)
    for line in worded:
        clip = dataset_clips.get(line["segment"])
        if clip is None:
            continue  # a word the dataset dropped (out of vocabulary): still predicted here
        direct = _served(serve, clip["frames"][None], clip["boundary_mask"][None])[0]
        best = np.argsort(-direct, kind="stable")[:3]
        assert [g["word"] for g in line["top"]] == [vocabulary[i] for i in best]
        assert [g["probability"] for g in line["top"]] == pytest.approx(direct[best], abs=1e-5)
    speech = [line for line in lines if line["video"] == bare]
    assert speech and all(line["kind"] == "speech" and line["true_word"] is None
                          and len(line["top"]) == 3 for line in speech)
    page = (output / "predictions.html").read_text(encoding="utf-8")
    assert page.count('<img class="strip"') == len(worded) + len(speech)
    assert "<script" not in page
    annotated = output / f"{WITH_TRANSCRIPT}.annotated.mp4"
    assert sum(1 for _ in decode_frames(str(annotated), DecodeReport())) == 75
    # The words read are printed over the transcript's, one column per word.
    printed = result.stdout.splitlines()
    at = printed.index(next(p for p in printed if p.startswith(f"  {WITH_TRANSCRIPT}.mpg: ")))
    read, truth = printed[at + 1].split()[1:], printed[at + 2].split()[1:]
    assert truth == [line["true_word"] for line in worded]
    assert read == [line["top"][0]["word"] for line in worded]
    right = sum(line["correct"] for line in worded)
    assert printed[at].endswith(f": {right} of {len(worded)} right")


def test_a_bad_video_is_reported_and_the_others_still_read(export, tmp_path):
    broken = str(tmp_path / "broken.mp4")
    with open(broken, "wb") as handle:
        handle.write(b"this is no video at all\n" * 200)
    missing = str(tmp_path / "missing.mp4")
    # A transcript built to break its parser (a count Python's int() overflows on).
    hostile = _alone("bbiz1s", tmp_path / "hostile")
    (tmp_path / "hostile" / "bbiz1s.TextGrid").write_text(
        'File type = "ooTextFile"\nObject class = "TextGrid"\nxmin = 0\nxmax = 1\n'
        'tiers? <exists>\nsize = 1e400\n')
    output = tmp_path / "out"
    result = lipflow("predict", broken, missing, hostile, media.sample_video(WITH_TRANSCRIPT),
                     "--model", export, "--output", str(output))
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"{missing}: missing_video" in result.stderr and "Traceback" not in result.stderr
    lines = _jsonl(output / "predictions.jsonl")
    failed = {line["video"]: line["error"] for line in lines if "segment" not in line}
    assert failed == {broken: "not_a_video", missing: "missing_video",
                      hostile: "unparseable_transcript"}
    assert any(line["video"] == media.sample_video(WITH_TRANSCRIPT) and "top" in line
               for line in lines)


def test_a_vocabulary_that_does_not_fit_its_model_is_refused(export, tmp_path):
    copy = shutil.copytree(export, tmp_path / "export")
    with open(copy / "vocabulary.txt", "a", encoding="utf-8") as handle:
        handle.write("extra\n")
    with pytest.raises(ValueError, match=r"scores \d+ words but its vocabulary.txt names"):
        load_model(str(copy))


def test_a_folder_that_is_not_an_export_is_a_clear_error(tmp_path):
    result = lipflow("predict", media.sample_video(), "--model", str(tmp_path),
                     "--output", str(tmp_path / "o"))
    assert result.returncode == 3 and "not a lipflow export" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_cpu_run_shows_no_tensorflow_start_up_noise(export, tmp_path):
    quiet = lipflow("predict", media.sample_video(), "--model", export,
                    "--output", str(tmp_path / "q"))
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    for noise in ("Could not find cuda drivers", "cuInit", "oneDNN custom operations",
                  "absl::InitializeLog"):
        assert noise not in quiet.stderr
    assert "1/1 videos done" in quiet.stderr and "frames/s" in quiet.stderr
    verbose = lipflow("--verbose", "predict", media.sample_video(), "--model", export,
                      "--output", str(tmp_path / "v"))
    assert verbose.returncode == 0
    if not tf.config.list_physical_devices("GPU"):
        assert "cuda" in verbose.stderr.lower() or "oneDNN" in verbose.stderr


def test_the_job_and_predict_run_the_same_library_functions(predictor, monkeypatch):
    calls: dict[str, set[str]] = {}
    for name in ("track_video", "speech_audio", "place_words", "cut_video_crops", "cut_crops"):
        original = getattr(clipping, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.setdefault(_name, set()).add(_caller)
            return _original(*args, **kwargs)

        monkeypatch.setattr(clipping, name, spy)
    video = media.sample_video(WITH_TRANSCRIPT)
    with open(media.sample_align(WITH_TRANSCRIPT), "rb") as handle:
        transcript = parse_transcript(handle.read(), "x.align")
    _caller = "job"
    detect, crop = DetectLandmarksFn(default()), CropWordClipsFn(default())
    detect.setup()
    crop.setup()
    (tracks,) = list(detect.process(VideoJob(VideoInput(video, "v", None), transcript)))
    list(crop.process(tracks))
    _caller = "predict"
    predictor.predict(video)
    assert calls == {name: {"job", "predict"} for name in
                     ("track_video", "speech_audio", "place_words", "cut_video_crops",
                      "cut_crops")}
    # And no module of either keeps its own copy of the warp or the placement.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    predict_modules = [f"pipelines/predict/{m}" for m in
                       os.listdir(os.path.join(root, "pipelines/predict")) if m.endswith(".py")]
    for module in ("pipelines/preprocess/crop_mouths.py",
                   "pipelines/preprocess/detect_landmarks.py", *predict_modules):
        source = open(os.path.join(root, module), encoding="utf-8").read()
        for primitive in ("warp_crop", "mouth_crop_transform", "place_word(", "track_faces",
                          "decode_frames("):
            assert primitive not in source, f"{module} calls {primitive} itself"


def _srt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    return (f"{millis // 3600000:02d}:{millis // 60000 % 60:02d}:"
            f"{millis // 1000 % 60:02d},{millis % 1000:03d}")


def test_a_subtitle_beside_the_video_is_aligned_and_read_word_by_word(predictor, tmp_path):
    clip = "bbaf3s"
    video = _alone(clip, tmp_path / "show")
    with open(media.sample_align(clip), "rb") as handle:
        words = parse_transcript(handle.read(), f"{clip}.align").words
    with open(tmp_path / "show" / f"{clip}.srt", "w", encoding="utf-8") as handle:
        handle.write(f"1\n{_srt_time(words[0].start)} --> {_srt_time(words[-1].end)}\n"
                     f"{' '.join(w.word for w in words).upper()}\n\n")
    prediction = predictor.predict(video)
    assert prediction.clips.source == "word" and prediction.clips.transcript.endswith(".srt")
    read = [line for line in prediction.lines if "top" in line]
    assert [line["true_word"] for line in read] == [w.word for w in words]
    for line, word in zip(read, words):  # aligned times near GRID's own alignment
        assert line["start"] == pytest.approx(word.start, abs=0.1)
