"""The model registry, WORKDIR/registry/: every version trained, and which one serves.

  registry/registry.json   {"production": VERSION or null, "versions": {VERSION: record}}
  registry/VERSION/train/  lipflow train's run (export/ is the model)
  registry/VERSION/evaluation/{candidate,production}/  both models on the same clips

A record holds the version's status (production, retired, refused), its metrics, the gate's
paired comparison, the data it saw (batches, video count, one hash over their SHA-256s),
the code version and the configs. Refused candidates are kept, marked so.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess

REGISTRY_DIR = "registry"
REGISTRY_FILE = "registry.json"
PRODUCTION, RETIRED, REFUSED = "production", "retired", "refused"


def registry_dir(workdir: str) -> str:
    return os.path.join(workdir, REGISTRY_DIR)


def load_registry(workdir: str) -> dict:
    path = os.path.join(registry_dir(workdir), REGISTRY_FILE)
    if not os.path.exists(path):
        return {"production": None, "versions": {}}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_registry(workdir: str, registry: dict) -> None:
    """Writes the registry atomically (synced, then renamed over the old one)."""
    from pipelines.atomic_write import write_json_atomically

    write_json_atomically(os.path.join(registry_dir(workdir), REGISTRY_FILE), registry)


def version_dir(workdir: str, version: str) -> str:
    return os.path.join(registry_dir(workdir), version)


def export_of(workdir: str, version: str) -> str:
    return os.path.join(version_dir(workdir, version), "train", "export")


def production_export(workdir: str) -> str | None:
    """The production model's export folder, or None before the first promotion."""
    production = load_registry(workdir)["production"]
    return export_of(workdir, production) if production else None


def code_version() -> dict:
    """lipflow's version and, when run from a git checkout, its commit and whether it has
    uncommitted changes."""
    from importlib import metadata

    try:
        __version__ = metadata.version("lipflow")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        __version__ = ""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = {"lipflow": __version__, "git_commit": "", "git_dirty": None}
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return found  # an installed package without its repository
    return {**found, "git_commit": commit, "git_dirty": bool(status.strip())}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def record_decision(workdir: str, record: dict, promote: bool) -> dict:
    """Adds `record` (a decided version) to the registry; on promotion it becomes
    production and the previous one is retired. Returns the registry."""
    registry = load_registry(workdir)
    version = record["version"]
    if promote:
        if registry["production"]:
            registry["versions"][registry["production"]]["status"] = RETIRED
        registry["production"] = version
    registry["versions"][version] = {**record, "status": PRODUCTION if promote else REFUSED,
                                     "decided_at": now()}
    save_registry(workdir, registry)
    return registry


def status_text(registry: dict) -> str:
    """The registry as a table a person reads (`lipflow retrain --status`)."""
    if not registry["versions"]:
        return "lipflow retrain: the registry is empty (no cycle has finished)"
    lines = [f"production: {registry['production'] or 'none'}",
             f"{'version':8s} {'status':10s} {'top-1':>6s} {'prod':>6s} {'delta':>7s} "
             f"{'p':>7s} {'clips':>5s} {'videos':>6s}  decided / data"]
    for version, record in sorted(registry["versions"].items()):
        gate = record.get("gate", {})
        delta = gate.get("top1_delta")
        p_value = gate.get("mcnemar_p_one_sided")
        lines.append(
            f"{version:8s} {record['status']:10s} {record['metrics']['top1']:6.3f} "
            f"{_number(gate.get('production_top1'), '6.3f')} {_number(delta, '+7.3f')} "
            f"{_number(p_value, '7.4f')} {record['metrics']['scored']:5d} "
            f"{record['data']['videos']:6d}  {record['decided_at']} "
            f"{record['data']['sha256'][:12]}")
        lines.append(f"{'':8s} {gate.get('reason', '')}")
    return "\n".join(lines)


def _number(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else format("-", ">" + spec.lstrip("+").split(".")[0])
