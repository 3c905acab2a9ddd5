# shellcheck shell=bash disable=SC2034  # sourced by the scripts beside it, which use these
# Names shared by the Dataflow scripts (sourced, not run). Every value can be set in the
# environment first; docs/dataflow.md creates the resources they name.
#
#   PROJECT          Google Cloud project (default: gcloud's configured project)
#   REGION           Dataflow and Artifact Registry region
#   BUCKET           Cloud Storage bucket for templates, staging, temp files and outputs
#   REPOSITORY       Artifact Registry Docker repository
#   TAG              image tag (default: the checked-out commit, "-dirty" with local changes)
#   SERVICE_ACCOUNT  the workers' (and template launcher's) service account
#   DRY_RUN=1        print each gcloud / lipflow command instead of running it

PROJECT="${PROJECT:-$(gcloud config get-value project 2>/dev/null || true)}"
REGION="${REGION:-us-central1}"
BUCKET="${BUCKET:-${PROJECT}-lipflow}"
REPOSITORY="${REPOSITORY:-lipflow}"
if [[ -z "${TAG:-}" ]]; then
  TAG="$(git rev-parse --short HEAD)"
  if [[ -n "$(git status --porcelain -- lipflow pipelines schemas trainer setup.py \
                requirements.lock infra/dataflow)" ]]; then
    TAG="${TAG}-dirty"
  fi
fi
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-lipflow-worker@${PROJECT}.iam.gserviceaccount.com}"
DRY_RUN="${DRY_RUN:-0}"

REGISTRY="${REGION}-docker.pkg.dev/${PROJECT}/${REPOSITORY}"
IMAGE_CPU="${IMAGE_CPU:-${REGISTRY}/worker:${TAG}}"
IMAGE_GPU="${IMAGE_GPU:-${REGISTRY}/worker-gpu:${TAG}}"
TEMPLATES="${TEMPLATES:-gs://${BUCKET}/templates}"

# GPU workers for --landmarks fan: one NVIDIA L4 on a G2 machine (or nvidia-tesla-t4 on an
# N1 machine such as n1-standard-4), the driver installed by Dataflow.
GPU_TYPE="${GPU_TYPE:-nvidia-l4}"
GPU_MACHINE_TYPE="${GPU_MACHINE_TYPE:-g2-standard-4}"
GPU_SERVICE_OPTION="worker_accelerator=type:${GPU_TYPE};count:1;install-nvidia-driver"

require_project() {
  if [[ -z "$PROJECT" ]]; then
    echo "set PROJECT (or run: gcloud config set project PROJECT_ID)" >&2
    exit 2
  fi
}

# Runs a command, or prints it (shell-quoted, one line) when DRY_RUN=1.
run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}
