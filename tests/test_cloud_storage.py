"""lipflow against a real Cloud Storage JSON API: a local emulator (gcp-storage-emulator),
reached through STORAGE_EMULATOR_HOST, which Beam's GCS client follows.

TensorFlow's own GCS file system cannot be pointed at an emulator (its endpoint,
www.googleapis.com, is fixed in the library). What goes through it is tested locally:
tf.Transform's graph (a preprocess --output), the trainer's reads and writes, and the
SavedModel and TFRecords evaluate loads. The rest goes through the bucket here:
preprocess reads its videos and transcripts from gs://, evaluate writes its outputs to
gs://, and retrain refuses a gs:// work folder at once.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import lay_out_small_videos
from tests.runs import lipflow

BUCKET = "lipflow-test"
_RUN_FIELDS = ("created", "created_at", "started_at", "output", "input", "finished_at", "seconds")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def emulator():
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--port",
                               str(port), "--default-bucket", BUCKET, "--in-memory", "-q"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("localhost", port)) == 0:
                break
        assert time.monotonic() < deadline and server.poll() is None, "emulator did not start"
        time.sleep(0.2)
    env = {**os.environ, "STORAGE_EMULATOR_HOST": f"http://localhost:{port}"}
    yield env
    server.terminate()
    server.wait(timeout=30)


def _storage(env, script: str, *args: str) -> str:
    """Runs `script` (Python) with Beam's FileSystems pointed at the emulator; its stdout."""
    result = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# Uploads a folder, then has the landmark stage's copier fetch one video three times.
_UPLOAD = r"""
import json, os, sys
from apache_beam.io.filesystems import FileSystems
from pipelines.storage import LocalCopies
root, target = sys.argv[1], sys.argv[2]
uploaded = []
for folder, _, names in os.walk(root):
    for name in sorted(names):
        local = os.path.join(folder, name)
        uploaded.append((local, target + "/" + os.path.relpath(local, root)))
        with open(local, "rb") as source, FileSystems.create(uploaded[-1][1]) as remote:
            remote.write(source.read())
copies = LocalCopies()
local, remote = uploaded[0]
paths = {copies.path(remote) for _ in range(3)}
same = open(paths.pop(), "rb").read() == open(local, "rb").read()
folder = os.path.dirname(copies.path(remote))
copies.clear()
print(json.dumps({"downloads": copies.downloads, "same": same, "kept": len(paths),
                  "cleaned": not os.path.exists(folder)}))
"""

_DOWNLOAD_JSON = r"""
import json, sys
from apache_beam.io.filesystems import FileSystems
found = {m.path: m.size_in_bytes for m in FileSystems.match([sys.argv[1] + "/**"])[0].metadata_list}
documents = {}
for path in found:
    if path.endswith(".json"):
        with FileSystems.open(path) as handle:
            documents[path.rsplit("/", 1)[1]] = json.loads(handle.read().decode("utf-8"))
print(json.dumps({"files": sorted(p.rsplit("/", 1)[1] for p in found), "json": documents}))
"""


def _without_run_fields(document):
    if isinstance(document, dict):
        return {k: _without_run_fields(v) for k, v in document.items() if k not in _RUN_FIELDS}
    if isinstance(document, list):
        return [_without_run_fields(v) for v in document]
    return document


def _clips(folder) -> dict[str, dict]:
    """clip id -> every field as bytes or text (NaN equal to NaN), the source path apart."""
    import numpy as np
    import tensorflow as tf

    from schemas.clip import SOURCE_VIDEO, decode_clip
    from trainer.input import split_files

    found = {}
    for split in ("train", "val"):
        for path in split_files(str(folder), split):
            for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
                clip = decode_clip(record.numpy())
                found[clip["clip_id"]] = {
                    k: v.tobytes() if isinstance(v, np.ndarray) else repr(v)
                    for k, v in clip.items()}
                found[clip["clip_id"]][SOURCE_VIDEO] = clip[SOURCE_VIDEO].rsplit("/", 3)[1:]
    return found


@pytest.mark.slow
def test_preprocess_reads_its_videos_and_transcripts_from_a_bucket(emulator, small_dataset,
                                                                   tmp_path):
    root = lay_out_small_videos(tmp_path / "videos")
    copied = json.loads(_storage(emulator, _UPLOAD, str(root), f"gs://{BUCKET}/videos"))
    # A video visited chunk after chunk is downloaded once, and removed afterwards.
    assert copied == {"downloads": 1, "same": True, "kept": 0, "cleaned": True}
    output = tmp_path / "data"
    result = lipflow("preprocess", "--input", f"gs://{BUCKET}/videos", "--output", str(output),
                     "--augment_copies", "1", "--direct_running_mode", "in_memory", env=emulator)
    assert result.returncode == 0, result.stderr[-3000:]
    # The same videos from a local folder (the session's dataset) gave the same dataset.
    ours, local = _clips(output), _clips(small_dataset)
    assert len(ours) > 0 and ours == local
    cards = [json.load(open(os.path.join(folder, "dataset_info.json")))
             for folder in (output, small_dataset)]
    assert _without_run_fields(cards[0]) == _without_run_fields(cards[1])
    manifest = json.load(open(output / "manifest.json"))
    assert manifest["input"] == f"gs://{BUCKET}/videos" and manifest["balanced"]


@pytest.mark.slow
def test_evaluate_writes_its_outputs_into_a_bucket(emulator, small_dataset, small_model,
                                                   tmp_path):
    export = os.path.join(small_model, "export")
    flags = ("--split", "val", "--bootstrap_samples", "200", "--direct_running_mode",
             "in_memory")
    remote = f"gs://{BUCKET}/evaluation"
    result = lipflow("evaluate", "--data", small_dataset, "--model", export, "--output", remote,
                     *flags, env=emulator)
    assert result.returncode == 0, result.stderr[-3000:]
    local = tmp_path / "evaluation"
    result = lipflow("evaluate", "--data", small_dataset, "--model", export, "--output",
                     str(local), *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(_storage(emulator, _DOWNLOAD_JSON, remote))
    assert found["files"] == sorted(os.listdir(local))
    for name in ("metrics.json", "manifest.json"):
        ours = json.load(open(local / name))
        assert _without_run_fields(found["json"][name]) == _without_run_fields(ours), name


def test_retrain_refuses_a_bucket_work_folder_before_touching_it(emulator, tmp_path):
    result = lipflow("retrain", "--input", str(tmp_path), "--workdir", f"gs://{BUCKET}/work",
                     env=emulator)
    assert result.returncode == 3 and "object store URL" in result.stderr
    found = json.loads(_storage(emulator, _DOWNLOAD_JSON, f"gs://{BUCKET}/work"))
    assert found["files"] == []
