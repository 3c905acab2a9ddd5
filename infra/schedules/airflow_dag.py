"""Airflow DAG: the nightly retraining cycle as four tasks of the same `lipflow retrain`.

  preprocess_new_videos (BeamRunPythonPipelineOperator: finds new videos, runs the
  preprocess job on them) -> rebuild_dataset (BeamRunPythonPipelineOperator: the dataset
  job) -> train_candidate (BashOperator) -> evaluate_and_gate (BeamRunPythonPipelineOperator:
  the evaluation jobs, then the paired gate and the registry)

Each task runs `lipflow retrain --until STEP`, which resumes from WORKDIR/state.json and
stops after its step, so a retried task never repeats finished work and a day with no new
video makes every task a no-op. Settings come from Airflow Variables (see `_setting`).
Requires infra/schedules/requirements.txt on the Airflow workers, and lipflow itself.
"""

from __future__ import annotations

import datetime
import os

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Variable

STEP_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "retrain_step.py")
DEFAULTS = {"lipflow_input": "/data/broadcasts", "lipflow_workdir": "/data/lipflow-retrain",
            "lipflow_config": "grid", "lipflow_margin": "0.01", "lipflow_python": "python3"}


def _setting(name: str) -> str:
    return Variable.get(name, default=DEFAULTS[name])


def retrain_options(until: str) -> dict:
    """`lipflow retrain` flags as the Beam operator's pipeline_options (--key=value)."""
    options = {"input": _setting("lipflow_input"), "workdir": _setting("lipflow_workdir"),
               "config": _setting("lipflow_config"), "margin": _setting("lipflow_margin")}
    if until:
        options["until"] = until
    return options


def _beam_step(task_id: str, until: str) -> BeamRunPythonPipelineOperator:
    return BeamRunPythonPipelineOperator(
        task_id=task_id, py_file=STEP_FILE, runner="DirectRunner",
        py_interpreter=_setting("lipflow_python"), pipeline_options=retrain_options(until))


with DAG(dag_id="lipflow_retrain", schedule="30 2 * * *", catchup=False,
         start_date=datetime.datetime(2026, 1, 1), max_active_runs=1,
         default_args={"retries": 2, "retry_delay": datetime.timedelta(minutes=10)},
         tags=["lipflow"]) as dag:
    preprocess = _beam_step("preprocess_new_videos", "preprocessed")
    dataset = _beam_step("rebuild_dataset", "dataset_built")
    options = retrain_options("trained")
    train = BashOperator(
        task_id="train_candidate",
        bash_command=" ".join([_setting("lipflow_python"), STEP_FILE]
                              + [f"--{key}={value}" for key, value in options.items()]))
    gate = _beam_step("evaluate_and_gate", "")
    preprocess >> dataset >> train >> gate
