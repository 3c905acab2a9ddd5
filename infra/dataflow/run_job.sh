#!/usr/bin/env bash
# Runs a lipflow job (preprocess or evaluate) on Dataflow: from its Flex Template
# (default), or directly from this checkout with `lipflow JOB --runner DataflowRunner`
# (--direct).
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=infra/dataflow/config.sh
source infra/dataflow/config.sh

usage() {
  cat <<EOF
usage: infra/dataflow/run_job.sh preprocess [--fan] [--direct] INPUT OUTPUT [FLAG=VALUE ...]
       infra/dataflow/run_job.sh evaluate [--direct] DATA OUTPUT MODEL[,MODEL...] [FLAG=VALUE ...]

preprocess:
  INPUT       a CSV or JSON Lines manifest whose video and transcript columns hold gs://
              paths: a gs:// file for a template run, a local file with --direct
  OUTPUT      gs:// folder for the dataset
  --fan       FAN landmarks on GPU workers: the GPU image, ${GPU_TYPE} on ${GPU_MACHINE_TYPE}
evaluate:
  DATA        gs:// folder that lipflow preprocess wrote
  OUTPUT      gs:// folder for metrics.json, report.html and the rest
  MODEL       gs:// export folder(s) of lipflow train; several (comma-separated) are an ensemble
both:
  FLAG=VALUE  more flags of the job, e.g. augment_copies=1 (preprocess), split=val (evaluate)
  --direct    submit from this checkout with ${LIPFLOW:-.venv/bin/lipflow} (waits for the
              job) instead of the Flex Template in ${TEMPLATES}/
Environment: PROJECT, REGION, BUCKET, TAG, SERVICE_ACCOUNT, MACHINE_TYPE, MAX_WORKERS,
GPU_TYPE, GPU_MACHINE_TYPE (see infra/dataflow/config.sh), DRY_RUN=1.
EOF
}

JOB="${1:-}"
case "$JOB" in
  preprocess) POSITIONAL=2; DEFAULT_WORKERS=20 ;;
  evaluate) POSITIONAL=3; DEFAULT_WORKERS=10 ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
shift

MACHINE_TYPE="${MACHINE_TYPE:-n2-standard-4}"        # CPU workers
MAX_WORKERS="${MAX_WORKERS:-$DEFAULT_WORKERS}"
DISK_SIZE_GB="${DISK_SIZE_GB:-50}"                    # room for the image (GPU: about 15 GB)
LAUNCHER_MACHINE_TYPE="${LAUNCHER_MACHINE_TYPE:-n2-standard-2}"
JOB_NAME="${JOB_NAME:-lipflow-${JOB}-$(date -u +%Y%m%d-%H%M%S)}"
LIPFLOW="${LIPFLOW:-.venv/bin/lipflow}"

FAN=0
DIRECT=0
while [[ $# -gt 0 && "$1" == -* ]]; do
  case "$1" in
    --fan) [[ "$JOB" == preprocess ]] || { usage >&2; exit 2; }; FAN=1 ;;
    --direct) DIRECT=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
if [[ $# -lt "$POSITIONAL" ]]; then
  usage >&2
  exit 2
fi
require_project

IMAGE="$IMAGE_CPU"
TEMPLATE="${TEMPLATES}/${JOB}.json"
if [[ "$JOB" == preprocess ]]; then
  own_args=(--input "$1" --output "$2")
  own_parameters="input=${1}~output=${2}"
else
  own_args=(--data "$1" --output "$2")
  IFS=, read -r -a models <<< "$3"
  for model in "${models[@]}"; do
    own_args+=(--model "$model")
  done
  own_parameters="data=${1}~output=${2}~model=${3}"
fi
shift "$POSITIONAL"
FLAGS=("$@")
if [[ "$FAN" == 1 ]]; then
  IMAGE="$IMAGE_GPU"
  TEMPLATE="${TEMPLATES}/preprocess-fan.json"
  MACHINE_TYPE="$GPU_MACHINE_TYPE"
  FLAGS=(landmarks=fan landmark_device=cuda "${FLAGS[@]+"${FLAGS[@]}"}")
fi

if [[ "$DIRECT" == 1 ]]; then
  args=("$JOB" "${own_args[@]}"
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
  parameters="^~^${own_parameters}~sdk_container_image=${IMAGE}~disk_size_gb=${DISK_SIZE_GB}"
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
