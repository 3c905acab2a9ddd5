"""`lipflow retrain` killed at each step of a cycle (after preprocess, after the dataset
merge, after training, after evaluation, after the gate wrote the registry) and rerun each
time finishes with the same registry as a run never interrupted.

The kills are SIGKILLs the run sends itself at the named step (LIPFLOW_TEST_KILL_AFTER), so
they land at the same point on every machine. The gate split is the default, val; the
promoted model is scored once on test for the registry.
"""

import os

import pytest

from pipelines.retrain.cycle import KILL_AFTER_ENV
from tests.runs import lipflow
from tests.test_retrain import FIRST, TINY, _add, _json

KILL_POINTS = ("preprocessed", "dataset_built", "trained", "evaluated", "gated")
FLAGS = [f for k, f in enumerate(TINY)
         if "--gate_split" not in TINY[max(k - 1, 0):k + 1]] + ["--set", "epochs=1"]
# What differs between two work folders whatever happens: times and paths.
_PER_RUN = ("created_at", "decided_at", "export", "dataset")


def _retrain(root, workdir, kill_after=""):
    env = {**os.environ, KILL_AFTER_ENV: kill_after}
    return lipflow("retrain", "--input", str(root), "--workdir", str(workdir), *FLAGS, env=env)


def _comparable(registry: dict) -> dict:
    versions = {}
    for version, record in registry["versions"].items():
        record = {k: v for k, v in record.items() if k not in _PER_RUN}
        record["data"] = {k: v for k, v in record["data"].items() if k != "dataset"}
        versions[version] = record
    return {"production": registry["production"], "versions": versions}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("broadcasts")
    _add(root, FIRST)
    straight, killed = tmp_path_factory.mktemp("straight"), tmp_path_factory.mktemp("killed")
    result = _retrain(root, straight)
    assert result.returncode == 0, result.stderr[-3000:]
    steps = []
    for point in KILL_POINTS:
        result = _retrain(root, killed, point)
        steps.append((point, result.returncode, _json(killed / "state.json")["cycle"]))
    finished = _retrain(root, killed)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return {"straight": _json(straight / "registry" / "registry.json"),
            "killed": _json(killed / "registry" / "registry.json"), "steps": steps,
            "state": _json(killed / "state.json")}


@pytest.mark.slow
def test_each_run_died_at_its_step(runs):
    for point, returncode, cycle in runs["steps"]:
        assert returncode == -9, point  # SIGKILL
        # "gated" is past the last state step: the registry holds the decision, the state
        # still says evaluated, and the rerun must not decide twice.
        assert cycle["step"] == ("evaluated" if point == "gated" else point)
    assert runs["state"]["cycle"] is None and len(runs["state"]["cycles"]) == 1


@pytest.mark.slow
def test_the_killed_and_rerun_cycle_writes_the_same_registry(runs):
    assert _comparable(runs["killed"]) == _comparable(runs["straight"])
    assert list(runs["killed"]["versions"]) == ["v0001"]


@pytest.mark.slow
def test_the_gate_uses_val_and_the_promoted_model_is_scored_once_on_test(runs):
    metrics = runs["straight"]["versions"]["v0001"]["metrics"]
    assert metrics["split"] == "val" and metrics["scored"] >= 1
    test = metrics["test"]
    assert test["scored"] >= 1 and 0.0 <= test["top1"] <= 1.0
