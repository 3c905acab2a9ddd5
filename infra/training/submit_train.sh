#!/usr/bin/env bash
# Submits a Vertex AI custom job running `lipflow train` in the training image.
#   infra/training/submit_train.sh IMAGE BUCKET RUN [DATASET] [CONFIG]
set -euo pipefail
IMAGE="$1" BUCKET="$2" RUN="$3" DATASET="${4:-datasets/grid}" CONFIG="${5:-grid}"
: "${REGION:?set REGION, e.g. us-central1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
SPEC="$(mktemp --suffix=.yaml)"
trap 'rm -f "$SPEC"' EXIT
sed -e "s|IMAGE|$IMAGE|" -e "s|/gcs/BUCKET/datasets/grid|/gcs/$BUCKET/$DATASET|" \
    -e "s|/gcs/BUCKET/runs/RUN|/gcs/$BUCKET/runs/$RUN|" -e "s|^        - grid$|        - $CONFIG|" \
    "$HERE/vertex_custom_job.yaml" > "$SPEC"
gcloud ai custom-jobs create --region="$REGION" --display-name="lipflow-train-$RUN" --config="$SPEC"
