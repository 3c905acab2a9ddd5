"""The whole preprocess job on DirectRunner over real clips and every kind of bad input."""

import dataclasses
import glob
import json
import logging
import os
import shutil

import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.preprocess import job
from pipelines.preprocess.alignment import apply_transform, warp_crop
from pipelines.preprocess.config import default
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.inputs import list_inputs
from pipelines.preprocess.landmarks import make_backend
from schemas import clip as schema
from tests import media

GOOD = ("bbaf3s", "bbiz1s", "lgiz3s")
ODD_NAMES = {"bbaf3s": "with space 'quote' ünï", "bbiz1s": "-leading-dash"}


def _pair(root, stem: str, video: str, align_text: str | None = None, source_align: str = "bbaf3s"):
    """Places `video` as video/<stem><suffix> and a transcript as align/<stem>.align."""
    target = os.path.join(root, "video", stem + os.path.splitext(video)[1])
    shutil.move(video, target) if video.startswith(str(root)) else shutil.copyfile(video, target)
    align = os.path.join(root, "align", stem + ".align")
    if align_text is None:
        shutil.copyfile(media.sample_align(source_align), align)
    else:
        with open(align, "wb") as handle:
            handle.write(align_text.encode("latin-1") if "\xe9" in align_text else align_text.encode())


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def job_run(tmp_path_factory):
    """The job over every kind of input: (input folder, output, manifest, the job's log lines)."""
    root = tmp_path_factory.mktemp("inputs")
    work = tmp_path_factory.mktemp("work")
    os.makedirs(root / "video")
    os.makedirs(root / "align")
    for clip in GOOD:
        _pair(root, clip, media.sample_video(clip), source_align=clip)
    for clip, name in ODD_NAMES.items():
        _pair(root, name, media.sample_video(clip), source_align=clip)
    _pair(root, "rotated", media.rotated(media.sample_video("bgbo1a"), str(work / "r.mp4")),
          source_align="bgbo1a")
    _pair(root, "huge", media.huge(media.sample_video(), str(work / "h.mp4")),
          align_text="0 17750 sil\n17750 22500 bin\n")
    _pair(root, "truncated", media.truncated(media.sample_video(), str(work / "t.mpg")))
    _pair(root, "bad_times", media.sample_video(),
          align_text="-5000 2000 bin\n30000 20000 blue\n22500 27000 at\n90000 95000 late\n")
    (work / "zero.mpg").write_bytes(b"")
    _pair(root, "zero", str(work / "zero.mpg"))
    (work / "text.mp4").write_text("this is not a video")
    _pair(root, "text", str(work / "text.mp4"))
    _pair(root, "audio", media.audio_only(str(work / "audio.mp4")))
    _pair(root, "card", media.no_face(str(work / "card.mp4")))
    _pair(root, "latin", media.sample_video(), align_text="17750 22500 caf\xe9\n")
    shutil.copyfile(media.sample_video(), root / "video" / "untranscribed.mpg")
    shutil.copyfile(media.sample_align(), root / "align" / "orphan.align")

    output = str(tmp_path_factory.mktemp("output"))
    options = PipelineOptions(["--direct_running_mode", "in_memory", "--direct_num_workers", "1"])
    listing = list_inputs(str(root))
    # Every group in train, so that no word is out of vocabulary: splits are tested apart.
    config = dataclasses.replace(default(), train_fraction=1.0, val_fraction=0.0)
    logger, lines = logging.getLogger(job.__name__), _Lines()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(lines)
    try:
        manifest = job.run(listing, config, str(root), output, options)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    return root, output, manifest, lines.lines


@pytest.fixture(scope="module")
def job_output(job_run):
    return job_run[:3]


def _dead_letters(output):
    with open(os.path.join(output, job.DEAD_LETTERS_FILE), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_manifest_accounts_for_every_input(job_output):
    _, output, manifest = job_output
    assert manifest == json.load(open(os.path.join(output, job.MANIFEST_FILE)))
    assert manifest["balanced"]
    assert manifest["videos"]["seen"] == 15
    words = manifest["words"]
    assert words["seen"] == (words["written"] + words["failed"] + words["dropped"]
                             + words["no_clip"])
    # 3 good + 2 odd names + rotated: 6 words each; huge: 1 word; bad_times: 1 good word.
    assert words["written"] == 6 * 6 + 1 + 1 + manifest["clips_per_video"].get("video/truncated", 0)
    assert manifest["orphan_transcripts"] == 1
    assert manifest["options"]["window_length"] == 29 and "dlib-bin" in manifest["versions"]


def test_every_bad_input_is_a_dead_letter_with_its_reason(job_output):
    _, output, manifest = job_output
    by_video = {}
    for letter in _dead_letters(output):
        assert letter["detail"] and letter["stage"] and letter["input"]
        by_video.setdefault(letter["video_id"], []).append(letter["reason"])
    assert by_video["video/zero"] == ["empty_file"]
    assert by_video["video/text"] == ["not_a_video"]
    assert by_video["video/audio"] == ["no_video_stream"]
    assert by_video["video/card"] == ["no_face"]
    assert by_video["video/latin"] == ["bad_encoding"]
    assert by_video["video/untranscribed"] == ["missing_transcript"]
    assert by_video[""] == ["missing_video"]  # the orphan transcript
    assert sorted(by_video["video/bad_times"]) == ["invalid_word_times", "invalid_word_times",
                                                   "word_outside_video"]
    assert set(by_video["video/truncated"]) == {"word_outside_video"}
    assert sum(manifest["failures"].values()) == len(_dead_letters(output))


def test_progress_counts_every_video_done_whether_it_failed_or_not(job_run):
    *_, manifest, lines = job_run
    progress = [line for line in lines if line.startswith("preprocess: ")]
    assert manifest["videos"]["seen"] == 15
    assert progress and progress[-1].startswith("preprocess: 15/15 videos done")


def _read_clips(output):
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(output, "train", "clips-*.tfrecord.gz")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").map(schema.parse_clip)
    return [{k: v.numpy() for k, v in c.items()} for c in dataset]


@pytest.fixture(scope="module")
def clips(job_output):
    return _read_clips(job_output[1])


def test_clips_parse_back_with_the_schema(job_output, clips):
    assert len(clips) == job_output[2]["words"]["written"]
    for clip in clips:
        assert clip[schema.FRAMES].shape == (29, 96, 96)
        assert clip[schema.FRAMES].dtype == np.uint8
        assert clip[schema.BOUNDARY_MASK].sum() >= 1
    huge = [c for c in clips if c[schema.VIDEO_ID] == b"video/huge"]
    assert len(huge) == 1 and huge[0][schema.PADDED_AFTER] > 0  # 1 s video, window runs off


def test_mouth_is_at_the_crop_centre_by_independent_detection(clips):
    """Landmarks found afresh on every source frame, mapped into the crop, sit at its centre."""
    backend = make_backend("dlib")
    backend.load()
    for clip_name in GOOD:
        frames = list(decode_frames(media.sample_video(clip_name), DecodeReport()))
        for clip in (c for c in clips if c[schema.VIDEO_ID] == f"video/{clip_name}".encode()):
            indices = np.clip(clip[schema.FIRST_FRAME] + np.arange(29), 0, len(frames) - 1)
            distances = []
            for position, index in enumerate(indices):
                boxes = backend.detect_faces(frames[index])
                if len(boxes) == 0:
                    continue
                mouth = backend.fit_landmarks(frames[index], boxes[0])[48:68]
                centre = apply_transform(clip[schema.CROP_TRANSFORM][position], mouth).mean(axis=0)
                distances.append(np.hypot(*(centre - 47.5)))
                rewarped = warp_crop(frames[index], clip[schema.CROP_TRANSFORM][position], 96)
                assert np.abs(rewarped.astype(int) - clip[schema.FRAMES][position]).mean() < 1.0
            distances = np.asarray(distances)
            assert len(distances) >= 25
            assert np.mean(distances < 8.0) >= 0.95, distances


def test_rotated_video_is_cropped_upright(clips):
    rotated = [c for c in clips if c[schema.VIDEO_ID] == b"video/rotated"]
    assert len(rotated) == 6
