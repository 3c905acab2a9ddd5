"""One retraining cycle, resumable step by step:

  list inputs -> new videos (state.json) -> preprocess them into batches/BATCH
  -> rebuild datasets/VERSION from every batch -> train registry/VERSION (warm start
  from production) -> evaluate candidate and production on the same split of that dataset
  -> paired gate -> registry (promoted or refused; a promoted model is also scored once on
  the test split, which the gate never sees)

Each step records its completion in the state file before the next starts; a rerun
after a kill skips the finished steps (training itself resumes from its last epoch).
A cycle with no new video does nothing. One run at a time holds the work folder (lock.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
from dataclasses import dataclass

from pipelines.retrain import registry as registry_lib
from pipelines.retrain import state as state_lib
from pipelines.retrain.gate import GateConfig, compare, paired_outcomes
from schemas.layout import DATASET_INFO_FILE

BATCHES_DIR = "batches"
DATASETS_DIR = "datasets"
NOTHING_NEW, NO_CLIPS, PROMOTED, REFUSED, PAUSED = (
    "nothing_new", "no_clips", "promoted", "refused", "paused")
UNTIL_STEPS = ("preprocessed", "dataset_built", "trained", "evaluated")
# Tests set this to a step name (or "gated": the registry written, the state not yet) to
# have the run kill itself there, as a crash would, without racing it from outside.
KILL_AFTER_ENV = "LIPFLOW_TEST_KILL_AFTER"
# Flags retrain sets itself for each batch.
_OWN_PREPROCESS_FLAGS = ("--input", "--output", "--vocabulary")
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainConfig:
    """train_config: a trainer preset; train_overrides: its KEY=VALUE overrides; gate_split:
    the split both models are compared on (val: test stays unseen until a model is promoted);
    warm_start: start the candidate from production; preprocess_args: preprocess flags (and
    Beam flags) for every batch, fixed at the first cycle (those it does not know are
    Beam's, for every pipeline); keep: how many dataset versions to keep (0: all)."""

    train_config: str = "demo"
    train_overrides: tuple[str, ...] = ()
    gate: GateConfig = GateConfig()
    gate_split: str = "val"
    warm_start: bool = True
    preprocess_args: tuple[str, ...] = ()
    until: str = ""  # stop after this step (a scheduler runs the steps as separate tasks)
    keep: int = 0

    def __post_init__(self):
        from pipelines.preprocess.splits import SPLITS

        if self.until and self.until not in UNTIL_STEPS:
            raise ValueError(f"until must be one of {UNTIL_STEPS}, got {self.until!r}")
        if self.gate_split not in SPLITS:
            raise ValueError(f"gate_split must be one of {SPLITS}, got {self.gate_split!r}")
        if self.keep < 0:
            raise ValueError(f"keep must be >= 0 (0 keeps every dataset), got {self.keep}")
        own = [a for a in self.preprocess_args if a.split("=")[0] in _OWN_PREPROCESS_FLAGS]
        if own:
            raise ValueError(f"lipflow retrain sets {own} itself for each batch; leave them out")

    @property
    def beam_args(self) -> tuple[str, ...]:
        return tuple(split_preprocess_args(self.preprocess_args)[1])

    def train(self):
        from trainer import config as config_lib

        return config_lib.with_overrides(config_lib.preset(self.train_config),
                                         list(self.train_overrides))


def _beam_options(args: tuple[str, ...]):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.preprocess.job import default_direct_options

    return PipelineOptions(default_direct_options(list(args)))


def _vocabulary_source(workdir: str, state: dict) -> str:
    """What new batches are labelled with: production's export, else the first batch."""
    production = registry_lib.production_export(workdir)
    if production:
        return production
    done = sorted(b for b, r in state["batches"].items() if r["preprocessed"] and r["clips"])
    return os.path.join(workdir, BATCHES_DIR, done[0]) if done else ""


def _save(workdir: str, state: dict, step: str) -> None:
    state["cycle"]["step"] = step
    state_lib.save_state(workdir, state)
    _LOG.info("retrain %s: %s", state["cycle"]["version"], step)
    _kill_if_asked(step)


def _kill_if_asked(step: str) -> None:
    if os.environ.get(KILL_AFTER_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def split_preprocess_args(args: tuple[str, ...]) -> tuple[dict, list[str]]:
    """(PreprocessConfig fields, the rest: Beam's flags) of retrain's extra flags.

    Parsed here rather than through the preprocess job's PipelineOptions class: Beam
    parses every imported options class for every pipeline, and that one requires
    --input and --output, which the dataset and evaluation pipelines do not have.
    """
    import argparse

    from pipelines.preprocess.config import PreprocessConfig
    from pipelines.preprocess.flags import add_preprocess_arguments

    parser = argparse.ArgumentParser(prog="lipflow retrain", add_help=False)
    add_preprocess_arguments(parser, required=False)
    known, rest = parser.parse_known_args(list(args))
    fields = {f.name: getattr(known, f.name) for f in dataclasses.fields(PreprocessConfig)}
    return fields, rest


def preprocess_batch(workdir: str, state: dict, input_path: str, config: RetrainConfig) -> dict:
    """Runs the preprocess job on the open batch's videos; the manifest it wrote."""
    from pipelines.preprocess import job
    from pipelines.preprocess.config import PreprocessConfig

    batch = state["cycle"]["batch"]
    output = os.path.join(workdir, BATCHES_DIR, batch)
    if os.path.exists(output):
        shutil.rmtree(output)  # what a killed run left half written
    fields, beam_args = split_preprocess_args(config.preprocess_args)
    preprocess_config = PreprocessConfig(**{**fields,
                                            "vocabulary": _vocabulary_source(workdir, state)})
    options = _beam_options(tuple(beam_args))
    return job.run(state_lib.batch_listing(state, batch), preprocess_config, input_path, output,
                   options)


def _open_cycle(workdir: str, state: dict, input_path: str, config: RetrainConfig) -> bool:
    """Opens a cycle for the videos no batch has processed; False when there are none."""
    from pipelines.preprocess.inputs import list_inputs

    # Beam's flags (runner, workers) may change from run to run; the job's may not.
    fields, _ = split_preprocess_args(config.preprocess_args)
    if state["preprocess_args"] is None:
        state["preprocess_args"] = fields
    elif state["preprocess_args"] != fields:
        changed = sorted(k for k in fields if fields[k] != state["preprocess_args"].get(k))
        raise ValueError(
            f"preprocess settings {changed} differ from the first cycle's: they decide "
            "splits and clips, so every batch must use the same (start a new --workdir to "
            "change them)")
    listing = list_inputs(input_path)
    found = state_lib.new_videos(listing, state)
    if not found:
        state_lib.save_state(workdir, state)  # fingerprints, so the next look is cheaper
        return False
    batch = state_lib.open_batch(state, found, listing.orphan_transcripts)
    number = len(state.get("cycles", [])) + 1
    state["cycle"] = {"version": f"v{number:04d}", "batch": batch, "step": "opened",
                      "input": input_path, "opened_at": registry_lib.now(),
                      "production": registry_lib.load_registry(workdir)["production"]}
    _LOG.info("retrain: %d new videos -> %s", len(found), batch)
    _save(workdir, state, "opened")
    return True


def _batches_with_clips(workdir: str, state: dict) -> dict[str, str]:
    return {b: os.path.join(workdir, BATCHES_DIR, b) for b, r in state["batches"].items()
            if r["preprocessed"] and r["clips"]}


def _evaluate(export: str, data: str, output: str, config: RetrainConfig,
              baseline: str = "", split: str = "") -> dict:
    from pipelines.evaluate import job as evaluate_job
    from pipelines.evaluate.config import EvaluateConfig

    evaluate_config = EvaluateConfig(models=(export,), split=split or config.gate_split,
                                     baseline=baseline)
    return evaluate_job.run(evaluate_config, data, output, _beam_options(config.beam_args))


def _read_predictions(folder: str) -> list[dict]:
    from pipelines.evaluate.job import PREDICTIONS_FILE

    with open(os.path.join(folder, PREDICTIONS_FILE), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _steps_done(state: dict, step: str) -> bool:
    return state_lib.STEPS.index(state["cycle"]["step"]) >= state_lib.STEPS.index(step)


def _pause(state: dict, config: RetrainConfig, step: str) -> dict | None:
    """The result to stop with when the run was asked to go no further than `step`."""
    if config.until != step:
        return None
    return {"outcome": PAUSED, "version": state["cycle"]["version"],
            "batch": state["cycle"]["batch"], "step": step}


def check_workdir(workdir: str) -> None:
    """ValueError for a work folder retrain cannot hold: the state, registry and lock need
    a file system with renames and locks, which an object store URL is not."""
    if "://" in workdir:
        raise ValueError(
            f"--workdir {workdir!r} is an object store URL; retrain keeps its state, registry "
            "and lock in a local or mounted folder (mount the bucket, e.g. with Cloud Storage "
            "FUSE, and give its path). --input and the Beam jobs may still read gs:// paths")


def run_cycle(input_path: str, workdir: str, config: RetrainConfig) -> dict:
    """Runs (or resumes) one cycle under the work folder's lock; {"outcome": nothing_new |
    no_clips | promoted | refused | paused, "version", "batch", ...}. WorkdirBusy when
    another run holds the folder."""
    from pipelines.retrain.lock import workdir_lock

    check_workdir(workdir)
    with workdir_lock(workdir):
        result = _run_cycle(input_path, workdir, config)
        if config.keep:
            prune_datasets(workdir, config.keep)
    return result


def prune_datasets(workdir: str, keep: int) -> list[str]:
    """Deletes all but the `keep` newest datasets/VERSION folders (never production's);
    the versions deleted. Batches stay: every dataset can be rebuilt from them."""
    folder = os.path.join(workdir, DATASETS_DIR)
    if not os.path.isdir(folder):
        return []
    production = registry_lib.load_registry(workdir)["production"]
    versions = sorted(os.listdir(folder))
    doomed = [v for v in versions[:-keep] if v != production]
    for version in doomed:
        shutil.rmtree(os.path.join(folder, version))
        _LOG.info("retrain: pruned dataset %s (--keep %d)", version, keep)
    return doomed


def _run_cycle(input_path: str, workdir: str, config: RetrainConfig) -> dict:
    state = state_lib.load_state(workdir)
    if state["cycle"] is None and not _open_cycle(workdir, state, input_path, config):
        return {"outcome": NOTHING_NEW}
    cycle = state["cycle"]
    version, batch = cycle["version"], cycle["batch"]
    if not _steps_done(state, "preprocessed"):
        manifest = preprocess_batch(workdir, state, cycle["input"], config)
        state["batches"][batch].update(preprocessed=True, clips=manifest["words"]["written"],
                                       words=manifest["words"])
        _save(workdir, state, "preprocessed")
    if state["batches"][batch]["clips"] and _pause(state, config, "preprocessed"):
        return _pause(state, config, "preprocessed")
    if not state["batches"][batch]["clips"]:
        return _close(workdir, state, {"outcome": NO_CLIPS, "version": version, "batch": batch})
    dataset = os.path.join(workdir, DATASETS_DIR, version)
    if not _steps_done(state, "dataset_built"):
        from pipelines.retrain.merge_datasets import merge_batches

        merge_batches(_batches_with_clips(workdir, state), dataset,
                      _beam_options(config.beam_args))
        _save(workdir, state, "dataset_built")
    if _pause(state, config, "dataset_built"):
        return _pause(state, config, "dataset_built")
    return _train_and_decide(workdir, state, dataset, config)


def _train_and_decide(workdir: str, state: dict, dataset: str, config: RetrainConfig) -> dict:
    from trainer.train import train

    version = state["cycle"]["version"]
    decided = registry_lib.load_registry(workdir)["versions"].get(version)
    if decided:  # killed after the registry was written, before the state was
        outcome = PROMOTED if decided["status"] != registry_lib.REFUSED else REFUSED
        return _close(workdir, state, {"outcome": outcome, "version": version,
                                       "batch": state["cycle"]["batch"],
                                       "gate": decided["gate"]})
    folder = registry_lib.version_dir(workdir, version)
    production = state["cycle"]["production"]
    warm = registry_lib.export_of(workdir, production) if production and config.warm_start else None
    summary_path = os.path.join(folder, "train", "train_summary.json")
    if not _steps_done(state, "trained"):
        if not os.path.exists(summary_path):  # else a kill came after training finished
            train(dataset, config.train(), os.path.join(folder, "train"), warm)
        _save(workdir, state, "trained")
    if _pause(state, config, "trained"):
        return _pause(state, config, "trained")
    candidate_dir = os.path.join(folder, "evaluation", "candidate")
    production_dir = os.path.join(folder, "evaluation", "production")
    if not _steps_done(state, "evaluated"):
        baseline = ""
        if production:
            _evaluate(registry_lib.export_of(workdir, production), dataset, production_dir,
                      config)
            baseline = os.path.join(production_dir, "metrics.json")
        _evaluate(registry_lib.export_of(workdir, version), dataset, candidate_dir, config,
                  baseline)
        _save(workdir, state, "evaluated")
    if _pause(state, config, "evaluated"):
        return _pause(state, config, "evaluated")
    with open(os.path.join(candidate_dir, "metrics.json"), encoding="utf-8") as handle:
        metrics = json.load(handle)
    with open(summary_path, encoding="utf-8") as handle:
        summary = json.load(handle)
    if production:
        candidate, baseline, clips, unpaired = paired_outcomes(
            _read_predictions(candidate_dir), _read_predictions(production_dir))
        if not clips:
            raise ValueError(f"no {config.gate_split} clip was scored by both models; the "
                             "gate cannot compare them")
        gate = {**compare(candidate, baseline, config.gate), "unpaired": unpaired,
                "production_version": production}
    else:
        gate = {"promote": True, "reason": "first model: no production model to compare with"}
    record = _version_record(workdir, state, dataset, config, metrics, summary, gate, warm)
    if gate["promote"]:
        record["metrics"]["test"] = _test_scores(workdir, version, dataset, config, metrics)
    registry_lib.record_decision(workdir, record, gate["promote"])
    _kill_if_asked("gated")
    outcome = PROMOTED if gate["promote"] else REFUSED
    return _close(workdir, state, {"outcome": outcome, "version": version,
                                   "batch": state["cycle"]["batch"], "gate": gate})


def _scores(metrics: dict) -> dict:
    return {"top1": metrics["top1"]["value"],
            "top1_ci": [metrics["top1"]["ci_low"], metrics["top1"]["ci_high"]],
            "top5": metrics["top5"], "scored": metrics["counts"]["scored"]}


def _test_scores(workdir: str, version: str, dataset: str, config: RetrainConfig,
                 gate_metrics: dict) -> dict | None:
    """The promoted model's scores on the test split, once (None when it has no clips)."""
    if config.gate_split == "test":
        return _scores(gate_metrics)
    with open(os.path.join(dataset, DATASET_INFO_FILE), encoding="utf-8") as handle:
        if not json.load(handle)["splits"]["test"]["clips"]:
            return None
    output = os.path.join(registry_lib.version_dir(workdir, version), "evaluation", "test")
    return _scores(_evaluate(registry_lib.export_of(workdir, version), dataset, output, config,
                             split="test"))


def _version_record(workdir: str, state: dict, dataset: str, config: RetrainConfig,
                    metrics: dict, summary: dict, gate: dict, warm: str | None) -> dict:
    batches = sorted(_batches_with_clips(workdir, state))
    version = state["cycle"]["version"]
    return {
        "version": version, "created_at": state["cycle"]["opened_at"],
        "export": registry_lib.export_of(workdir, version),
        "metrics": {"split": config.gate_split, **_scores(metrics),
                    "validation": summary["validation"]},
        "gate": gate,
        "data": {"dataset": dataset, "batches": batches, "new_batch": state["cycle"]["batch"],
                 "videos": sum(len(state["batches"][b]["sha256"]) for b in batches),
                 "sha256": state_lib.data_hash(state, batches),
                 "video_sha256": sorted(d for b in batches
                                        for d in state["batches"][b]["sha256"])},
        "code": registry_lib.code_version(),
        "config": {"train_preset": config.train_config, "train": summary["config"],
                   "preprocess_args": state["preprocess_args"],
                   "gate": dataclasses.asdict(config.gate), "gate_split": config.gate_split,
                   "warm_start": warm},
    }


def _close(workdir: str, state: dict, result: dict) -> dict:
    state["cycle"]["step"] = "decided"
    state.setdefault("cycles", []).append({**state["cycle"], "outcome": result["outcome"],
                                           "closed_at": registry_lib.now()})
    state["cycle"] = None
    state_lib.save_state(workdir, state)
    return result
