"""Running the lipflow command from tests, and the small training run they share."""

from __future__ import annotations

import subprocess
import sys

SMALL_TRAIN_CLIPS = ("bbaf3s", "bbiz1s", "bgbo1a", "bras9a")
SMALL_VAL_CLIPS = ("lgiz3s", "lriq9a")
SMALL_TRAINING = ["model.width=4", "input.batch_size=8", "input.shuffle_buffer=64"]


def lipflow(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """The lipflow command in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lipflow", *args], capture_output=True,
                          text=True, check=False, timeout=900, **kwargs)
