#!/usr/bin/env bash
# Build and push the hpopt API server image (see Dockerfile).
#
#   ./docker_build_script.sh true    full rebuild (pull the base, no cache) and push
#   ./docker_build_script.sh quick   rebuild the code layer only (cached CUDA and dependency layers) and push
#
# Reads from .env (or the environment, which wins):
#   DOCKER_HUB_USER   Docker Hub account that receives the image (required; DOCKER_HUB_USERNAME,
#                     the original system's name for it, is accepted too)
#   IMAGE_NAME        image name (default: hyperparameter-optimizer, the original system's)
#   IMAGE_TAG         tag (default: latest)
# Log in first with `docker login`.
set -euo pipefail

cd "$(dirname "$0")"

usage() {
    echo "usage: $0 true|quick   (true = full rebuild and push, quick = code layer only and push)" >&2
}

# One KEY=value from .env, without executing the file.
env_value() {
    [[ -f .env ]] || return 0
    { grep -E "^[[:space:]]*$1[[:space:]]*=" .env || true; } | tail -n 1 | cut -d= -f2- | sed -e 's/^[[:space:]]*//' \
        -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
}

mode="${1:-}"
case "$mode" in
    true | quick) ;;
    *) usage; exit 2 ;;
esac

DOCKER_HUB_USER="${DOCKER_HUB_USER:-$(env_value DOCKER_HUB_USER)}"
DOCKER_HUB_USER="${DOCKER_HUB_USER:-${DOCKER_HUB_USERNAME:-$(env_value DOCKER_HUB_USERNAME)}}"
IMAGE_NAME="${IMAGE_NAME:-$(env_value IMAGE_NAME)}"
IMAGE_TAG="${IMAGE_TAG:-$(env_value IMAGE_TAG)}"
if [[ -z "$DOCKER_HUB_USER" ]]; then
    echo "error: set DOCKER_HUB_USER (or DOCKER_HUB_USERNAME) in the environment or .env (and optionally IMAGE_NAME, IMAGE_TAG)" >&2
    exit 2
fi
image="${DOCKER_HUB_USER}/${IMAGE_NAME:-hyperparameter-optimizer}:${IMAGE_TAG:-latest}"

if [[ "$mode" == "true" ]]; then
    echo "full rebuild of $image"
    docker build --pull --no-cache --target app -t "$image" .
else
    echo "quick rebuild of $image (code layer only)"
    docker build --target app -t "$image" .
fi
docker push "$image"
echo "pushed $image"
