#!/usr/bin/env bash
# sync-images.sh: copy multi-arch images to a mirror, but only when every
# list is whole. mlaudit is the gate at the top: one broken list (an arch
# lost to an overwrite, a per-arch tag holding the wrong arch) stops the
# whole sync before anything is copied, with the findings in the log.
# What is copied is the digest the audit passed, not the tag: a tag moved
# between the audit and the copy cannot slip an unaudited list through.
#
# Usage: sync-images.sh SRC_PREFIX DST_PREFIX REPO:TAG...
#   e.g. sync-images.sh ghcr.io/org registry.internal/mirror runtime:v0.3.0
#   copies ghcr.io/org/runtime@<audited digest> to
#   registry.internal/mirror/org/runtime:v0.3.0, where
#   `mlaudit audit --compare registry.internal/mirror` looks for the copy.
#
# Environment:
#   REQUIRE      platforms every list must hold (default linux/amd64,linux/arm64)
#   MLAUDIT      the mlaudit binary (default: mlaudit on PATH)
#   SKOPEO_FLAGS extra skopeo copy flags, e.g. --dest-creds or --dest-tls-verify=false
# Needs mlaudit, skopeo and jq.
set -euo pipefail

if [ "$#" -lt 3 ]; then
  sed -n '2,19p' "$0" >&2
  exit 2
fi
src=$1 dst=$2
shift 2
require=${REQUIRE:-linux/amd64,linux/arm64}
mlaudit=${MLAUDIT:-mlaudit}
for tool in skopeo jq; do
  command -v "$tool" >/dev/null || { echo "sync-images: $tool is not installed" >&2; exit 2; }
done

targets=()
for image in "$@"; do
  case $image in
    *@*|*/|"") echo "sync-images: $image: give REPO:TAG" >&2; exit 2 ;;
  esac
  case ${image##*/} in
    *:*) ;;
    *) echo "sync-images: $image: give REPO:TAG" >&2; exit 2 ;;
  esac
  targets+=("$src/$image")
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Where each copy goes: mlaudit names the mirror copy of each target as
# --compare reads it (DST_PREFIX/<repository path>:TAG), without contacting
# a registry, and the audit's JSON names images the same canonical way.
"$mlaudit" policy explain --format json --compare "$dst" "${targets[@]}" >"$work/plan.json"

# Registry text is printed with control and format characters replaced, so
# a hostile registry cannot steer the terminal through this log.
clean='gsub("[\\p{Cc}\\p{Cf}]"; "?")'

echo "sync-images: checking ${#targets[@]} image(s) for $require"
status=0
"$mlaudit" audit --require "$require" --format json --output "$work/audit.json" "${targets[@]}" || status=$?
jq -r ".findings[] | \"\(.severity | ascii_upcase)  \(.code)  \(.ref) \(.platform // \"\")\n    \(.message | $clean)\n    fix: \(.hint)\"" "$work/audit.json" 2>/dev/null || true
case $status in
  0) ;;
  3)
    jq -r ".errors[] | \"sync-images: could not read \(.ref): \(.message | $clean)\"" "$work/audit.json" >&2
    echo "sync-images: refusing to sync: check the reference (a mistyped tag?) or the credentials, and run again." >&2
    exit 3 ;;
  1)
    echo "sync-images: refusing to sync: the lists above are not whole." >&2
    echo "sync-images: rebuild them (mlaudit repair --per-arch '{tag}-{arch}' ...) and run again." >&2
    exit 1 ;;
  *) exit "$status" ;;
esac

# Copy each audited digest, by digest, to the tag --compare will read.
jq -r '.references[] | [.canonical, .mirrors[0]] | @tsv' "$work/plan.json" |
while IFS=$'\t' read -r from to; do
  digest=$(jq -r --arg ref "$from" '[.images[] | select(.ref == $ref) | .digest][0] // empty' "$work/audit.json")
  if [ -z "$digest" ]; then
    echo "sync-images: $from is not in the audit report; nothing more is copied" >&2
    exit 1
  fi
  echo "sync-images: copying $from ($digest) to $to"
  # --all copies every platform of the list, not just the host's. The images
  # are copied by digest; skopeo may re-encode the list itself (skopeo 1.9
  # does for OCI entries with artifactType): add --preserve-digests to
  # SKOPEO_FLAGS to refuse that instead.
  # shellcheck disable=SC2086 # SKOPEO_FLAGS is a list of flags
  skopeo copy --all ${SKOPEO_FLAGS:-} "docker://${from%:*}@$digest" "docker://$to"
done
echo "sync-images: done"
