"""`lipflow preprocess` on a broadcast-style folder: subtitles only, a cut, a split screen."""

import glob
import json
import os

import numpy as np
import pytest

from pipelines.preprocess.decode import DecodeReport, decode_frames
from tests import media
from tests.runs import lipflow

pytestmark = pytest.mark.slow
TWO_FRAMES = 0.08


def _grid_words(clip: str, shift: float) -> list[tuple[str, float, float]]:
    words = []
    with open(media.sample_align(clip), encoding="utf-8") as handle:
        for line in handle:
            start, end, word = line.split()
            if word not in ("sil", "sp"):
                words.append((word, int(start) / 25000 + shift, int(end) / 25000 + shift))
    return words


def _srt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    return (f"{millis // 3600000:02d}:{millis // 60000 % 60:02d}:{millis // 1000 % 60:02d},"
            f"{millis % 1000:03d}")


def _write_srt(path: str, cues: list[tuple[list, str, str]]) -> None:
    """Cues from (words, text before, text after): times span the words, no word times."""
    with open(path, "w", encoding="utf-8") as handle:
        for number, (words, before, after) in enumerate(cues, start=1):
            text = " ".join(w for w, _, _ in words).upper()
            handle.write(f"{number}\n{_srt_time(words[0][1])} --> {_srt_time(words[-1][2])}\n"
                         f"{before}{text}{after}\n\n")


@pytest.fixture(scope="module")
def broadcast_run(tmp_path_factory):
    """A programme (one face, a cut, then a split screen with the left side speaking) and a
    silent split screen, each with an SRT beside it; the job's output folder.

    Chunks of 3 s: the 6 s programme is scanned for cuts in two pieces on the job's graph
    (gathered by video) and tracked in two chunks, one per shot; the 3 s video is one item.
    """
    work, folder = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("broadcast")
    single = str(work / "single.mp4")
    media.ffmpeg("-i", media.sample_video("bbaf3s"), "-vf", "pad=720:288:180:0", "-c:v",
                 "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", single)
    split = media.side_by_side(media.sample_video("lgiz3s"), media.sample_video("pbai7a"),
                               str(work / "split.mp4"), audio="left")
    first_length = sum(1 for _ in decode_frames(single, DecodeReport()))
    programme = media.concatenated([single, split], str(folder / "programme.mp4"))
    words = {"single": _grid_words("bbaf3s", 0.0),
             "split": _grid_words("lgiz3s", first_length / 25)}
    _write_srt(str(folder / "programme.srt"),
               [(words["single"], "ANCHOR: <i>", "</i> [MUSIC]"), (words["split"], "- ", "")])
    media.h264(split, str(folder / "silent.mp4"))
    _write_srt(str(folder / "silent.srt"), [(_grid_words("lgiz3s", 0.0), "", "")])
    output = str(work / "out")
    result = lipflow("preprocess", "--input", str(folder), "--output", output,
                     "--direct_running_mode", "in_memory", "--train_fraction", "1.0",
                     "--val_fraction", "0.0", "--max_failure_fraction", "1.0",
                     "--chunk_seconds", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    return {"output": output, "words": words, "first_length": first_length,
            "programme": str(programme), "log": result.stderr}


def _clips(output: str) -> list[dict]:
    import tensorflow as tf

    from schemas.clip import parse_clip

    files = sorted(glob.glob(os.path.join(output, "*", "clips-*.tfrecord.gz")))
    return [{key: (value.numpy().decode() if value.dtype == tf.string and value.shape.rank == 0
                   else value.numpy())
             for key, value in parse_clip(record).items()}
            for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _dead_letters(output: str) -> list[dict]:
    with open(os.path.join(output, "dead_letters.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_every_word_is_accounted_for(broadcast_run):
    with open(os.path.join(broadcast_run["output"], "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["balanced"]
    assert manifest["words"]["seen"] == 6 + 6 + 6


def test_the_programme_is_scanned_in_pieces_and_tracked_in_chunks(broadcast_run):
    length = broadcast_run["first_length"]
    assert "scanned in 2 pieces), 2 chunks with words" in broadcast_run["log"]
    assert f"landmarks programme (frames 0-{length - 1})" in broadcast_run["log"]
    assert f"landmarks programme (frames {length}-" in broadcast_run["log"]


def test_the_cut_is_in_the_shot_list(broadcast_run):
    with open(os.path.join(broadcast_run["output"], "shots.jsonl"), encoding="utf-8") as handle:
        shots = {entry["video_id"]: entry for entry in map(json.loads, handle)}
    assert shots["programme"]["cuts"] == [broadcast_run["first_length"]]
    assert "silent" not in shots  # no word got a time: the video is never decoded


def test_subtitle_words_land_within_two_frames_of_the_alignment(broadcast_run):
    truth = broadcast_run["words"]["single"] + broadcast_run["words"]["split"]
    clips = [c for c in _clips(broadcast_run["output"]) if c["video_id"] == "programme"]
    assert len(clips) >= 6  # every word of the single-face segment, and some of the split one
    for clip in clips:
        word, start, end = truth[clip["word_index"]]
        assert clip["word"] == word
        assert abs(clip["start_time"] - start) <= TWO_FRAMES, (word, clip["start_time"], start)
        assert abs(clip["end_time"] - end) <= TWO_FRAMES, (word, clip["end_time"], end)
        assert 0.0 < clip["alignment_confidence"] <= 1.0


def test_split_screen_clips_come_from_the_speaking_side_or_are_refused(broadcast_run):
    clips = [c for c in _clips(broadcast_run["output"])
             if c["video_id"] == "programme" and c["shot"] == 1]
    assert clips, "no clip was cut from the split screen"
    for clip in clips:
        assert clip["candidate_faces"] == 2
        assert float(np.mean(clip["landmarks"][:, 48:68, 0])) < 360, clip["word"]
    refused = [d for d in _dead_letters(broadcast_run["output"]) if d["video_id"] == "programme"]
    assert {d["reason"] for d in refused} <= {"ambiguous_speaker"}
    assert len(clips) + len(refused) == 6


def test_subtitles_without_audio_are_dead_letters_word_by_word(broadcast_run):
    silent = [d for d in _dead_letters(broadcast_run["output"]) if d["video_id"] == "silent"]
    assert sorted(d["word"] for d in silent) == sorted(w for w, _, _ in _grid_words("lgiz3s", 0))
    assert {(d["stage"], d["reason"], d["words_affected"]) for d in silent} == {
        ("align_subtitles", "no_audio_stream", 1)}
