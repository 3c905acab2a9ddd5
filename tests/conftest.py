"""Test session set-up, and the small real dataset and model that several test files share.

Processes that ran a tf.Transform analysis crash with SIGSEGV during interpreter
teardown, after every result is reported. When tf.Transform was used, the session
therefore ends with pytest's own exit status through os._exit, after its report
is printed, instead of going through the teardown that crashes.
"""

import os
import shutil
import sys

import pytest

from tests import media
from tests.runs import SMALL_TRAIN_CLIPS, SMALL_TRAINING, SMALL_VAL_CLIPS, lipflow

_STATUS = {}


def pytest_sessionfinish(session, exitstatus):
    _STATUS["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if "tensorflow_transform" in sys.modules and "code" in _STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_STATUS["code"])


def lay_out_small_videos(root):
    """The small dataset's sample videos and alignments under ROOT/{train,val}/{video,align}
    (the folder names fix their splits); `root`."""
    for split, clips in (("train", SMALL_TRAIN_CLIPS), ("val", SMALL_VAL_CLIPS)):
        for kind in ("video", "align"):
            os.makedirs(root / split / kind)
        for clip in clips:
            shutil.copyfile(media.sample_video(clip), root / split / "video" / f"{clip}.mpg")
            shutil.copyfile(media.sample_align(clip), root / split / "align" / f"{clip}.align")
    return root


@pytest.fixture(scope="session")
def dlib_backend():
    """The dlib landmark backend, loaded once for the session."""
    from pipelines.preprocess.landmarks import make_backend

    backend = make_backend("dlib")
    backend.load()
    return backend


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """Six real clips preprocessed; folders named train/ and val/ fix their splits."""
    root = lay_out_small_videos(tmp_path_factory.mktemp("videos"))
    output = tmp_path_factory.mktemp("data")
    result = lipflow("preprocess", "--input", str(root), "--output", str(output),
                     "--augment_copies", "1", "--direct_running_mode", "in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    return str(output)


@pytest.fixture(scope="session")
def small_model(small_dataset, tmp_path_factory):
    """A tiny model trained for two epochs on `small_dataset`: its run folder."""
    output = str(tmp_path_factory.mktemp("run"))
    result = lipflow("train", "--data", small_dataset, "--config", "demo", "--output", output,
                     *[a for item in SMALL_TRAINING + ["epochs=2"] for a in ("--set", item)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "val top-1" in result.stdout
    return output
