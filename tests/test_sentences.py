"""Whole-sentence clips (--unit sentence): sentences of a transcript, their windows, and the
job on an LRS3-style corpus whose sentence clips parse back with their word sequences."""

import glob
import json
import os
import shutil

import numpy as np
import pytest

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.sentences import sentence_text, transcript_sentences
from pipelines.preprocess.windows import span_window
from pipelines.preprocess.transcripts.common import BadCue, Cue, Transcript, WordTiming
from schemas import clip as schema
from tests import media
from tests.runs import lipflow

FPS = 25.0


def _words(*pairs, cue=-1):
    return tuple(WordTiming(w, s, e, cue_index=cue) for w, s, e in pairs)


def test_a_word_timed_transcript_is_one_sentence():
    transcript = Transcript("lrs", _words(("bin", 0.5, 0.7), ("blue", 0.7, 1.0)))
    (sentence,) = transcript_sentences(transcript)
    assert (sentence.index, sentence.positions, sentence.spoken) == (0, (0, 1), ("bin", "blue"))
    assert sentence.complete and sentence_text(transcript, sentence) == "bin blue"


def test_each_cue_is_a_sentence_and_one_with_an_untimed_word_is_incomplete():
    cues = (Cue(0, 1.0, 2.0, "Bin blue", ("bin", "blue")),
            Cue(2, 3.0, 4.0, "at f two", ("at", "f", "two")))
    bad = (BadCue(1, "invalid_cue_times", "cue 2 ends before it starts", ("now",)),)
    # "f" of cue 2 could not be aligned: cue 2 has two timed words of three.
    words = _words(("bin", 1.1, 1.4), ("blue", 1.4, 1.8), cue=0) + \
        _words(("at", 3.1, 3.3), ("two", 3.6, 3.9), cue=2)
    transcript = Transcript("srt", words, cues=cues, bad_cues=bad)
    sentences = transcript_sentences(transcript)
    assert [(s.index, s.positions, s.complete) for s in sentences] == [
        (0, (0, 1), True), (1, (), False), (2, (2, 3), False)]
    assert sentences[1].spoken == ("now",)


def test_an_empty_word_timed_transcript_has_no_sentence():
    assert transcript_sentences(Transcript("csv", ())) == []


def test_a_span_window_holds_its_words_and_the_margin():
    # Words over [1.0, 2.0) s at 25 fps are frames 25..49; a margin of 2 adds 23, 24, 50, 51.
    window = span_window(1.0, 2.0, 100, 2, FPS, 0.08)
    assert window.first_frame == 23 and window.frame_indices.shape == (29,)
    assert list(window.frame_indices) == list(range(23, 52))
    assert list(np.flatnonzero(window.boundary_mask) + 23) == list(range(25, 50))
    assert (window.padded_before, window.padded_after) == (0, 0)


@pytest.mark.parametrize("start,end", [(1.01, 2.03), (0.333, 1.777), (2.5, 2.53)])
def test_a_span_window_covers_every_frame_of_off_grid_times(start, end):
    window = span_window(start, end, 200, 3, FPS, 0.08)
    first, last = int(np.ceil(start * FPS)), int(np.ceil(end * FPS)) - 1
    inside = window.first_frame + np.flatnonzero(window.boundary_mask)
    assert list(inside) == list(range(first, last + 1))
    assert window.first_frame <= first - 3 and window.first_frame + len(window.frame_indices) > last + 3


def test_a_sentence_at_the_start_of_the_video_is_padded_and_one_past_its_end_refused():
    window = span_window(0.0, 0.4, 100, 4, FPS, 0.08)
    assert window.padded_before == 4 and window.frame_indices[0] == 0
    with pytest.raises(RecordError, match="video lasts"):
        span_window(3.5, 4.5, 100, 2, FPS, 0.08)
    with pytest.raises(ValueError, match="margin"):
        span_window(1.0, 2.0, 100, -1, FPS, 0.08)


def test_a_record_of_schema_1_3_reads_as_a_word_clip():
    import tensorflow as tf

    record = schema.ClipRecord(
        clip_id="v#0001_bin", video_id="v", source_video="v.mp4", word="bin", word_index=1,
        start_time=0.5, end_time=0.75, fps=FPS, first_frame=0, padded_before=0,
        padded_after=0, frames=np.zeros((3, 16, 16), np.uint8),
        boundary_mask=np.ones(3, np.uint8), landmarks=np.zeros((3, 68, 2), np.float32),
        landmark_detected=np.ones(3, bool), crop_transform=np.zeros((3, 2, 3), np.float32))
    example = tf.train.SequenceExample.FromString(schema.encode_clip(record))
    for key in (schema.UNIT, schema.WORDS, schema.WORD_STARTS, schema.WORD_ENDS):
        del example.context.feature[key]  # as 1.3.0 wrote it
    old = example.SerializeToString()
    parsed = schema.parse_clip(tf.constant(old))
    assert parsed[schema.UNIT].numpy() == b"word"
    assert list(parsed[schema.WORDS].numpy()) == [b"bin"]
    np.testing.assert_allclose(parsed[schema.WORD_STARTS].numpy(), [0.5])
    decoded = schema.decode_clip(old)
    assert (decoded[schema.UNIT], decoded[schema.WORDS], decoded[schema.WORD_ENDS]) == (
        "word", ["bin"], [pytest.approx(0.75)])


# ---- the job on an LRS3-style corpus -----------------------------------------------------

CLIPS = {"trainval/AAAAAAAAAAA/00001": "bbaf3s", "trainval/AAAAAAAAAAA/00002": "bgbo1a",
         "pretrain/BBBBBBBBBBB/00001": "lgiz3s"}


def _grid_words(sample: str) -> list[tuple[str, float, float]]:
    rows = [line.split() for line in open(media.sample_align(sample), encoding="utf-8")]
    return [(w, int(a) / 25000, int(b) / 25000) for a, b, w in rows if w not in ("sil", "sp")]


def _lrs3_text(words) -> str:
    rows = "".join(f"{w.upper()} {a:.2f} {b:.2f} 3.0\n" for w, a, b in words)
    return (f"Text:  {' '.join(w.upper() for w, _, _ in words)}\nConf:  4\n\n"
            f"WORD START END ASDSCORE\n{rows}")


@pytest.fixture(scope="module")
def sentence_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lrs3_sentences")
    for relative, sample in CLIPS.items():
        target = root / f"{relative}.mpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(media.sample_video(sample), target)
        target.with_suffix(".txt").write_text(_lrs3_text(_grid_words(sample)), encoding="utf-8")
    output = tmp_path_factory.mktemp("out")
    result = lipflow("preprocess", "--input", str(root), "--output", str(output), "--unit",
                     "sentence", "--sentence_margin", "3", "--val_fraction", "0",
                     "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    return str(output)


def _read(pattern: str) -> list[dict]:
    import tensorflow as tf

    files = sorted(glob.glob(pattern))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").map(schema.parse_clip)
    return [{k: v.numpy() for k, v in clip.items()} for clip in dataset]


def test_sentence_clips_parse_back_with_their_word_sequences(sentence_run):
    sentences = _read(os.path.join(sentence_run, "sentences", "*", "clips-*.tfrecord.gz"))
    assert len(sentences) == len(CLIPS)
    by_video = {clip["video_id"].decode(): clip for clip in sentences}
    for relative, sample in CLIPS.items():
        clip, words = by_video[relative], _grid_words(sample)
        assert clip["unit"] == b"sentence"
        assert [w.decode() for w in clip["words"]] == [w for w, _, _ in words]
        assert clip["word"].decode() == " ".join(w for w, _, _ in words)
        np.testing.assert_allclose(clip["word_starts"], [a for _, a, _ in words], atol=1e-3)
        np.testing.assert_allclose(clip["word_ends"], [b for _, _, b in words], atol=1e-3)
        # Every frame from the first word's start to the last word's end, and 3 more each side.
        first, last = int(np.ceil(words[0][1] * FPS)), int(np.ceil(words[-1][2] * FPS)) - 1
        assert clip["boundary_mask"].sum() == last - first + 1
        assert clip["first_frame"] <= first - 3
        assert clip["num_frames"] == clip["frames"].shape[0] >= last - first + 1 + 6
        assert clip["frames"].shape[1:] == (96, 96) and clip["frames"].std() > 5


def test_sentences_share_their_video_split_and_pretrain_never_reaches_test(sentence_run):
    words = _read(os.path.join(sentence_run, "*", "clips-*.tfrecord.gz"))
    word_split = {c["video_id"].decode(): c["split"].decode() for c in words}
    for split in ("train", "val", "test"):
        for clip in _read(os.path.join(sentence_run, "sentences", split, "clips-*.tfrecord.gz")):
            assert clip["split"].decode() == split == word_split[clip["video_id"].decode()]
            assert not (split == "test" and clip["video_id"].decode().startswith("pretrain/"))


def test_word_clips_are_still_cut_and_the_manifest_counts_sentences_apart(sentence_run):
    manifest = json.load(open(os.path.join(sentence_run, "manifest.json")))
    spoken = sum(len(_grid_words(s)) for s in CLIPS.values())
    assert manifest["words"]["seen"] == spoken and manifest["balanced"]
    assert manifest["words"]["written"] + manifest["words"]["no_clip"] + \
        manifest["words"]["dropped"] + manifest["words"]["failed"] == spoken
    assert manifest["sentences"]["written"] == len(CLIPS)
    assert sum(manifest["sentences"]["per_split"].values()) == len(CLIPS)
    assert manifest["schema_version"] == "1.5.0"
