"""The Dataflow image, templates and scripts (infra/dataflow/), checked without Google Cloud.

What a machine without a Docker engine or cloud access can prove: the Dockerfile builds on
the Beam SDK image of the pinned Beam and installs nothing but locked pins; setup.py names
every package the code imports; each template's metadata is what its job's parser says;
the scripts are sound and the specs and commands they make carry the image and the GPU
options; and each job's graph builds for DataflowRunner from those very options, down to
the job request Dataflow would receive (Beam's dry run: nothing is submitted).
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

from tests.media import SAMPLE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INFRA = os.path.join(REPO, "infra", "dataflow")
DOCKERFILE = os.path.join(INFRA, "Dockerfile")
CODE_FOLDERS = ("lipflow", "pipelines", "schemas", "trainer")
IMAGE_CPU = "us-central1-docker.pkg.dev/fake-project/lipflow/worker:test"
IMAGE_GPU = "us-central1-docker.pkg.dev/fake-project/lipflow/worker-gpu:test"
GPU_OPTION = "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver"
SCRIPT_ENV = {"PROJECT": "fake-project", "REGION": "us-central1", "TAG": "test", "DRY_RUN": "1",
              "JOB_NAME": "lipflow-test"}


def _load(name: str):
    """A script of infra/dataflow/ as a module (they are files, not a package)."""
    spec = importlib.util.spec_from_file_location(f"infra_dataflow_{name}",
                                                  os.path.join(INFRA, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


packages = _load("image_packages")
make_metadata = _load("make_metadata")
launch = _load("launch")


def _lock() -> dict[str, str]:
    return packages.read_pins([os.path.join(REPO, "requirements.lock")])


def _fan_lock() -> dict[str, str]:
    return packages.read_pins([os.path.join(INFRA, "requirements-fan.lock")])


def _setup_requirements() -> tuple[list[str], dict[str, list[str]]]:
    """install_requires and extras_require, read from setup.py without running it."""
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    found = {node.arg: ast.literal_eval(node.value) for node in ast.walk(tree)
             if isinstance(node, ast.keyword)
             and node.arg in ("install_requires", "extras_require")}
    return found["install_requires"], found["extras_require"]


def _pin(requirement: str) -> tuple[str, str]:
    """'apache-beam[gcp]==2.77.0' -> ('apache-beam', '2.77.0')."""
    match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==(\S+)", requirement)
    assert match, f"setup.py requirement {requirement!r} is not an exact pin"
    return packages.canonical(match[1]), match[3]


# --- Dockerfile ----------------------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    with open(DOCKERFILE, encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _shell_commands(run_argument: str) -> list[list[str]]:
    """A RUN line as simple commands: split at &&, ||, ;, then, else and fi."""
    tokens = shlex.split(run_argument.replace(";", " ; "), posix=True)
    commands, current = [], []
    for token in tokens:
        if token in ("&&", "||", ";", "then", "else", "fi", "if", "case", "esac", ";;"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def test_dockerfile_builds_on_the_beam_sdk_image_of_the_pinned_beam():
    instructions = _instructions()
    froms = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as handle:
        python = re.search(r'python_requires=">=(\d+\.\d+)', handle.read())
    assert froms[-1] == f"apache/beam_python{python[1]}_sdk:{_lock()['apache-beam']}"
    entrypoints = [args for keyword, args in instructions if keyword == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["/opt/apache/beam/boot"]
    # The Flex Template launcher, copied from Google's Python 3.11 launcher image.
    args = [a for keyword, a in instructions if keyword == "ARG" and a.startswith("LAUNCHER_IMAGE")]
    assert "python311-template-launcher-base" in args[0]
    assert not args[0].endswith(":latest")  # a moving tag: a rebuild could change the launcher
    assert any(k == "COPY" and "--from=launcher" in a and a.endswith(
        "/opt/google/dataflow/python_template_launcher") for k, a in instructions)
    env = " ".join(a for k, a in instructions if k == "ENV")
    assert "FLEX_TEMPLATE_PYTHON_PY_FILE=/template/infra/dataflow/launch.py" in env
    assert ("WORKDIR", "/template") in instructions
    assert any(k == "COPY" and "infra/dataflow/launch.py" in a for k, a in instructions)
    # The offline check runs with no network and covers the entrypoints.
    assert any(k == "RUN" and a.startswith("--network=none") and "check_image.py" in a
               and "--in-image" in a for k, a in instructions)


def test_dockerfile_installs_only_locked_pins():
    """Every pip install is a lock file or the project with --no-deps, or pip at its pin."""
    lock = _lock()
    makefile = open(os.path.join(REPO, "Makefile"), encoding="utf-8").read()
    pip_pin = re.search(r"pip install --quiet --upgrade pip==(\S+)", makefile)[1]
    allowed_files = {"requirements.lock", "infra/dataflow/requirements-fan.lock"}
    installs = [c for k, a in _instructions() if k == "RUN" for c in _shell_commands(a)
                if c[:2] == ["pip", "install"]]
    assert installs, "the Dockerfile installs no packages"
    files_installed = set()
    for command in installs:
        args = command[2:]
        targets = []
        index = 0
        while index < len(args):
            arg = args[index]
            if arg == "-r":
                files_installed.add(args[index + 1])
                targets.append(("file", args[index + 1]))
                index += 2
                continue
            if arg in ("--no-deps", "--no-build-isolation", "--upgrade"):
                pass
            elif arg == ".":
                targets.append(("project", arg))
            elif "==" in arg:
                name, version = arg.split("==")
                assert name == "pip" and version == pip_pin or lock.get(name) == version, (
                    f"{arg} is not a pin of requirements.lock")
            else:
                pytest.fail(f"unexpected pip install argument {arg!r} in {command}")
            index += 1
        for kind, target in targets:
            assert "--no-deps" in args, f"{command}: without --no-deps pip adds unpinned packages"
            assert kind == "project" or target in allowed_files, target
    assert "requirements.lock" in files_installed
    assert any(c[:3] == ["python", "infra/dataflow/image_packages.py", "prune"]
               for k, a in _instructions() if k == "RUN" for c in _shell_commands(a))
    assert any(c[:3] == ["python", "infra/dataflow/image_packages.py", "check"]
               for k, a in _instructions() if k == "RUN" for c in _shell_commands(a))


def test_lock_files_are_exact_and_the_fan_lock_adds_to_the_main_one():
    lock, fan = _lock(), _fan_lock()
    assert not set(lock) & set(fan), "the fan lock repeats packages of requirements.lock"
    _, extras = _setup_requirements()
    for requirement in extras["fan"]:
        name, version = _pin(requirement)
        assert fan.get(name) == version, f"setup.py has {requirement}, the fan lock {fan.get(name)}"
    assert "opencv-python" not in fan  # cv2 comes from opencv-python-headless (requirements.lock)


def test_image_package_rules():
    pins = {"numpy": "2.4.6", "jaraco-classes": "3.4.0"}
    present = {"numpy": "1.26.4", "jaraco-classes": "3.4.0", "scikit-learn": "1.5.2", "pip": "25.3",
               "lipflow": "0.1.0"}
    assert packages.unpinned(present, pins) == ["scikit-learn"]
    assert packages.mismatched(present, pins) == ["numpy is 1.26.4, the lock says 2.4.6"]
    assert packages.mismatched({}, {"numpy": "2.4.6"}) == ["numpy==2.4.6 is not installed"]
    assert packages.canonical("Jaraco.Classes") == "jaraco-classes"
    report = ("face-alignment 1.5.0 requires opencv-python, which is not installed.\n"
              "hdfs 2.7.3 requires docopt, which is not installed.\n")
    assert packages.unmet_requirements(report) == [
        "hdfs 2.7.3 requires docopt, which is not installed."]
    assert packages.unmet_requirements("No broken requirements found.\n") == []


def test_lock_reader_rejects_anything_but_exact_pins(tmp_path):
    loose = tmp_path / "loose.lock"
    loose.write_text("numpy>=2\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        packages.read_pins([str(loose)])
    clash = tmp_path / "clash.lock"
    clash.write_text("numpy==2.4.6\nNumPy==2.4.5\n")
    with pytest.raises(ValueError, match="pinned at"):
        packages.read_pins([str(clash)])


# --- setup.py ------------------------------------------------------------------------------

def _imports() -> dict[str, bool]:
    """Imported third-party modules of the code -> whether the code treats it as optional.

    A module counts by its top-level name, or by two levels for a namespace package
    (google.protobuf). It is optional when an import of it sits in a try that handles
    ImportError (the fan backend's face_alignment: the check at load, then plain imports).
    """
    local = set(CODE_FOLDERS)
    found: dict[str, bool] = {}
    for folder in CODE_FOLDERS:
        for base, _, names in os.walk(os.path.join(REPO, folder)):
            for name in (n for n in names if n.endswith(".py")):
                with open(os.path.join(base, name), encoding="utf-8") as handle:
                    tree = ast.parse(handle.read())
                guarded_nodes = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try)
                                 and any(_catches_import_error(h) for h in t.handlers)
                                 for stmt in t.body for n in ast.walk(stmt)}
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        modules = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        modules = [node.module]
                    else:
                        continue
                    for module in modules:
                        parts = module.split(".")
                        if parts[0] in sys.stdlib_module_names or parts[0] in local:
                            continue
                        key = ".".join(parts[:2]) if parts[0] == "google" else parts[0]
                        found[key] = found.get(key, False) or id(node) in guarded_nodes
    return found


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
               for n in names)


def _distribution_of(module: str, owners: dict[str, str]) -> str | None:
    """The installed distribution that provides `module`, or None if none does."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return None
    origin = (spec.origin if spec.origin not in (None, "namespace")
              else os.path.join(list(spec.submodule_search_locations)[0], "__init__.py"))
    for entry in filter(None, sys.path):
        if origin.startswith(entry.rstrip(os.sep) + os.sep):
            relative = os.path.relpath(origin, entry).replace(os.sep, "/")
            if relative in owners:
                return owners[relative]
    return None


def _file_owners() -> dict[str, str]:
    """{file path inside site-packages: distribution}, from every distribution's RECORD."""
    owners = {}
    for dist in metadata.distributions():
        name = packages.canonical(dist.metadata["Name"])
        owners.update((str(file), name) for file in dist.files or ())
    return owners


def test_setup_py_lists_every_imported_package_at_its_locked_pin():
    install_requires, extras = _setup_requirements()
    required = dict(_pin(r) for r in install_requires)
    optional = dict(_pin(r) for group in extras.values() for r in group)
    lock = _lock()
    for name, version in required.items():
        assert lock.get(name) == version, f"setup.py: {name}=={version}, the lock: {lock.get(name)}"
    missing, owners = [], _file_owners()
    for module, guarded in sorted(_imports().items()):
        dist = _distribution_of(module, owners)
        if dist is None and guarded and packages.canonical(module) in optional:
            continue  # an optional backend that is not installed here (face_alignment)
        if dist is None:
            missing.append(f"{module} (not installed)")
        elif dist not in required and not (guarded and dist in optional):
            missing.append(f"{module} (from {dist})")
    assert not missing, f"imported but not in setup.py's install_requires: {missing}"


# --- template metadata ---------------------------------------------------------------------

def _cli_options(job: str) -> set[str]:
    """The long flags of `lipflow JOB`, from the command line's own parser."""
    from lipflow.cli import build_parser

    subparsers = next(a for a in build_parser()._actions
                      if isinstance(a, argparse._SubParsersAction))
    return {s[2:] for a in subparsers.choices[job]._actions for s in a.option_strings
            if s.startswith("--") and s != "--help"}


def _metadata(job: str) -> dict:
    with open(make_metadata.metadata_path(job), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize("job", make_metadata.JOBS)
def test_metadata_is_regenerated_identically_from_the_parser(job):
    with open(make_metadata.metadata_path(job), encoding="utf-8") as handle:
        committed = handle.read()
    assert make_metadata.render(make_metadata.metadata(job)) == committed, (
        "stale metadata: run .venv/bin/python infra/dataflow/make_metadata.py")


@pytest.mark.parametrize("job", make_metadata.JOBS)
def test_metadata_names_exactly_the_job_options(job):
    names = [p["name"] for p in _metadata(job)["parameters"]]
    assert len(names) == len(set(names))
    assert set(names) == _cli_options(job)


@pytest.mark.parametrize("job", make_metadata.JOBS)
def test_metadata_parses_as_dataflow_template_metadata(job):
    from google.cloud.dataflow_v1beta3 import ParameterType, TemplateMetadata

    with open(make_metadata.metadata_path(job), encoding="utf-8") as handle:
        parsed = TemplateMetadata.from_json(handle.read(), ignore_unknown_fields=False)
    assert parsed.name == f"lipflow {job}" and parsed.description
    for parameter in _metadata(job)["parameters"]:
        assert {"name", "label", "helpText", "isOptional"} <= set(parameter), parameter
        assert parameter["label"] and parameter["helpText"]
        for regex in parameter.get("regexes", []):
            pattern = re.compile(regex)
            if "defaultValue" in parameter:
                assert pattern.fullmatch(parameter["defaultValue"]), (parameter["name"], regex)
            for option in parameter.get("enumOptions", []):
                assert pattern.fullmatch(option["value"])
        if parameter.get("paramType", "").startswith("GCS_"):
            assert not re.fullmatch(parameter["regexes"][0], "/local/folder")
    types = {p.name: p.param_type for p in parsed.parameters}
    assert types["output"] == ParameterType.GCS_WRITE_FOLDER
    required = {p["name"] for p in _metadata(job)["parameters"] if not p["isOptional"]}
    assert required == ({"input", "output"} if job == "preprocess" else {"data", "model", "output"})


def test_metadata_checks_values_as_the_jobs_do():
    preprocess = {p["name"]: p for p in _metadata("preprocess")["parameters"]}
    evaluate = {p["name"]: p for p in _metadata("evaluate")["parameters"]}

    def accepts(parameter, value):
        return all(re.fullmatch(r, value) for r in parameter["regexes"])

    assert accepts(preprocess["input"], "gs://bucket/videos/manifest.csv")
    assert not accepts(preprocess["input"], "gs://bucket/videos/")
    assert accepts(preprocess["landmarks"], "fan")
    assert not accepts(preprocess["landmarks"], "mediapipe")
    assert accepts(preprocess["landmark_device"], "cuda") and accepts(preprocess["fps"], "29.97")
    assert not accepts(preprocess["window_length"], "29.5")
    assert accepts(evaluate["model"], "gs://bucket/run1/export,gs://bucket/run2/export")
    assert not accepts(evaluate["model"], "gs://bucket/run1/export,/local/export")
    assert accepts(evaluate["slice"], "video_id,speaker")
    assert accepts(evaluate["tta"], "multi") and not accepts(evaluate["split"], "all")
    # Every rule of the generator names a real flag (a renamed flag cannot lose its checks).
    for labelled in make_metadata._LABELS:
        assert any(labelled in _cli_options(job) for job in make_metadata.JOBS), labelled


# --- the template's entry point ------------------------------------------------------------

def test_launch_tells_the_job_from_its_parameters():
    assert launch.job_of(["--input=gs://b/m.csv", "--output=gs://b/o", "--x=1"]) == "preprocess"
    assert launch.job_of(["--data=gs://b/d", "--model=gs://b/m", "--output=gs://b/o"]) == "evaluate"
    with pytest.raises(ValueError, match="cannot tell the job"):
        launch.job_of(["--output=gs://b/o"])
    with pytest.raises(ValueError, match="cannot tell the job"):
        launch.job_of(["--input=x", "--data=y", "--model=z"])


def test_launch_splits_list_parameters_and_defaults_the_worker_image():
    argv = ["--model=gs://b/a,gs://b/b", "--slice", "video_id,speaker", "--split=val"]
    assert launch.split_list_flags(argv) == [
        "--model=gs://b/a", "--model=gs://b/b", "--slice=video_id", "--slice=speaker",
        "--split=val"]
    assert launch.with_worker_image(["--x=1"], {launch.WORKER_IMAGE_ENV: IMAGE_CPU}) == [
        "--x=1", f"--sdk_container_image={IMAGE_CPU}"]
    chosen = ["--sdk_container_image=other"]
    assert launch.with_worker_image(chosen, {launch.WORKER_IMAGE_ENV: IMAGE_CPU}) == chosen
    assert launch.with_worker_image(["--x=1"], {}) == ["--x=1"]


def test_launch_reads_a_manifest_from_cloud_storage_through_a_local_copy(tmp_path, monkeypatch):
    from apache_beam.io.filesystems import FileSystems

    from pipelines.preprocess.inputs import list_inputs

    text = b"video,transcript\ngs://bucket/v/a.mp4,gs://bucket/t/a.align\n"
    opened = []
    monkeypatch.setattr(FileSystems, "open", lambda path: opened.append(path) or io.BytesIO(text))
    monkeypatch.chdir(tmp_path)
    with launch.local_manifest("gs://bucket/in/manifest.csv") as local:
        assert os.path.basename(local) == "manifest.csv" and os.getcwd() == os.path.dirname(local)
        listing = list_inputs(local)
    assert opened == ["gs://bucket/in/manifest.csv"]
    assert os.getcwd() == str(tmp_path) and not os.path.exists(local)
    video = listing.videos[0]
    assert (video.video, video.transcript) == ("gs://bucket/v/a.mp4", "gs://bucket/t/a.align")
    assert video.video_id == "gs:/bucket/v/a"  # as for a local run from the manifest's folder
    with launch.local_manifest("/local/manifest.csv") as local:
        assert local == "/local/manifest.csv"


# --- scripts -------------------------------------------------------------------------------

SCRIPTS = ("build_image.sh", "build_template.sh", "run_job.sh",
           "config.sh")


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_and_are_strict(script):
    path = os.path.join(INFRA, script)
    assert subprocess.run(["bash", "-n", path], check=False).returncode == 0
    text = open(path, encoding="utf-8").read()
    if script != "config.sh":
        assert "set -euo pipefail" in text and "usage()" in text
        assert os.access(path, os.X_OK)


def test_scripts_pass_shellcheck():
    # Not skipped where shellcheck is missing: `make test` installs it (`make tools`).
    assert shutil.which("shellcheck"), "shellcheck is not installed: run `make tools`"
    paths = [os.path.join("infra", "dataflow", script) for script in SCRIPTS]
    result = subprocess.run(["shellcheck", "-x", *paths], cwd=REPO, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout


def _script(name: str, *args: str, **env: str) -> list[str]:
    """The command a run script would execute (DRY_RUN=1), as an argument list."""
    result = subprocess.run([os.path.join(INFRA, name), *args], capture_output=True, text=True,
                            check=False, env={**os.environ, **SCRIPT_ENV, **env}, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return shlex.split(lines[-1])


def _template_parameters(command: list[str]) -> dict[str, str]:
    value = command[command.index("--parameters") + 1]
    assert value.startswith("^~^")
    return dict(item.split("=", 1) for item in value[3:].split("~"))


def _launcher_argv(command: list[str], input_override: dict[str, str]) -> list[str]:
    """The flags launch.py gets for this run command: the template's parameters as
    --name=value, as the launcher passes them, and the run's Dataflow settings given here
    as the equivalent Beam flags."""
    parameters = {**_template_parameters(command), **input_override}
    value = dict(zip(command, command[1:]))
    return ([f"--{k}={v}" for k, v in parameters.items()]
            + ["--runner=DataflowRunner", f"--project={value['--project']}",
               f"--region={value['--region']}", f"--temp_location={value['--temp-location']}",
               f"--staging_location={value['--staging-location']}",
               f"--machine_type={value['--worker-machine-type']}",
               f"--service_account_email={value['--service-account-email']}"])


def test_run_scripts_pass_image_and_gpu_options():
    fan = _script("run_job.sh", "preprocess", "--fan", "gs://b/in/manifest.csv", "gs://b/out")
    assert fan[:4] == ["gcloud", "dataflow", "flex-template", "run"]
    parameters = _template_parameters(fan)
    assert parameters["sdk_container_image"] == IMAGE_GPU
    assert parameters["dataflow_service_options"] == GPU_OPTION
    assert parameters["landmarks"] == "fan" and parameters["landmark_device"] == "cuda"
    assert fan[fan.index("--worker-machine-type") + 1] == "g2-standard-4"
    assert fan[fan.index("--template-file-gcs-location") + 1].endswith("/preprocess-fan.json")
    beam_options = {"sdk_container_image", "dataflow_service_options", "disk_size_gb"}
    job_options = {p["name"] for p in _metadata("preprocess")["parameters"]}
    assert set(parameters) <= job_options | beam_options

    cpu = _script("run_job.sh", "preprocess", "gs://b/in/manifest.csv", "gs://b/out", "augment_copies=1")
    assert "dataflow_service_options" not in _template_parameters(cpu)
    assert _template_parameters(cpu)["sdk_container_image"] == IMAGE_CPU

    direct = _script("run_job.sh", "preprocess", "--fan", "--direct", "manifest.csv", "gs://b/out")
    assert direct[:2] == [".venv/bin/lipflow", "preprocess"]
    assert f"--dataflow_service_options={GPU_OPTION}" in direct
    assert direct[direct.index("--sdk_container_image") + 1] == IMAGE_GPU
    assert direct[direct.index("--machine_type") + 1] == "g2-standard-4"

    evaluate = _script("run_job.sh", "evaluate", "gs://b/data", "gs://b/eval", "gs://b/m1,gs://b/m2")
    assert _template_parameters(evaluate)["model"] == "gs://b/m1,gs://b/m2"
    direct = _script("run_job.sh", "evaluate", "--direct", "gs://b/data", "gs://b/eval", "gs://b/m1,gs://b/m2")
    assert [direct[i + 1] for i, a in enumerate(direct) if a == "--model"] == ["gs://b/m1", "gs://b/m2"]

    for args in (["evaluate"], ["train"], ["evaluate", "--fan", "d", "o", "m"]):
        usage = subprocess.run([os.path.join(INFRA, "run_job.sh"), *args], capture_output=True,
                               text=True, check=False, env={**os.environ, **SCRIPT_ENV})
        assert usage.returncode == 2 and "usage:" in usage.stderr, args


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="the gcloud CLI is not installed")
def test_template_specs_name_the_images_and_carry_the_metadata():
    """gcloud builds each spec locally (--print-only uploads nothing)."""
    result = subprocess.run([os.path.join(INFRA, "build_template.sh")], capture_output=True,
                            text=True, check=False, timeout=180,
                            env={**os.environ, **SCRIPT_ENV, "DRY_RUN": "0", "PRINT_ONLY": "1",
                                 "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"})
    assert result.returncode == 0, result.stderr
    blocks = [block for block in result.stdout.split("|-") if block.strip()]
    specs = [json.loads(textwrap.dedent(block)) for block in blocks]
    assert [s["image"] for s in specs] == [IMAGE_CPU, IMAGE_GPU, IMAGE_CPU]
    assert [s["metadata"] for s in specs] == [_metadata("preprocess"), _metadata("preprocess"),
                                              _metadata("evaluate")]
    assert all(s["sdkInfo"]["language"] == "PYTHON" for s in specs)


# --- the job graphs, built for Dataflow ------------------------------------------------------

# Runs in a fresh process per job, as the template launcher does: Beam parses every
# PipelineOptions class a process has imported, and the preprocess options require --input.
_DRY_RUN = r"""
import hashlib, importlib.util, json, os, sys
request = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("launch", request["launch"])
launch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launch)
if request["stub_fan_check"]:
    # face-alignment is not installed here; the image loads it at build time instead.
    launch._launch_check = lambda config: {"backend": config.landmarks,
                                           "device": config.landmark_device}
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, WorkerOptions
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.dataflow.internal import apiclient
from apache_beam.utils import proto_utils

name, pipeline, output = launch.build_job(request["argv"] + ["--dry_run=True"], request["environ"])
result = pipeline.run()  # DataflowRunner with --dry_run: translated, not submitted
job = result.job
proto = job.proto_pipeline
apiclient.DataflowApplicationClient._apply_sdk_environment_overrides(proto, {}, job.options)
environment = apiclient.Environment(
    packages=[], options=job.options,
    environment_version=apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION,
    proto_pipeline_staged_url="gs://staging/pipeline.pb", proto_pipeline=proto,
    pipeline_proto_hash=hashlib.sha256(proto.SerializeToString()).hexdigest()).proto
pool = environment.worker_pools[0]
direct = PipelineOptions(request["direct_argv"])
print(json.dumps({
    "job": name, "runner": type(pipeline.runner).__name__, "job_type": int(job.proto.type),
    "environment_images": sorted({proto_utils.parse_Bytes(
        e.payload, beam_runner_api_pb2.DockerPayload).container_image
        for e in proto.components.environments.values()}),
    "harness_images": [c.container_image for c in pool.sdk_harness_container_images],
    "machine_type": pool.machine_type, "service_options": list(environment.service_options),
    "steps": sorted({t.unique_name.split("/")[0] for t in proto.components.transforms.values()
                     if t.unique_name and "/" not in t.unique_name}),
    "direct": {"image": direct.view_as(WorkerOptions).sdk_container_image,
               "machine_type": direct.view_as(WorkerOptions).machine_type,
               "service_options": direct.view_as(GoogleCloudOptions).dataflow_service_options},
}))
sys.stdout.flush()
os._exit(0)  # skip the interpreter teardown that crashes after tf.Transform (tests/conftest.py)
"""


def _dry_run(argv: list[str], direct_argv: list[str], environ: dict, stub_fan_check: bool) -> dict:
    request = {"launch": os.path.join(INFRA, "launch.py"), "argv": argv,
               "direct_argv": direct_argv, "environ": environ, "stub_fan_check": stub_fan_check}
    result = subprocess.run([sys.executable, "-c", _DRY_RUN, json.dumps(request)], cwd=REPO,
                            capture_output=True, text=True, check=False, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _manifest(folder, clips=("bbaf3s", "lgiz3s")) -> str:
    path = os.path.join(folder, "manifest.csv")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "transcript"])
        for clip in clips:
            writer.writerow([os.path.join(SAMPLE, "video", f"{clip}.mpg"),
                             os.path.join(SAMPLE, "align", f"{clip}.align")])
    return path


@pytest.mark.slow
def test_preprocess_graph_builds_for_dataflow_on_gpu_workers(tmp_path):
    """The FAN template run's own parameters, through launch.py, to the Dataflow job request.

    The input is a local manifest of sample videos and the output a local folder: the
    listing reads local files, and tf.Transform creates its scratch folder while the graph
    is built, which in Cloud Storage would need credentials.
    """
    command = _script("run_job.sh", "preprocess", "--fan", "gs://b/in/manifest.csv", "gs://b/out")
    (tmp_path / "vocabulary.txt").write_text("bin\nblue\nat\n")
    argv = _launcher_argv(command, {"input": _manifest(str(tmp_path)),
                                    "output": str(tmp_path / "out"),
                                    "vocabulary": str(tmp_path / "vocabulary.txt")})
    direct = _script("run_job.sh", "preprocess", "--fan", "--direct", "manifest.csv", "gs://b/out")
    stub = importlib.util.find_spec("face_alignment") is None
    summary = _dry_run(argv, direct[2:], {}, stub_fan_check=stub)
    assert summary["job"] == "preprocess" and summary["runner"] == "DataflowRunner"
    assert summary["job_type"] == 1  # JOB_TYPE_BATCH
    assert summary["environment_images"] == [IMAGE_GPU] == summary["harness_images"]
    assert summary["machine_type"] == "g2-standard-4"
    assert summary["service_options"] == [GPU_OPTION]
    for step in ("ReadTranscripts", "DetectLandmarks", "CropMouths", "AnalyzeVocabulary",
                 "WriteTrainClips", "WriteDeadLetters", "WriteManifest", "WriteDatasetCard"):
        assert step in summary["steps"]
    assert summary["direct"] == {"image": IMAGE_GPU, "machine_type": "g2-standard-4",
                                 "service_options": [GPU_OPTION]}
    # --vocabulary: the list is staged beside the output for the transform graph to keep.
    staged = tmp_path / "out" / "tmp_tft" / "fixed_vocabulary" / "word"
    assert staged.read_text() == "bin\nblue\nat\n"


# A template launch submits the pipeline and returns; nothing runs after the pipeline.
_LAUNCH_AND_LEAVE = r"""
import importlib.util, json, os, sys
request = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("launch", request["launch"])
launch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launch)
name, pipeline, output = launch.build_job(request["argv"], {})
pipeline.run().wait_until_finish()  # on Dataflow the launcher would not even wait
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.slow
def test_a_template_run_leaves_a_dataset_card_and_no_scratch_folder(tmp_path):
    out = tmp_path / "out"
    request = {"launch": os.path.join(INFRA, "launch.py"),
               "argv": [f"--input={_manifest(str(tmp_path))}", f"--output={out}",
                        "--runner=DirectRunner", "--direct_running_mode=in_memory"]}
    result = subprocess.run([sys.executable, "-c", _LAUNCH_AND_LEAVE, json.dumps(request)],
                            cwd=REPO, capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    card = json.loads((out / "dataset_info.json").read_text())
    assert card["shards"]["train"] == sorted(os.listdir(out / "train"))
    written = json.loads((out / "manifest.json").read_text())["words"]["written"]
    assert sum(card["splits"][s]["clips"] for s in ("train", "val", "test")) == written > 0
    assert not (out / "tmp_tft").exists()


@pytest.mark.slow
def test_evaluate_graph_builds_for_dataflow(tmp_path):
    """The evaluate template run's parameters (two models as one list) to the job request."""
    from pipelines.preprocess.config import default
    from pipelines.preprocess.mean_face import mean_face
    from schemas.clip import SCHEMA_VERSION
    from schemas.contract import CONTRACT_FILE, CONTRACT_KEY, contract_text, make_contract

    # The launcher checks each model's preprocessing contract against the dataset's.
    contract = make_contract(default().as_dict(), mean_face(), 100.0, 40.0, SCHEMA_VERSION)
    data = tmp_path / "data"
    (data / "test").mkdir(parents=True)
    (data / "test" / "clips-00000-of-00001.tfrecord.gz").write_bytes(b"")
    (data / "dataset_info.json").write_text(json.dumps({CONTRACT_KEY: contract.as_dict()}))
    models = []
    for name in ("m1", "m2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "vocabulary.txt").write_text("bin\nlay\nplace\n")
        (tmp_path / name / CONTRACT_FILE).write_text(contract_text(contract))
        models.append(str(tmp_path / name))
    command = _script("run_job.sh", "evaluate", "gs://b/data", "gs://b/eval", "gs://b/m1,gs://b/m2")
    argv = _launcher_argv(command, {"data": str(data), "model": ",".join(models),
                                    "output": "gs://b/eval"})
    direct = _script("run_job.sh", "evaluate", "--direct", "gs://b/data", "gs://b/eval", "gs://b/m1")
    environ = {launch.WORKER_IMAGE_ENV: "unused-because-the-run-names-one"}
    summary = _dry_run(argv, direct[2:], environ, stub_fan_check=False)
    assert summary["job"] == "evaluate" and summary["runner"] == "DataflowRunner"
    assert summary["environment_images"] == [IMAGE_CPU] == summary["harness_images"]
    assert summary["machine_type"] == "n2-standard-4" and summary["service_options"] == []
    for step in ("ReadClips", "SortClips", "RunInference", "CollectOutcomes", "WriteOutputs"):
        assert step in summary["steps"]
    assert summary["direct"]["image"] == IMAGE_CPU


@pytest.mark.slow
def test_image_check_passes_in_an_install_of_the_lock():
    """The image's offline check, run here against .venv (an install of requirements.lock)."""
    result = subprocess.run([sys.executable, os.path.join(INFRA, "check_image.py"),
                             "--variant", "cpu"], cwd=REPO, capture_output=True, text=True,
                            check=False, timeout=300,
                            env={**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["apache_beam"] == _lock()["apache-beam"]
    assert [model["backend"] for model in summary["landmarks"]] == ["mesh", "dlib"]
    assert summary["ffmpeg"].startswith("ffmpeg version")
