#!/usr/bin/env bash
# Writes lipflow's Flex Template specs to Cloud Storage: each names the image and carries
# the job's metadata.json (its parameters, help texts and checks).
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=infra/dataflow/config.sh
source infra/dataflow/config.sh

PRINT_ONLY="${PRINT_ONLY:-0}"    # 1: print each spec instead of uploading it (works offline)

usage() {
  cat <<EOF
usage: infra/dataflow/build_template.sh [preprocess|preprocess-fan|evaluate ...]

Builds the named templates (default: all three) with the images of build_image.sh:
  ${TEMPLATES}/preprocess.json      image ${IMAGE_CPU}
  ${TEMPLATES}/preprocess-fan.json  image ${IMAGE_GPU}
  ${TEMPLATES}/evaluate.json        image ${IMAGE_CPU}
Environment: PROJECT, REGION, BUCKET, TAG (see infra/dataflow/config.sh), PRINT_ONLY=1.
EOF
}

build() {
  local name="$1" image="$2" metadata="$3"
  local extra=()
  if [[ "$PRINT_ONLY" == 1 ]]; then
    extra+=(--print-only)
  fi
  run gcloud dataflow flex-template build "${TEMPLATES}/${name}.json" \
    --project "$PROJECT" \
    --image "$image" \
    --sdk-language PYTHON \
    --metadata-file "$metadata" \
    ${extra[@]+"${extra[@]}"}
}

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  usage
  exit 0
fi
require_project
templates=("$@")
if [[ ${#templates[@]} -eq 0 ]]; then
  templates=(preprocess preprocess-fan evaluate)
fi
for template in "${templates[@]}"; do
  case "$template" in
    preprocess) build preprocess "$IMAGE_CPU" infra/dataflow/preprocess/metadata.json ;;
    preprocess-fan) build preprocess-fan "$IMAGE_GPU" infra/dataflow/preprocess/metadata.json ;;
    evaluate) build evaluate "$IMAGE_CPU" infra/dataflow/evaluate/metadata.json ;;
    *) usage >&2; exit 2 ;;
  esac
done
