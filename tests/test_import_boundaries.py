"""Layers import downwards only: the trainer runs without Apache Beam, and no library
module imports the command-line package."""

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = ("pipelines", "trainer", "schemas")

# Trains one epoch in a fresh process, then reports which Beam modules were loaded.
_TRAIN_WITHOUT_BEAM = r"""
import json, os, sys
from trainer import config as config_lib
from trainer.train import train
data, output, warm = sys.argv[1], sys.argv[2], sys.argv[3]
config = config_lib.with_overrides(config_lib.preset("demo"), [
    "epochs=1", "model.width=4", "input.batch_size=8", "input.shuffle_buffer=16"])
train(data, config, output, warm)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in (
    "apache_beam", "tensorflow_transform"))))
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.slow
def test_training_with_a_warm_start_loads_no_beam_module(small_dataset, small_model, tmp_path):
    warm = os.path.join(small_model, "export")
    result = subprocess.run([sys.executable, "-c", _TRAIN_WITHOUT_BEAM, small_dataset,
                             str(tmp_path / "run"), warm], cwd=REPO, capture_output=True,
                            text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert [m for m in loaded if m.startswith("apache_beam")] == [], loaded[:10]


# Reads the sample video in a fresh process through the command line, as a user runs it,
# then reports which Beam modules were loaded.
_PREDICT_WITHOUT_BEAM = r"""
import json, os, sys
from lipflow.cli import main
code = main(["predict", sys.argv[1], "--model", sys.argv[2], "--output", sys.argv[3]])
print(json.dumps([code] + sorted(m for m in sys.modules if m.split(".")[0] in (
    "apache_beam", "tensorflow_transform"))))
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.slow
def test_predict_aligns_and_reads_a_video_without_loading_beam(small_model, tmp_path):
    """A sentence-only transcript takes predict through the forced aligner too."""
    from tests import media

    video = tmp_path / "bbaf3s.mpg"
    shutil.copyfile(media.sample_video("bbaf3s"), video)
    (tmp_path / "bbaf3s.txt").write_text("Text:  BIN BLUE AT F THREE SOON\n", encoding="utf-8")
    export = os.path.join(small_model, "export")
    result = subprocess.run([sys.executable, "-c", _PREDICT_WITHOUT_BEAM, str(video),
                             export, str(tmp_path / "out")], cwd=REPO, capture_output=True,
                            text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    code, *loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").open()]
    assert [line.get("true_word") for line in lines if line.get("kind") == "word"] == [
        "bin", "blue", "at", "f", "three", "soon"]
    assert loaded == [], loaded[:10]


def _imports(path: str) -> set[str]:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_library_module_imports_the_command_line_package():
    offenders = []
    for package in LIBRARY:
        for folder, _, names in os.walk(os.path.join(REPO, package)):
            for name in names:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    if any(m == "lipflow" or m.startswith("lipflow.") for m in _imports(path)):
                        offenders.append(os.path.relpath(path, REPO))
    assert offenders == []


def test_the_schemas_import_no_beam_or_tf_transform():
    for name in sorted(os.listdir(os.path.join(REPO, "schemas"))):
        if name.endswith(".py"):
            heavy = {m for m in _imports(os.path.join(REPO, "schemas", name))
                     if m.split(".")[0] in ("apache_beam", "tensorflow_transform")}
            assert heavy == set(), name
