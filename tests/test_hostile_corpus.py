"""The preprocess job over the hostile corpus (tests/hostile/make_corpus.py): it completes,
every input is accounted for, and the manifest balances."""

import json
import os

from tests.hostile.make_corpus import make_corpus
from trainer.input import split_files
from tests.runs import lipflow


def _letters(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _preprocess(corpus, out, *flags):
    return lipflow("preprocess", "--input", corpus, "--output", str(out), "--train_fraction",
                   "1.0", "--val_fraction", "0.0", "--direct_running_mode", "in_memory", *flags)


def test_the_job_survives_the_hostile_corpus_and_accounts_for_everything(tmp_path):
    cases = make_corpus(str(tmp_path / "corpus"))
    out = tmp_path / "out"
    result = _preprocess(str(tmp_path / "corpus"), out)
    # More than half the words fail (the ten-hour cue, the giant number): exit 1, not a crash.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    with open(out / "manifest.json", encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["balanced"] and manifest["videos"]["seen"] == len(cases)
    words = manifest["words"]
    assert words["seen"] == words["written"] + words["failed"] + words["dropped"] + \
        words["no_clip"]
    letters = _letters(out / "dead_letters.jsonl")
    reasons = {}
    for letter in letters:
        reasons.setdefault(letter["video_id"], set()).add(letter["reason"])
    written = manifest["clips_per_video"]
    assert reasons["overflow"] == {"unparseable_transcript"}
    assert reasons["endless_cue"] == {"cue_too_long"}
    assert reasons["giant_number"] <= {"alignment_failed", "cue_text_mismatch"}
    for name in ("spoofed", "long_grid", "separators", "damaged_audio"):
        assert written.get(name) == 6, (name, written, reasons.get(name))
    with open(out / "dataset_info.json", encoding="utf-8") as handle:
        vocabulary = json.load(handle)["vocabulary"]
    assert not any("\u2028" in w or "\x85" in w or "\n" in w for w in vocabulary)
    assert os.path.isfile(out / "run.json")


def test_a_rerun_with_other_shards_and_compression_is_refused_then_overwrites(tmp_path):
    corpus = str(tmp_path / "corpus")
    make_corpus(corpus)
    out = tmp_path / "out"
    assert _preprocess(corpus, out).returncode in (0, 1)
    gzipped = sorted(os.listdir(out / "train"))
    other = ("--num_shards", "3", "--compression", "none")
    refused = _preprocess(corpus, out, *other)
    assert refused.returncode == 3 and "--overwrite" in refused.stderr
    assert sorted(os.listdir(out / "train")) == gzipped  # nothing written beside them
    assert _preprocess(corpus, out, *other, "--overwrite").returncode in (0, 1)
    files = split_files(str(out), "train")
    assert len(files) == 3 and not any(f.endswith(".gz") for f in files)
    assert not any(name.endswith(".gz") for name in os.listdir(out / "train"))
