#!/usr/bin/env bash
# sync-images.sh: copy multi-arch images to a mirror, but only when every
# list is whole. mlaudit is the gate at the top: one broken list (an arch
# lost to an overwrite, a per-arch tag holding the wrong arch) stops the
# whole sync before anything is copied, with the findings in the log.
#
# Usage: sync-images.sh SRC_REGISTRY DST_REGISTRY REPO:TAG...
#   e.g. sync-images.sh ghcr.io/org registry.internal/mirror runtime:v0.3.0 gateway:v0.3.0
#
# Environment:
#   REQUIRE      platforms every list must hold (default linux/amd64,linux/arm64)
#   MLAUDIT      the mlaudit binary (default: mlaudit on PATH)
#   SKOPEO_FLAGS extra skopeo copy flags, e.g. --dest-creds or --dest-tls-verify=false
set -euo pipefail

if [ "$#" -lt 3 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
src=$1 dst=$2
shift 2
require=${REQUIRE:-linux/amd64,linux/arm64}
mlaudit=${MLAUDIT:-mlaudit}

targets=()
for image in "$@"; do
  targets+=("$src/$image")
done

echo "sync-images: checking ${#targets[@]} image(s) for $require"
if ! "$mlaudit" audit --require "$require" "${targets[@]}"; then
  echo "sync-images: refusing to sync: the lists above are not whole." >&2
  echo "sync-images: rebuild them (mlaudit repair --per-arch '{tag}-{arch}' ...) and run again." >&2
  exit 1
fi

for image in "$@"; do
  echo "sync-images: copying $src/$image"
  # --all copies every platform of the list, not just the host's.
  # shellcheck disable=SC2086 # SKOPEO_FLAGS is a list of flags
  skopeo copy --all ${SKOPEO_FLAGS:-} "docker://$src/$image" "docker://$dst/$image"
done
echo "sync-images: done"
