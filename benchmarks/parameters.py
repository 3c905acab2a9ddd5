"""Parameter counts of every model in the family, as docs/commands/train.md quotes them.

    python benchmarks/parameters.py [--output benchmarks/results/parameters.json]

Builds each model with Keras (no training, no data) for the settings the docs name:
width 64 with 500 words and 29 frames of 88x88 (the LRW baseline), and the `grid` preset
(its width, input frames and size, 51 words), and prints one line per model and setting.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.bench_utils import stdout_to_stderr, write_result  # noqa: E402

GRID_WORDS = 51
LRW_WORDS = 500
WINDOW = 29  # frames per clip the preprocess job writes by default


def settings() -> dict[str, dict]:
    """Named model settings: the LRW baseline and the `grid` preset."""
    from trainer.config import preset

    grid = preset("grid")
    return {
        "lrw_width64": {"classes": LRW_WORDS, "frames": WINDOW, "size": 88, "width": 64,
                        "use_boundary_mask": True},
        "grid_preset": {"classes": GRID_WORDS, "frames": grid.input.model_frames(WINDOW),
                        "size": grid.input.model_size, "width": grid.model.width,
                        "use_boundary_mask": grid.model.use_boundary_mask},
    }


def count(name: str, setting: dict) -> int:
    from trainer.models import build_model

    model = build_model(name, setting["classes"], frames=setting["frames"],
                        size=setting["size"], width=setting["width"],
                        use_boundary_mask=setting["use_boundary_mask"])
    return int(model.count_params())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(HERE, "results", "parameters.json"))
    args = parser.parse_args(argv)
    with stdout_to_stderr():
        from trainer.models import MODELS

        named = settings()
        counts = {label: {name: count(name, setting) for name in MODELS}
                  for label, setting in named.items()}
    result = {"benchmark": "parameter counts",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "settings": named, "parameters": counts}
    for label, models in counts.items():
        print(f"{label}: " + ", ".join(f"{name} {value / 1e6:.2f}M"
                                       for name, value in models.items()))
    write_result(args.output, result, indent=2, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
