"""The schedules (cron, Airflow, Vertex AI Pipelines) and the training image: each calls
the same `lipflow retrain` / `lipflow train` with flags the commands accept, and the
schedulers stay out of the core install."""

import ast
import json
import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from infra.dataflow import image_packages as packages
from lipflow.cli import build_parser
from tests.test_infra_dataflow import _setup_requirements, _shell_commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEDULES = os.path.join(REPO, "infra", "schedules")
TRAINING = os.path.join(REPO, "infra", "training")


def _command_flags(name: str) -> set[str]:
    """Every --flag the subcommand `name` takes."""
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command")
    return {o for action in sub.choices[name]._actions for o in action.option_strings
            if o.startswith("--")}


def _parses_cleanly(argv: list[str]) -> None:
    """argv parsed by the lipflow parser with nothing left over."""
    args, unknown = build_parser().parse_known_args(argv)
    assert unknown == [], unknown
    return args


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_cron_line_is_valid_and_runs_lipflow_retrain():
    lines = [l for l in _read(os.path.join(SCHEDULES, "crontab")).splitlines()
             if l.strip() and not l.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for field, (low, high) in zip(fields[:5], ranges):
        assert field == "*" or low <= int(field) <= high, field
    command = shlex.split(fields[5].split(">>")[0])
    assert command[:3] == ["flock", "-n", "/var/lock/lipflow-retrain.lock"]
    assert command[3].endswith("/lipflow") and command[4] == "retrain"
    args = _parses_cleanly(command[4:])
    assert args.input and args.workdir and args.config == "grid"


def _dag_tree():
    return ast.parse(_read(os.path.join(SCHEDULES, "airflow_dag.py")))


def test_airflow_dag_parses_and_names_only_retrain_options():
    tree = _dag_tree()
    function = next(n for n in ast.walk(tree)
                    if isinstance(n, ast.FunctionDef) and n.name == "retrain_options")
    keys = {k.value for n in ast.walk(function) if isinstance(n, ast.Dict) for k in n.keys}
    keys |= {n.slice.value for n in ast.walk(function)
             if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant)
             and isinstance(n.ctx, ast.Store)}
    assert keys == {"input", "workdir", "config", "margin", "until"}
    assert {f"--{k}" for k in keys} <= _command_flags("retrain")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    untils = {n.args[1].value for n in calls if getattr(n.func, "id", "") == "_beam_step"}
    untils |= {n.args[0].value for n in calls if getattr(n.func, "id", "") == "retrain_options"
               and isinstance(n.args[0], ast.Constant)}
    # Every step of a cycle, in order, then the decision.
    assert untils == {"preprocessed", "dataset_built", "trained", ""}
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "airflow.providers.apache.beam.operators.beam" in imported


def _scheduler_python(name: str) -> str:
    """The Python of a scheduler's own environment (`make schedulers` builds it from
    infra/schedules/NAME.lock), as on the machine that runs the scheduler."""
    python = os.path.join(REPO, f".venv-{name}", "bin", "python")
    if not os.path.exists(python):
        if os.environ.get("LIPFLOW_SKIP_SCHEDULERS") == "1":
            pytest.skip(f"LIPFLOW_SKIP_SCHEDULERS=1 and no .venv-{name}/")
        pytest.fail(f".venv-{name}/ is missing: run `make schedulers` (or set "
                    "LIPFLOW_SKIP_SCHEDULERS=1 to skip this check)")
    return python


def _run_in(name: str, code: str, *args: str) -> str:
    result = subprocess.run([_scheduler_python(name), "-c", code, *args], capture_output=True,
                            text=True, timeout=300, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": REPO})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


_DAG_TASKS = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("lipflow_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps([[t.task_id, t.__class__.__name__] for t in module.dag.topological_sort()]))
"""


def test_airflow_dag_imports_with_its_tasks_in_order():
    out = _run_in("airflow", _DAG_TASKS, os.path.join(SCHEDULES, "airflow_dag.py"))
    tasks = json.loads(out.strip().splitlines()[-1])
    assert tasks == [["preprocess_new_videos", "BeamRunPythonPipelineOperator"],
                     ["rebuild_dataset", "BeamRunPythonPipelineOperator"],
                     ["train_candidate", "BashOperator"],
                     ["evaluate_and_gate", "BeamRunPythonPipelineOperator"]]


def test_retrain_step_file_runs_the_same_command(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(SCHEDULES, "retrain_step.py"),
                             "--status", f"--workdir={tmp_path}"], capture_output=True,
                            text=True, timeout=300, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": REPO})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the registry is empty" in result.stdout


def test_vertex_pipeline_parses_and_passes_only_retrain_flags():
    tree = ast.parse(_read(os.path.join(SCHEDULES, "vertex_pipeline.py")))
    spec = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "attr", "") == "ContainerSpec")
    keywords = {k.arg: k.value for k in spec.keywords}
    assert ast.literal_eval(keywords["command"]) == ["lipflow", "retrain"]
    flags = {e.value for e in keywords["args"].elts
             if isinstance(e, ast.Constant) and e.value.startswith("--")}
    assert flags == {"--input", "--workdir", "--config", "--margin", "--until"}
    assert flags <= _command_flags("retrain")
    steps = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 and n.targets[0].id == "STEPS")
    choices = next(a.choices for a in build_parser()._subparsers._group_actions[0]
                   .choices["retrain"]._actions if "--until" in a.option_strings)
    assert set(steps) <= set(choices) and steps[-1] == ""  # the last step decides
    assert [s for s in choices if s and s in steps] == list(steps[:-1])  # the cycle's order


_COMPILE = r"""
import sys
from infra.schedules import vertex_pipeline
vertex_pipeline.main(["--image", "IMAGE", "--bucket", "b", "--compile", sys.argv[1]])
"""


def test_vertex_pipeline_compiles_to_four_retrain_steps_in_order(tmp_path):
    spec_path = tmp_path / "p.yaml"
    _run_in("kfp", _COMPILE, str(spec_path))
    spec = yaml.safe_load(spec_path.read_text())
    executors = spec["deploymentSpec"]["executors"].values()
    assert [e["container"]["command"] for e in executors] == [["lipflow", "retrain"]] * 4
    assert {e["container"]["image"] for e in executors} == {"IMAGE"}
    tasks = spec["root"]["dag"]["tasks"]
    untils = {name: task["inputs"]["parameters"]["until"]["runtimeValue"]["constant"]
              for name, task in tasks.items()}
    order, after = [], None
    while len(order) < len(tasks):  # follow the dependencies from the first step
        (name,) = [n for n, t in tasks.items() if t.get("dependentTasks", [None])[0] == after
                   or (after is None and "dependentTasks" not in t)]
        order.append(untils[name])
        after = name
    assert order == ["preprocessed", "dataset_built", "trained", ""]


def test_schedulers_stay_out_of_the_core_install_and_resolve_with_protobuf_6():
    install, extras = _setup_requirements()
    lock = packages.read_pins([os.path.join(REPO, "requirements.lock")])
    wanted = [l.split("==")[0] for l in _read(os.path.join(SCHEDULES, "requirements.txt"))
              .splitlines() if l and not l.startswith("#")]
    core = " ".join(install + [r for group in extras.values() for r in group])
    for name in wanted:
        assert name not in lock and name not in core, name
    for report, package in (("resolved-airflow.json", "apache-airflow"),
                            ("resolved-kfp.json", "kfp")):
        resolved = json.loads(_read(os.path.join(SCHEDULES, report)))["resolved"]
        assert resolved["protobuf"] == lock["protobuf"]
        assert resolved[package] == next(l.split("==")[1] for l in _read(os.path.join(
            SCHEDULES, "requirements.txt")).splitlines() if l.startswith(package + "=="))
    for name in wanted + ["airflow", "kfp"]:
        assert name not in _read(os.path.join(REPO, "infra", "dataflow", "Dockerfile"))
        assert name not in _read(os.path.join(TRAINING, "Dockerfile")).split("\nFROM")[-1]


def _training_installs() -> list[list[str]]:
    text = re.sub(r"\\\n\s*", " ", "\n".join(
        l for l in _read(os.path.join(TRAINING, "Dockerfile")).splitlines()
        if not l.lstrip().startswith("#")))
    runs = [l.strip()[4:] for l in text.splitlines() if l.strip().startswith("RUN ")]
    return [c for r in runs for c in _shell_commands(r) if c[:2] == ["pip", "install"]]


def test_training_image_installs_exactly_the_lock_and_the_cuda_lock():
    installs = _training_installs()
    files = [c[c.index("-r") + 1] for c in installs if "-r" in c]
    assert files == ["requirements.lock", "requirements-cuda.lock"]
    for command in installs:
        assert command[2:] in (["--upgrade", "pip==25.3"], ["--no-deps", "--no-build-isolation", "."]) \
            or "--no-deps" in command, command
    dockerfile = _read(os.path.join(TRAINING, "Dockerfile"))
    lock = packages.read_pins([os.path.join(REPO, "requirements.lock")])
    assert re.search(r"^FROM python:3\.11-", dockerfile, re.M)  # the lock's Python
    assert f"tf.__version__ == '{lock['tensorflow']}'" in dockerfile
    check = subprocess.run([sys.executable, os.path.join(TRAINING, "lock_cuda.py"), "--check"],
                           timeout=120)
    assert check.returncode == 0, "requirements-cuda.lock is stale: run lock_cuda.py"


def test_vertex_custom_job_runs_lipflow_train_on_gpus():
    spec = yaml.safe_load(_read(os.path.join(TRAINING, "vertex_custom_job.yaml")))
    pool = spec["workerPoolSpecs"][0]
    assert pool["machineSpec"]["acceleratorType"].startswith("NVIDIA_")
    assert pool["machineSpec"]["acceleratorCount"] >= 1
    args = pool["containerSpec"]["args"]
    parsed = _parses_cleanly(args)
    assert parsed.command == "train" and parsed.data.startswith("/gcs/")
    assert parsed.output.startswith("/gcs/")
