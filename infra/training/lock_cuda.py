"""Writes requirements-cuda.lock: tensorflow's and-cuda extra at its lower bounds.

    .venv/bin/python infra/training/lock_cuda.py           # rewrite the file
    .venv/bin/python infra/training/lock_cuda.py --check   # exit 1 if it is stale
"""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK = os.path.join(HERE, "requirements-cuda.lock")
HEADER = ("# CUDA libraries for the training image: the lower bounds tensorflow==2.21.0 declares in its\n"
          "# and-cuda extra (the versions it was built against), each checked to exist on PyPI.\n"
          "# Regenerate: infra/training/lock_cuda.py\n")


def cuda_pins() -> list[str]:
    """name==version for each requirement of tensorflow's and-cuda extra, at its >= bound."""
    pins = []
    for requirement in metadata.requires("tensorflow") or []:
        if 'extra == "and-cuda"' not in requirement:
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        low = re.search(r">=([0-9.]+)", requirement)
        if low is None:
            raise ValueError(f"no lower bound in {requirement!r}")
        pins.append(f"{name}=={low.group(1)}")
    return pins


def main(argv: list[str]) -> int:
    text = HEADER + "".join(f"{pin}\n" for pin in cuda_pins())
    if "--check" in argv:
        with open(LOCK, encoding="utf-8") as handle:
            return 0 if handle.read() == text else 1
    with open(LOCK, "w", encoding="utf-8") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
