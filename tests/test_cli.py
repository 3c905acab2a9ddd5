"""The `lipflow` command as a user runs it: a real subprocess, real exit codes."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from lipflow.commands import preprocess as preprocess_command
from tests import media


def lipflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lipflow", *args], capture_output=True,
                          text=True, check=False, timeout=600)


def _grid_folder(root, clips):
    os.makedirs(root / "video")
    os.makedirs(root / "align")
    for clip in clips:
        shutil.copyfile(media.sample_video(clip), root / "video" / f"{clip}.mpg")
        shutil.copyfile(media.sample_align(clip), root / "align" / f"{clip}.align")
    return str(root)


def test_help_explains_the_subcommands():
    top = lipflow("--help")
    assert top.returncode == 0 and "preprocess" in top.stdout and "contact-sheet" in top.stdout
    sub = lipflow("preprocess", "--help")
    assert sub.returncode == 0
    for flag in ("--input", "--output", "--landmarks", "--window_length", "--crop_size"):
        assert flag in sub.stdout


@pytest.mark.parametrize("args, message", [
    (["--input", "/no/such/folder"], "neither a folder nor a manifest"),
    (["--crop_size", "0"], "crop_size must be"),
    (["--landmarks", "fan"], "--landmarks mesh"),
])
def test_bad_setup_fails_fast_with_a_message(tmp_path, args, message):
    base = ["preprocess", "--input", _grid_folder(tmp_path / "in", ["bbaf3s"]),
            "--output", str(tmp_path / "out")]
    result = lipflow(*(base + args))
    assert result.returncode == 3, result.stderr[-2000:]
    assert message in result.stderr


def test_empty_folder_is_reported(tmp_path):
    (tmp_path / "in").mkdir()
    result = lipflow("preprocess", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"))
    assert result.returncode == 3 and "no videos found" in result.stderr


@pytest.mark.slow
def test_preprocess_then_contact_sheet(tmp_path):
    output = tmp_path / "out"
    result = lipflow("preprocess", "--input", _grid_folder(tmp_path / "in", ["bbaf3s", "lgiz3s"]),
                     "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("2 videos, 12 words -> 12 clips written, 0 words failed, 0 dropped, "
            "0 without a clip") in result.stdout
    manifest = json.load(open(output / "manifest.json"))
    assert manifest["words"]["written"] == 12 and manifest["balanced"]
    assert "Traceback" not in result.stderr
    # Nothing warns, tf.Transform included: it is fed record batches, not instance dicts.
    assert [line for line in result.stderr.splitlines() if "WARNING" in line] == []

    sheet = tmp_path / "sheet.png"
    drawn = lipflow("contact-sheet", "--data", str(output), "--output", str(sheet), "--clips", "4")
    assert drawn.returncode == 0, drawn.stderr[-2000:]
    image = Image.open(sheet)
    assert image.size == (10 * 96, 4 * (14 + 96 + 3))  # 10 frames (every 3rd of 29), 4 rows


@pytest.mark.slow
def test_a_run_where_everything_fails_is_an_error(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    (root / "talk.mp4").write_text("not a video")
    shutil.copyfile(media.sample_align(), root / "talk.align")
    result = lipflow("preprocess", "--input", str(root), "--output", str(tmp_path / "out"),
                     "--direct_running_mode", "in_memory")
    assert result.returncode == 1
    assert "no clip was written" in result.stderr
    letters = (tmp_path / "out" / "dead_letters.jsonl").read_text().splitlines()
    assert [(json.loads(line)["reason"], json.loads(line)["kind"]) for line in letters] == [
        ("not_a_video", "failure")]


@pytest.mark.slow
def test_an_open_vocabulary_run_with_a_tiny_vocabulary_succeeds_and_reports_its_drops(tmp_path):
    # 18 words: blue, at, three and soon are said twice, the others once. A vocabulary of
    # two keeps two of the twice-said words: 4 clips, 14 words dropped as out of vocabulary.
    output = tmp_path / "out"
    result = lipflow("preprocess", "--input",
                     _grid_folder(tmp_path / "in", ["bbaf3s", "lgiz3s", "pbai7a"]),
                     "--output", str(output), "--vocab_size", "2", "--train_fraction", "1.0",
                     "--val_fraction", "0.0", "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    words = json.load(open(output / "manifest.json"))["words"]
    assert (words["written"], words["failed"], words["dropped"], words["no_clip"]) == (4, 0, 14, 0)
    assert "4 clips written, 0 words failed, 14 dropped, 0 without a clip" in result.stdout


def _outcome(written, failed, dropped, no_clip):
    """A manifest's accounting part: words by outcome and the dead letters behind them."""
    words = {"seen": written + failed + dropped + no_clip, "written": written,
             "failed": failed, "dropped": dropped, "no_clip": no_clip}
    lost = {"detect_landmarks/corrupt_video": failed, "vocabulary/out_of_vocabulary": dropped,
            "crop_mouths/no_face": no_clip}
    return {"balanced": True, "words": words, "videos": {"seen": 3, "failed": 1},
            "failed_words": lost,
            "failures": {**lost, "detect_landmarks/corrupt_video": 1},
            "reason_kinds": {"detect_landmarks/corrupt_video": "failure",
                             "vocabulary/out_of_vocabulary": "dropped",
                             "crop_mouths/no_face": "no_clip"}}


def test_words_dropped_on_purpose_or_without_a_clip_do_not_fail_the_run(capsys):
    # An open-vocabulary corpus: most words are out of the vocabulary, few failed.
    assert preprocess_command.exit_code(_outcome(10, 5, 80, 5), 0.5) == 0
    assert preprocess_command.exit_code(_outcome(30, 60, 5, 5), 0.5) == 1
    assert "60% of words failed" in capsys.readouterr().err


def test_summary_shows_failed_dropped_and_no_clip_apart():
    text = preprocess_command.run_summary(_outcome(10, 5, 80, 4), "out")
    assert "3 videos, 99 words -> 10 clips written, 5 words failed, 80 dropped, " \
           "4 without a clip" in text
    lines = text.splitlines()
    failed = lines.index("  failed (counted against --max_failure_fraction):")
    rows = [line.split() for line in lines[failed:failed + 6]]
    assert rows == [
        ["failed", "(counted", "against", "--max_failure_fraction):"],
        ["5", "words", "detect_landmarks/corrupt_video", "(in", "1", "dead", "letter)"],
        ["dropped", "on", "purpose:"], ["80", "words", "vocabulary/out_of_vocabulary"],
        ["no", "clip", "could", "be", "cut:"], ["4", "words", "crop_mouths/no_face"]]


def test_the_log_level_flag_takes_underscores_like_every_flag_and_the_old_dash():
    for flag in ("--log_level", "--log-level"):
        result = lipflow(flag, "warning", "contact-sheet", "--help")
        assert result.returncode == 0, result.stderr[-2000:]
    refused = lipflow("--log_level", "loud", "contact-sheet", "--help")
    assert refused.returncode == 2 and "invalid choice: 'LOUD'" in refused.stderr


@pytest.mark.parametrize("command, wrong, nearest", [
    (["preprocess", "--input", "in", "--output", "out"], ["--max_jiter", "0.05"],
     "--max_jitter"),
    (["evaluate", "--data", "d", "--model", "m", "--output", "o"], ["--runer", "DataflowRunner"],
     "--runner"),
    (["retrain", "--workdir", "w", "--input", "in"], ["--split_bye=video"], "--split_by"),
    (["train", "--data", "d", "--config", "demo", "--output", "o"], ["--confg", "grid"],
     "--config"),
    (["predict", "video.mp4", "--model", "m", "--output", "o"], ["--anotate"], "--annotate"),
])
def test_a_misspelt_flag_is_refused_before_any_work_with_the_nearest_flag(command, wrong,
                                                                          nearest):
    result = lipflow(*command, *wrong)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"unknown arguments: {wrong[0].split('=')[0]} (did you mean {nearest}?)" \
        in result.stderr


def test_beam_flags_and_retrains_preprocess_flags_pass_through(tmp_path):
    missing = str(tmp_path / "missing")
    # Each run gets past the flag check and stops at its first real check: the missing input.
    preprocess = lipflow("preprocess", "--input", missing, "--output", str(tmp_path / "o"),
                         "--runner", "DirectRunner", "--direct_num_workers", "1",
                         "--temp_location", str(tmp_path))
    assert preprocess.returncode == 3 and "neither a folder nor a manifest" in preprocess.stderr
    retrain = lipflow("retrain", "--workdir", str(tmp_path / "w"), "--input", missing,
                      "--split_by", "video", "--max_jitter=0.05", "--direct_num_workers", "1")
    assert retrain.returncode == 3 and "unknown arguments" not in retrain.stderr


def test_train_points_a_config_field_given_as_a_flag_to_set():
    result = lipflow("train", "--data", "d", "--config", "demo", "--output", "o", "--epochs", "3")
    assert result.returncode == 2
    assert "the trainer's settings go in --set KEY=VALUE" in result.stderr
