"""Makes and proves the worker image's Python packages exactly the locked ones.

    python infra/dataflow/image_packages.py prune --variant cpu   # uninstall what no lock pins
    python infra/dataflow/image_packages.py check --variant cpu   # exit 1 unless exact

Beam's SDK image comes with packages of its own (scikit-learn, hdfs, an older numpy, ...).
Installing requirements.lock over it with --no-deps sets every pinned package to its pin;
`prune` then removes the rest, so a worker runs with the same packages as a local
install from the lock, and `check` fails the build if any package is missing, at another
version, unpinned, or has an unmet requirement (`pip check`). The fan variant adds
infra/dataflow/requirements-fan.lock (torch with its CUDA runtime, face-alignment).

Run from the repository root (the image's /template).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib import metadata

LOCKS = {
    "cpu": ("requirements.lock",),
    "fan": ("requirements.lock", "infra/dataflow/requirements-fan.lock"),
}
# Packaging tools: no lock pins them (pip freeze leaves them out); the image keeps its own.
TOOLS = frozenset({"pip", "setuptools", "wheel"})
PROJECT = "lipflow"
# (package, requirement) pairs that `pip check` may report: face-alignment declares the
# GUI build of OpenCV; lipflow installs the headless build, which provides the same cv2
# module without X11 libraries (installing both would overwrite one cv2 with the other).
ACCEPTED_UNMET = frozenset({("face-alignment", "opencv-python")})
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)$")
_UNMET = re.compile(r"^(?P<package>\S+) \S+ requires (?P<requirement>[^,\s]+), which is not "
                    r"installed\.$")


def canonical(name: str) -> str:
    """PEP 503 normalised name: Jaraco.Classes -> jaraco-classes."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(paths) -> dict[str, str]:
    """{canonical name: version} over lock files; ValueError on anything but exact pins."""
    pins: dict[str, str] = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                match = _PIN.match(line)
                if not match:
                    raise ValueError(f"{path}:{number}: not an exact pin: {line!r}")
                name, version = canonical(match["name"]), match["version"]
                if pins.get(name, version) != version:
                    raise ValueError(
                        f"{path}:{number}: {name} pinned at {pins[name]} and {version}")
                pins[name] = version
    return pins


def installed() -> dict[str, str]:
    """{canonical name: version} of the distributions this interpreter sees."""
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def unpinned(present: dict[str, str], pins: dict[str, str]) -> list[str]:
    """Installed packages that no lock pins (tools and lipflow itself aside)."""
    return sorted(n for n in present if n not in pins and n not in TOOLS and n != PROJECT)


def mismatched(present: dict[str, str], pins: dict[str, str]) -> list[str]:
    """Pins that are missing or installed at another version, as readable lines."""
    lines = []
    for name, version in sorted(pins.items()):
        if name not in present:
            lines.append(f"{name}=={version} is not installed")
        elif present[name] != version:
            lines.append(f"{name} is {present[name]}, the lock says {version}")
    return lines


def unmet_requirements(pip_check_output: str) -> list[str]:
    """`pip check` complaints, less the accepted ones."""
    problems = []
    for line in pip_check_output.splitlines():
        line = line.strip()
        if not line or line.startswith("No broken requirements"):
            continue
        match = _UNMET.match(line)
        if match and (canonical(match["package"]),
                      canonical(match["requirement"])) in ACCEPTED_UNMET:
            continue
        problems.append(line)
    return problems


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          check=False)


def prune(pins: dict[str, str]) -> int:
    extra = unpinned(installed(), pins)
    if extra:
        print(f"removing {len(extra)} packages that no lock pins: {' '.join(extra)}")
        result = _pip("uninstall", "--yes", *extra)
        if result.returncode != 0:
            print(result.stdout + result.stderr, file=sys.stderr)
            return 1
    return 0


def check(pins: dict[str, str]) -> int:
    present = installed()
    problems = mismatched(present, pins)
    problems += [f"{name} is installed but no lock pins it" for name in unpinned(present, pins)]
    if PROJECT not in present:
        problems.append("lipflow itself is not installed")
    problems += unmet_requirements(_pip("check").stdout)
    for line in problems:
        print(f"image packages: {line}", file=sys.stderr)
    if not problems:
        print(f"image packages: {len(pins)} pinned packages at their pins, nothing else")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("prune", "check"))
    parser.add_argument("--variant", choices=tuple(LOCKS), default="cpu")
    args = parser.parse_args(argv)
    pins = read_pins(LOCKS[args.variant])
    return prune(pins) if args.action == "prune" else check(pins)


if __name__ == "__main__":
    sys.exit(main())
