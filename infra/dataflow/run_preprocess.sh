#!/usr/bin/env bash
# Runs the preprocess job on Dataflow: from its Flex Template (default), or directly from
# this checkout with `lipflow preprocess --runner DataflowRunner` (--direct).
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=infra/dataflow/config.sh
source infra/dataflow/config.sh

MACHINE_TYPE="${MACHINE_TYPE:-n2-standard-4}"        # CPU workers (dlib landmarks)
MAX_WORKERS="${MAX_WORKERS:-20}"
DISK_SIZE_GB="${DISK_SIZE_GB:-50}"                    # room for the image (GPU: about 15 GB)
LAUNCHER_MACHINE_TYPE="${LAUNCHER_MACHINE_TYPE:-n2-standard-2}"
JOB_NAME="${JOB_NAME:-lipflow-preprocess-$(date -u +%Y%m%d-%H%M%S)}"
LIPFLOW="${LIPFLOW:-.venv/bin/lipflow}"

usage() {
  cat <<EOF
usage: infra/dataflow/run_preprocess.sh [--fan] [--direct] INPUT OUTPUT [FLAG=VALUE ...]

  INPUT       a CSV or JSON Lines manifest whose video and transcript columns hold gs://
              paths: a gs:// file for a template run, a local file with --direct
  OUTPUT      gs:// folder for the dataset
  FLAG=VALUE  more flags of lipflow preprocess, e.g. augment_copies=1 vocab_size=500
  --fan       FAN landmarks on GPU workers: the GPU image, ${GPU_TYPE} on ${GPU_MACHINE_TYPE}
  --direct    submit from this checkout with ${LIPFLOW} (waits for the job, then writes
              dataset_info.json) instead of the Flex Template at ${TEMPLATES}/
Environment: PROJECT, REGION, BUCKET, TAG, SERVICE_ACCOUNT, MACHINE_TYPE, MAX_WORKERS,
GPU_TYPE, GPU_MACHINE_TYPE (see infra/dataflow/config.sh), DRY_RUN=1.
EOF
}

FAN=0
DIRECT=0
while [[ $# -gt 0 && "$1" == -* ]]; do
  case "$1" in
    --fan) FAN=1 ;;
    --direct) DIRECT=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
if [[ $# -lt 2 ]]; then
  usage >&2
  exit 2
fi
INPUT="$1"
OUTPUT="$2"
shift 2
require_project

IMAGE="$IMAGE_CPU"
TEMPLATE="${TEMPLATES}/preprocess.json"
FLAGS=("$@")
if [[ "$FAN" == 1 ]]; then
  IMAGE="$IMAGE_GPU"
  TEMPLATE="${TEMPLATES}/preprocess-fan.json"
  MACHINE_TYPE="$GPU_MACHINE_TYPE"
  FLAGS=(landmarks=fan landmark_device=cuda "${FLAGS[@]+"${FLAGS[@]}"}")
fi

if [[ "$DIRECT" == 1 ]]; then
  args=(preprocess --input "$INPUT" --output "$OUTPUT"
        --runner DataflowRunner --project "$PROJECT" --region "$REGION" --job_name "$JOB_NAME"
        --temp_location "gs://${BUCKET}/tmp" --staging_location "gs://${BUCKET}/staging"
        --service_account_email "$SERVICE_ACCOUNT" --sdk_container_image "$IMAGE"
        --machine_type "$MACHINE_TYPE" --max_num_workers "$MAX_WORKERS"
        --disk_size_gb "$DISK_SIZE_GB")
  if [[ "$FAN" == 1 ]]; then
    args+=("--dataflow_service_options=${GPU_SERVICE_OPTION}")
  fi
  for flag in "${FLAGS[@]+"${FLAGS[@]}"}"; do
    args+=("--${flag}")
  done
  run "$LIPFLOW" "${args[@]}"
else
  # "^~^" makes "~" the separator between parameters, so values may hold commas.
  parameters="^~^input=${INPUT}~output=${OUTPUT}~sdk_container_image=${IMAGE}"
  parameters+="~disk_size_gb=${DISK_SIZE_GB}"
  if [[ "$FAN" == 1 ]]; then
    parameters+="~dataflow_service_options=${GPU_SERVICE_OPTION}"
  fi
  for flag in "${FLAGS[@]+"${FLAGS[@]}"}"; do
    parameters+="~${flag}"
  done
  run gcloud dataflow flex-template run "$JOB_NAME" \
    --project "$PROJECT" --region "$REGION" \
    --template-file-gcs-location "$TEMPLATE" \
    --service-account-email "$SERVICE_ACCOUNT" \
    --staging-location "gs://${BUCKET}/staging" --temp-location "gs://${BUCKET}/tmp" \
    --worker-machine-type "$MACHINE_TYPE" --max-workers "$MAX_WORKERS" \
    --launcher-machine-type "$LAUNCHER_MACHINE_TYPE" \
    --parameters "$parameters"
fi
