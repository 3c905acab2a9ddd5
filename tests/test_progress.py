"""Progress lines of the Beam jobs, and quiet worker processes.

The local runner's workers are other processes: they record progress in files that the
launching process reads, and they inherit its filtered stderr."""

import json
import logging
import os
import threading

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions

from lipflow.logs import copy_without_native_noise
from pipelines.evaluate import progress as evaluate_progress
from pipelines.preprocess import progress as preprocess_progress
from pipelines.progress import ProgressReader, RecordProgress, runs_locally, watch
from tests import media
from tests.runs import lipflow

NOISE = ("Could not find cuda drivers", "cuInit", "oneDNN custom operations",
         "absl::InitializeLog")
CLIPS = ("bbaf3s", "lgiz3s")
OUTPUTS = ["dataset_info.json", "dead_letters.jsonl", "manifest.json", "run.json", "shots.jsonl",
           "test", "train", "transform_fn", "val"]


def test_the_filter_drops_start_up_noise_and_keeps_every_other_line_in_order():
    read_end, write_end = os.pipe()
    out_read, out_write = os.pipe()
    copier = threading.Thread(target=copy_without_native_noise, args=(read_end, out_write))
    copier.start()
    for piece in (b"first line\nWARNING: All log messages before absl::InitializeLog() is ",
                  b"called are written to STDERR\nI0000 00:00:1.0 1 cudart_stub.cc:31] Could",
                  b" not find cuda drivers on your machine, GPU will not be used.\n",
                  b"\nTraceback (most recent call last):\n", b"no newline at the end"):
        os.write(write_end, piece)
    os.close(write_end)
    copier.join()
    os.close(out_write)
    with os.fdopen(out_read, "rb") as handle:
        assert handle.read() == (b"first line\n\nTraceback (most recent call last):\n"
                                 b"no newline at the end")
    os.close(read_end)


def test_preprocess_line_counts_finished_and_lost_videos_and_the_frames_left():
    counts = {("planned_words", "a"): 6, ("planned_frames", "a"): 75,
              ("finished_words", "a"): 6, ("finished_frames", "a"): 75,
              ("lost", "b"): 1,
              ("planned_words", "c"): 6, ("planned_frames", "c"): 150,
              ("finished_words", "c"): 2}  # two of c's words failed, the rest not yet done
    # 75 frames in 5 s: 15 frames/s; c's 150 frames left: 10 s.
    assert preprocess_progress.progress_line(counts, 5.0, 3) == (
        "preprocess: 2/3 videos done, 15 source frames/s, about 10 s left")


def test_preprocess_line_extrapolates_from_videos_while_some_are_not_planned():
    counts = {("planned_words", "a"): 6, ("planned_frames", "a"): 75,
              ("finished_words", "a"): 6, ("finished_frames", "a"): 75}
    # 1 of 4 videos in 20 s: 3 more take 60 s.
    assert preprocess_progress.progress_line(counts, 20.0, 4) == (
        "preprocess: 1/4 videos done, 4 source frames/s, about 60 s left")
    assert preprocess_progress.progress_line({}, 3.0, 4) == "preprocess: 0/4 videos done"


def test_evaluate_line_uses_the_expected_clips_or_those_read():
    counts = {("read", ""): 40, ("done", ""): 30}
    assert evaluate_progress.progress_line(counts, 10.0, 120) == (
        "evaluate: 30/120 clips done, 3.0 clips/s, about 30 s left")
    assert evaluate_progress.progress_line(counts, 10.0, 0) == (
        "evaluate: 30/40 clips done, 3.0 clips/s, about 3 s left")


def test_evaluate_counts_a_failure_by_the_records_it_ends():
    assert evaluate_progress.outcome_events({"kind": "record"}) == [("read", "", 1)]
    assert evaluate_progress.outcome_events({"kind": "scored", "row": None}) == [("done", "", 1)]
    assert evaluate_progress.outcome_events(
        {"kind": "failure", "key": "read/corrupt_file", "records": 3}) == [("done", "", 3)]


def _events(item):
    key, amount = item
    return [("seen", key, amount)]


def test_events_recorded_in_a_pipeline_are_summed_by_the_reader(tmp_path):
    items = [("a", 2), ("b", 5), ("a", 1)]
    with beam.Pipeline() as pipeline:
        (pipeline | beam.Create(items) | beam.Reshuffle()
         | RecordProgress(str(tmp_path), _events))
    reader = ProgressReader(str(tmp_path))
    assert dict(reader.read()) == {("seen", "a"): 3, ("seen", "b"): 5}
    assert dict(reader.read()) == {("seen", "a"): 3, ("seen", "b"): 5}  # nothing read twice
    assert reader.seconds() > 0


def test_the_reader_leaves_a_half_written_line_for_later(tmp_path):
    path = tmp_path / "worker.jsonl"
    path.write_text('["seen", "a", 2, 100.0]\n["seen", "a", 4')
    reader = ProgressReader(str(tmp_path))
    assert dict(reader.read()) == {("seen", "a"): 2}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(', 101.0]\n')
    assert dict(reader.read()) == {("seen", "a"): 6}


def test_watch_logs_a_final_line_and_removes_its_folder(caplog):
    logger = logging.getLogger("test_progress")
    with caplog.at_level(logging.INFO, logger="test_progress"):
        with watch(lambda counts, _: f"{counts[('seen', 'a')]:.0f} seen", logger,
                   interval=60) as folder:
            with open(os.path.join(folder, "w.jsonl"), "w", encoding="utf-8") as handle:
                handle.write('["seen", "a", 7, 100.0]\n')
    assert [r.getMessage() for r in caplog.records] == ["7 seen"]
    assert not os.path.exists(folder)


def test_only_local_runners_get_progress_files():
    assert runs_locally(PipelineOptions([]))
    assert runs_locally(PipelineOptions(["--runner", "DirectRunner"]))
    assert not runs_locally(PipelineOptions(["--runner", "DataflowRunner"]))


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory):
    return media.grid_folder(tmp_path_factory.mktemp("progress_videos"), CLIPS)


@pytest.fixture(scope="module")
def quiet_run(two_videos, tmp_path_factory):
    """`lipflow preprocess` in its default mode (a worker process per core), its own
    temporary folder watched for leftovers."""
    output, temp = tmp_path_factory.mktemp("progress_out"), tmp_path_factory.mktemp("tmp")
    result = lipflow("preprocess", "--input", two_videos, "--output", str(output),
                     env={**os.environ, "TMPDIR": str(temp)})
    assert result.returncode == 0, result.stderr[-3000:]
    return result, str(output), str(temp)


@pytest.mark.slow
def test_preprocess_workers_print_no_tensorflow_start_up_noise(quiet_run):
    result, _, _ = quiet_run
    assert "landmarks video/bbaf3s" in result.stderr  # the workers' own lines still come
    for noise in NOISE:
        assert noise not in result.stderr


@pytest.mark.slow
def test_preprocess_reports_the_videos_done_and_leaves_no_progress_files(quiet_run):
    result, output, temp = quiet_run
    assert "preprocess: 2/2 videos done" in result.stderr
    assert sorted(os.listdir(output)) == OUTPUTS
    assert [n for n in os.listdir(temp) if n.startswith("lipflow-progress")] == []


@pytest.mark.slow
def test_preprocess_with_verbose_works_and_shows_the_start_up_lines(two_videos, tmp_path):
    result = lipflow("--verbose", "preprocess", "--input", two_videos, "--output",
                     str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "preprocess: 2/2 videos done" in result.stderr
    if not tf.config.list_physical_devices("GPU"):
        assert any(noise in result.stderr for noise in NOISE)


@pytest.mark.slow
def test_evaluate_workers_are_quiet_and_report_the_clips_done(small_dataset, small_model,
                                                             tmp_path):
    result = lipflow("evaluate", "--data", small_dataset, "--model",
                     os.path.join(small_model, "export"), "--output", str(tmp_path / "eval"),
                     "--split", "train")
    assert result.returncode == 0, result.stderr[-3000:]
    for noise in NOISE:
        assert noise not in result.stderr
    with open(os.path.join(small_dataset, "dataset_info.json"), encoding="utf-8") as handle:
        clips = json.load(handle)["splits"]["train"]["clips"]
    assert clips > 0
    assert f"evaluate: {clips}/{clips} clips done" in result.stderr
