#!/usr/bin/env bash
# Runs the evaluation job on Dataflow: from its Flex Template (default), or directly from
# this checkout with `lipflow evaluate --runner DataflowRunner` (--direct).
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=infra/dataflow/config.sh
source infra/dataflow/config.sh

MACHINE_TYPE="${MACHINE_TYPE:-n2-standard-4}"
MAX_WORKERS="${MAX_WORKERS:-10}"
DISK_SIZE_GB="${DISK_SIZE_GB:-50}"
LAUNCHER_MACHINE_TYPE="${LAUNCHER_MACHINE_TYPE:-n2-standard-2}"
JOB_NAME="${JOB_NAME:-lipflow-evaluate-$(date -u +%Y%m%d-%H%M%S)}"
LIPFLOW="${LIPFLOW:-.venv/bin/lipflow}"

usage() {
  cat <<EOF
usage: infra/dataflow/run_evaluate.sh [--direct] DATA OUTPUT MODEL[,MODEL...] [FLAG=VALUE ...]

  DATA        gs:// folder that lipflow preprocess wrote
  OUTPUT      gs:// folder for metrics.json, report.html and the rest
  MODEL       gs:// export folder(s) of lipflow train; several (comma-separated) are an ensemble
  FLAG=VALUE  more flags of lipflow evaluate, e.g. split=val tta=flip slice=video_id
  --direct    submit from this checkout with ${LIPFLOW} (waits for the job) instead of the
              Flex Template ${TEMPLATES}/evaluate.json
Environment: PROJECT, REGION, BUCKET, TAG, SERVICE_ACCOUNT, MACHINE_TYPE, MAX_WORKERS
(see infra/dataflow/config.sh), DRY_RUN=1.
EOF
}

DIRECT=0
while [[ $# -gt 0 && "$1" == -* ]]; do
  case "$1" in
    --direct) DIRECT=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
if [[ $# -lt 3 ]]; then
  usage >&2
  exit 2
fi
DATA="$1"
OUTPUT="$2"
MODELS="$3"
shift 3
require_project

if [[ "$DIRECT" == 1 ]]; then
  args=(evaluate --data "$DATA" --output "$OUTPUT")
  IFS=, read -r -a models <<< "$MODELS"
  for model in "${models[@]}"; do
    args+=(--model "$model")
  done
  args+=(--runner DataflowRunner --project "$PROJECT" --region "$REGION" --job_name "$JOB_NAME"
         --temp_location "gs://${BUCKET}/tmp" --staging_location "gs://${BUCKET}/staging"
         --service_account_email "$SERVICE_ACCOUNT" --sdk_container_image "$IMAGE_CPU"
         --machine_type "$MACHINE_TYPE" --max_num_workers "$MAX_WORKERS"
         --disk_size_gb "$DISK_SIZE_GB")
  for flag in "$@"; do
    args+=("--${flag}")
  done
  run "$LIPFLOW" "${args[@]}"
else
  # "^~^" makes "~" the separator between parameters, so values may hold commas.
  parameters="^~^data=${DATA}~output=${OUTPUT}~model=${MODELS}~sdk_container_image=${IMAGE_CPU}"
  parameters+="~disk_size_gb=${DISK_SIZE_GB}"
  for flag in "$@"; do
    parameters+="~${flag}"
  done
  run gcloud dataflow flex-template run "$JOB_NAME" \
    --project "$PROJECT" --region "$REGION" \
    --template-file-gcs-location "${TEMPLATES}/evaluate.json" \
    --service-account-email "$SERVICE_ACCOUNT" \
    --staging-location "gs://${BUCKET}/staging" --temp-location "gs://${BUCKET}/tmp" \
    --worker-machine-type "$MACHINE_TYPE" --max-workers "$MAX_WORKERS" \
    --launcher-machine-type "$LAUNCHER_MACHINE_TYPE" \
    --parameters "$parameters"
fi
