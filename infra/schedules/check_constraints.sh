#!/usr/bin/env bash
# Asks pip's resolver (a dry run: nothing is installed) whether the schedulers' declared
# requirements can be met together with the core stack's protobuf pin, one scheduler at a
# time (Airflow and kfp run on different machines). Writes what pip chose, name -> version,
# to resolved-NAME.json next to this file (pip's full report, reduced), and the same as
# exact pins to NAME.lock, which `make schedulers` installs for the tests.
#   bash infra/schedules/check_constraints.sh [PYTHON]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${1:-python3}"
PROTOBUF="$(grep -i '^protobuf==' "$HERE/../../requirements.lock")"
check() {
  local name="$1"; shift
  "$PYTHON" -m pip install --dry-run --ignore-installed --quiet --report "$HERE/resolved-$name.json" \
    "$PROTOBUF" "$@"
  "$PYTHON" - "$HERE/resolved-$name.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
versions = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}
summary = {"pip": report["pip_version"], "python": report["environment"]["python_version"],
           "requested": report["install"] and [i["metadata"]["name"] for i in report["install"]
                                               if i.get("requested")],
           "resolved": dict(sorted(versions.items()))}
json.dump(summary, open(sys.argv[1], "w"), indent=1)
name = sys.argv[1].rsplit("resolved-", 1)[1][:-len(".json")]
with open(sys.argv[1].replace(f"resolved-{name}.json", f"{name}.lock"), "w") as lock:
    lock.write(f"# Exact pins of the {name} scheduler's own environment (Python "
               f"{summary['python']}), from resolved-{name}.json.\n"
               f"# Remade by infra/schedules/check_constraints.sh; installed by `make "
               f"schedulers` into .venv-{name}/.\n")
    lock.writelines(f"{k}=={v}\n" for k, v in summary["resolved"].items())
print(f"{sys.argv[1]}: {len(versions)} packages; protobuf {versions.get('protobuf')}")
PY
}
check airflow $(grep -i '^apache-airflow' "$HERE/requirements.txt")
check kfp $(grep -i '^kfp' "$HERE/requirements.txt")
