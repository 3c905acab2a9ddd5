"""The evaluation job end to end on DirectRunner: a real dataset, a real exported model."""

import csv
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from schemas.export import read_vocabulary
from pipelines.evaluate.read_clips import split_files
from pipelines.evaluate.report import PLOT_IDS
from schemas.clip import decode_clip
from tests.runs import lipflow

OUTPUTS = ("metrics.json", "confusion.csv", "per_word.csv", "report.html", "predictions.jsonl",
           "dead_letters.jsonl", "manifest.json")


def _records(files):
    return [r.numpy() for f in files for r in tf.data.TFRecordDataset(f, compression_type="GZIP")]


def _jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _list_in_card(data, split, names):
    """Lists added clip files in the dataset card, as if the dataset had been written so
    and damaged afterwards (readers refuse files the card does not list)."""
    card_path = data / "dataset_info.json"
    card = json.load(open(card_path))
    card["shards"][split] = sorted(card["shards"][split] + names)
    card_path.write_text(json.dumps(card))


@pytest.fixture(scope="module")
def export(small_model):
    return os.path.join(small_model, "export")


@pytest.fixture(scope="module")
def evaluated(small_dataset, export, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("eval"))
    result = lipflow("evaluate", "--data", small_dataset, "--model", export, "--output", output,
                     "--split", "val", "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report:" in result.stdout and "report.html" in result.stdout
    return output


def test_writes_every_output_and_accounts_for_every_record(small_dataset, export, evaluated):
    assert sorted(os.listdir(evaluated)) == sorted(OUTPUTS)
    clips = [decode_clip(r) for r in _records(split_files(small_dataset, "val"))]
    vocabulary = set(read_vocabulary(export))
    known = [c for c in clips if c["word"] in vocabulary]
    metrics = json.load(open(os.path.join(evaluated, "metrics.json")))
    counts = metrics["counts"]
    assert counts["records"] == len(clips) > 0
    assert counts["scored"] == len(known) > 0
    assert counts["out_of_vocabulary"] == len(clips) - len(known)
    assert counts["dead_letters"] == 0 and counts["balanced"]
    oov = {w["word"]: w["count"] for w in metrics["out_of_vocabulary_words"]}
    assert sum(oov.values()) == counts["out_of_vocabulary"]
    assert set(oov) == {c["word"] for c in clips} - vocabulary
    manifest = json.load(open(os.path.join(evaluated, "manifest.json")))
    assert manifest["counts"] == counts and manifest["run"]["split"] == "val"


def test_predictions_match_the_served_model_and_the_metrics(small_dataset, export, evaluated):
    predictions = {p["clip_id"]: p for p in _jsonl(os.path.join(evaluated, "predictions.jsonl"))}
    metrics = json.load(open(os.path.join(evaluated, "metrics.json")))
    assert len(predictions) == metrics["counts"]["scored"]
    serve = tf.saved_model.load(export).signatures["serve"]
    for clip in map(decode_clip, _records(split_files(small_dataset, "val"))):
        if clip["clip_id"] not in predictions:
            continue
        out = serve(frames=tf.constant(clip["frames"][None]),
                    boundary_mask=tf.constant(clip["boundary_mask"][None].astype(np.float32)))
        words = [w.decode() for w in out["top_words"].numpy()[0]]
        predicted = predictions[clip["clip_id"]]
        assert predicted["word"] == clip["word"]
        assert predicted["top_words"] == words
        assert predicted["confidence"] == pytest.approx(float(out["top_probabilities"][0, 0]),
                                                        abs=1e-5)
    correct = [p["correct"] for p in predictions.values()]
    assert metrics["top1"]["value"] == pytest.approx(np.mean(correct))
    top5 = [p["word"] in p["top_words"] for p in predictions.values()]
    assert metrics["top5"] == pytest.approx(np.mean(top5))


def test_confusion_and_per_word_files_agree_with_the_predictions(evaluated):
    predictions = _jsonl(os.path.join(evaluated, "predictions.jsonl"))
    with open(os.path.join(evaluated, "confusion.csv"), encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    labels = rows[0][1:]
    matrix = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    assert [row[0] for row in rows[1:]] == labels and matrix.sum() == len(predictions)
    for p in predictions:
        assert matrix[labels.index(p["word"]), labels.index(p["top_words"][0])] >= 1
    with open(os.path.join(evaluated, "per_word.csv"), encoding="utf-8") as handle:
        per_word = {row["word"]: row for row in csv.DictReader(handle)}
    assert set(per_word) == set(labels)
    for word, row in per_word.items():
        assert int(row["support"]) == sum(p["word"] == word for p in predictions)
    html = open(os.path.join(evaluated, "report.html"), encoding="utf-8").read()
    for plot in PLOT_IDS:
        assert f'id="{plot}"' in html


def test_bad_records_and_corrupt_files_are_dead_letters(small_dataset, export, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    original = split_files(str(data), "val")[0]
    whole = open(original, "rb").read()
    with open(data / "val" / "clips-00001-of-00003.tfrecord.gz", "wb") as handle:
        handle.write(whole[: len(whole) // 2])  # cut mid-stream: some records, then damage
    with tf.io.TFRecordWriter(str(data / "val" / "clips-00002-of-00003.tfrecord.gz"),
                              options="GZIP") as writer:
        writer.write(b"not a clip at all")
    _list_in_card(data, "val", ["clips-00001-of-00003.tfrecord.gz",
                                "clips-00002-of-00003.tfrecord.gz"])
    output = tmp_path / "eval"
    result = lipflow("evaluate", "--data", str(data), "--model", export, "--output", str(output),
                     "--split", "val", "--bootstrap_samples", "200",
                     "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    letters = _jsonl(output / "dead_letters.jsonl")
    assert sorted((d["stage"], d["reason"]) for d in letters) == [
        ("decode", "bad_record"), ("read", "corrupt_file")]
    corrupt = next(d for d in letters if d["reason"] == "corrupt_file")
    assert corrupt["input"].endswith("clips-00001-of-00003.tfrecord.gz")
    kept = int(corrupt["detail"].split()[2])  # "stopped after N records: ..."
    counts = json.load(open(output / "metrics.json"))["counts"]
    assert counts["records"] == len(_records([original])) + kept + 1
    assert counts["dead_letters"] == 1 and counts["corrupt_files"] == 1 and counts["balanced"]


def test_ensemble_tta_and_baseline_verdict(small_dataset, export, evaluated, tmp_path):
    output = tmp_path / "ensemble"
    baseline = os.path.join(evaluated, "metrics.json")
    result = lipflow("evaluate", "--data", small_dataset, "--model", export, "--model", export,
                     "--output", str(output), "--split", "val", "--tta", "flip",
                     "--baseline", baseline, "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.load(open(output / "metrics.json"))
    assert metrics["models"] == [export, export] and metrics["tta"] == ["centre", "flip"]
    comparison = metrics["baseline"]
    assert comparison["path"] == baseline
    assert comparison["verdict"] in ("better", "worse", "no significant difference")
    base = json.load(open(baseline))
    assert comparison["top1_delta"] == pytest.approx(metrics["top1"]["value"]
                                                     - base["top1"]["value"])
    assert comparison["ci_low"] <= comparison["top1_delta"] <= comparison["ci_high"]
    assert "against the baseline" in result.stdout
    html = open(output / "report.html", encoding="utf-8").read()
    assert comparison["verdict"] in html


@pytest.mark.parametrize("flags, message", [
    (["--model", "{tmp}"], "not a lipflow export"),
    (["--viseme_mapping", "mine"], "viseme mapping must be one of"),
    (["--slice", "colour"], "cannot slice by"),
    (["--baseline", "{tmp}/missing.json"], "cannot read baseline"),
])
def test_bad_setup_is_a_clear_error(small_dataset, export, tmp_path, flags, message):
    flags = [f.format(tmp=tmp_path) for f in flags]
    if "--model" not in flags:
        flags += ["--model", export]
    result = lipflow("evaluate", "--data", small_dataset, "--output", str(tmp_path / "o"),
                     "--split", "val", *flags)
    assert result.returncode == 3, result.stderr[-2000:]
    assert message in result.stderr


def test_an_unknown_split_is_refused_by_the_parser(small_dataset, export, tmp_path):
    result = lipflow("evaluate", "--data", small_dataset, "--model", export, "--output",
                     str(tmp_path / "o"), "--split", "dev")
    assert result.returncode == 2  # argparse's usage error, before any work
    assert "invalid choice: 'dev'" in result.stderr and "'val'" in result.stderr


def test_an_empty_dataset_folder_is_a_clear_error(export, tmp_path):
    result = lipflow("evaluate", "--data", str(tmp_path), "--model", export,
                     "--output", str(tmp_path / "o"))
    assert result.returncode == 3 and "no clips for split 'test'" in result.stderr


def _train_transcript_pairs(dataset, vocabulary):
    """Consecutive-word pairs (and transcript starts) of the train split's original clips
    whose words the model knows, and the number of training videos, counted here apart."""
    videos = {}
    for clip in map(decode_clip, _records(split_files(dataset, "train"))):
        if not clip["augment_copy"]:
            videos.setdefault(clip["video_id"], {})[int(clip["word_index"])] = clip["word"]
    pairs = sum(1 for words in videos.values() for index, word in words.items()
                if word in vocabulary and (index == 0 or words.get(index - 1) in vocabulary))
    return pairs, len(videos)


def test_sentence_context_decodes_on_the_train_transcripts_and_keeps_the_accounts(
        small_dataset, export, evaluated, tmp_path):
    output = tmp_path / "context"
    result = lipflow("evaluate", "--data", small_dataset, "--model", export, "--output",
                     str(output), "--split", "val", "--context", "bigram",
                     "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "with sentence context" in result.stdout
    metrics = json.load(open(output / "metrics.json"))
    plain = json.load(open(os.path.join(evaluated, "metrics.json")))
    assert plain["context"] is None and "model_alone" not in plain["slices"]
    assert metrics["counts"] == plain["counts"]
    context = metrics["context"]
    assert context["top1_without_context"] == pytest.approx(plain["top1"]["value"])
    pairs, videos = _train_transcript_pairs(small_dataset, set(read_vocabulary(export)))
    assert context["pairs_counted"] == pairs > 0 and context["training_videos"] == videos
    assert context["unreadable_train_records"] == context["unreadable_train_files"] == 0
    assert context["weight"] == 0.25 and context["classes"] >= 1
    alone = {s["value"]: s["count"] for s in metrics["slices"]["model_alone"]}
    scored = metrics["counts"]["scored"]
    assert sum(alone.values()) == scored
    assert alone.get("right", 0) == round(plain["top1"]["value"] * scored)
    predictions = _jsonl(output / "predictions.jsonl")
    assert len(predictions) == scored
    assert all(0 < p["confidence"] <= 1 + 1e-6 for p in predictions)
    assert "top-1 without it" in open(output / "report.html", encoding="utf-8").read()
    plain_report = open(os.path.join(evaluated, "report.html"), encoding="utf-8").read()
    assert "none (each clip scored alone)" in plain_report


def test_sentence_context_counts_an_unreadable_train_file(small_dataset, export, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    broken = split_files(str(data), "train")[0]
    with open(broken, "wb") as handle:
        handle.write(b"not a tfrecord file at all")
    output = tmp_path / "context"
    result = lipflow("evaluate", "--data", str(data), "--model", export, "--output", str(output),
                     "--split", "val", "--context", "bigram", "--direct_running_mode",
                     "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    context = json.load(open(output / "metrics.json"))["context"]
    assert context["unreadable_train_files"] == 1
    assert "could not be read" in result.stderr


def test_sentence_context_without_a_train_split_is_a_clear_error(small_dataset, export,
                                                                  tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_dataset, data, ignore=shutil.ignore_patterns("train"))
    result = lipflow("evaluate", "--data", str(data), "--model", export, "--output",
                     str(tmp_path / "o"), "--split", "val", "--context", "bigram")
    assert result.returncode == 3 and "no clips for split 'train'" in result.stderr
