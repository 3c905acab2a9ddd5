"""Remakes infra/dataflow/requirements-fan.lock: exact pins of the fan extra for the GPU image.

    .venv/bin/python infra/dataflow/lock_fan.py   # on Linux x86_64, Python 3.11; installs nothing

Resolves setup.py's `fan` extra (face-alignment, torch) on PyPI for Linux x86_64 and
Python 3.11 with every package of requirements.lock held at its pin, and writes the
packages it adds. PyPI's torch wheel for Linux carries its CUDA runtime as `nvidia-*`
packages, which is what makes the image GPU-capable. Left out: packaging tools, and
opencv-python, which face-alignment declares but whose cv2 module the lock's
opencv-python-headless already provides (infra/dataflow/image_packages.py accepts that
one unmet requirement).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from image_packages import TOOLS, canonical, read_pins  # noqa: E402  (a script beside it)

LOCK = os.path.join(HERE, "requirements-fan.lock")
LEFT_OUT = frozenset({"opencv-python"})
HEADER = ("# Exact pins of the fan extra for the GPU worker image (Linux x86_64, Python 3.11),\n"
          "# resolved against requirements.lock. Remake with: "
          ".venv/bin/python infra/dataflow/lock_fan.py\n")


def fan_requirements() -> list[str]:
    """setup.py's fan extra, read without running setup.py."""
    import ast

    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "extras_require":
            return list(ast.literal_eval(node.value)["fan"])
    raise ValueError("setup.py has no extras_require['fan']")


def resolve(requirements: list[str], constraints: str) -> dict[str, str]:
    """{name: version} that pip would install for `requirements` on PyPI (a dry run)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "report.json")
        plain = os.path.join(scratch, "constraints.txt")
        with open(constraints, encoding="utf-8") as source, open(plain, "w") as target:
            target.writelines(line for line in source if not line.startswith("#"))
        env = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
        env.pop("PIP_FIND_LINKS", None)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--quiet",
             "--ignore-installed", "--index-url", "https://pypi.org/simple",
             "--only-binary", ":all:", "--report", report, "-c", plain, *requirements],
            check=True, env=env)
        with open(report, encoding="utf-8") as handle:
            installs = json.load(handle)["install"]
    return {i["metadata"]["name"]: i["metadata"]["version"] for i in installs}


def main() -> int:
    if (sys.platform, platform.machine(), sys.version_info[:2]) != ("linux", "x86_64", (3, 11)):
        print("run this on Linux x86_64 with Python 3.11, as the image is: pip resolves for "
              "the machine it runs on", file=sys.stderr)
        return 1
    base = read_pins([os.path.join(ROOT, "requirements.lock")])
    resolved = resolve(fan_requirements(), os.path.join(ROOT, "requirements.lock"))
    added = {name: version for name, version in resolved.items()
             if canonical(name) not in base and canonical(name) not in TOOLS
             and canonical(name) not in LEFT_OUT}
    with open(LOCK, "w", encoding="utf-8") as handle:
        handle.write(HEADER)
        handle.writelines(f"{name}=={added[name]}\n" for name in sorted(added, key=str.lower))
    print(f"wrote {os.path.relpath(LOCK, ROOT)}: {len(added)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
