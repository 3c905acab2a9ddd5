"""`lipflow retrain` as a Python file, for schedulers that run a Beam pipeline from a file
(Airflow's BeamRunPythonPipelineOperator runs `python retrain_step.py --flag=value ...`).

It is the same command: every flag goes to `lipflow retrain` unchanged.
"""

import sys

from lipflow.cli import run

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "retrain", *sys.argv[1:]]
    run()
