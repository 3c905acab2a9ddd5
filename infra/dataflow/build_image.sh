#!/usr/bin/env bash
# Builds lipflow's Dataflow image (worker + Flex Template launcher) and pushes it to
# Artifact Registry, with Cloud Build (default) or a local Docker engine.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=infra/dataflow/config.sh
source infra/dataflow/config.sh

VARIANT="${VARIANT:-cpu}"        # cpu, or fan: the GPU image for --landmarks fan
BUILDER="${BUILDER:-cloud}"      # cloud (Cloud Build) or docker (a local Docker engine)

usage() {
  cat <<EOF
usage: infra/dataflow/build_image.sh [cpu|fan]

Builds infra/dataflow/Dockerfile and pushes it:
  cpu  ${IMAGE_CPU}
  fan  ${IMAGE_GPU}   (torch with CUDA, face-alignment, FAN weights)
Environment: PROJECT, REGION, REPOSITORY, TAG (see infra/dataflow/config.sh),
BUILDER=cloud|docker (default cloud), DRY_RUN=1 to print the commands only.
EOF
}

case "${1:-$VARIANT}" in
  cpu) VARIANT=cpu; IMAGE="$IMAGE_CPU" ;;
  fan) VARIANT=fan; IMAGE="$IMAGE_GPU" ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
require_project

# The build context holds exactly what the Dockerfile copies.
CONTEXT="$(mktemp -d)"
trap 'rm -rf "$CONTEXT"' EXIT
mkdir -p "$CONTEXT/infra"
cp -R setup.py requirements.lock lipflow pipelines schemas trainer "$CONTEXT/"
cp -R infra/dataflow "$CONTEXT/infra/"
find "$CONTEXT" -name __pycache__ -type d -prune -exec rm -rf {} +

echo "building $IMAGE (variant $VARIANT) with $BUILDER" >&2
if [[ "$BUILDER" == cloud ]]; then
  run gcloud builds submit "$CONTEXT" --project "$PROJECT" --region "$REGION" \
    --config infra/dataflow/cloudbuild.yaml \
    --substitutions "_IMAGE=${IMAGE},_VARIANT=${VARIANT}"
elif [[ "$BUILDER" == docker ]]; then
  run docker build "$CONTEXT" --file "$CONTEXT/infra/dataflow/Dockerfile" \
    --build-arg "VARIANT=${VARIANT}" --build-arg "WORKER_IMAGE=${IMAGE}" --tag "$IMAGE"
  run docker push "$IMAGE"
else
  echo "BUILDER must be cloud or docker, got ${BUILDER}" >&2
  exit 2
fi
echo "image: $IMAGE" >&2
