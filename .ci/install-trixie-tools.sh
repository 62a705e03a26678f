#!/usr/bin/env bash
# Installs the tools some tests run from Debian trixie, which bookworm lacks or has too old:
#   kustomize, kubectl   render k8s/ (`kustomize build k8s/`; `kubectl kustomize k8s/`, which is
#                        what `kubectl apply -k` applies) for tests/k8s/: bookworm has no
#                        kustomize and a kubectl too old for the API the manifests are checked
#                        against
#   gunicorn 23          the oracle of the differential test (tests/differential/), the same
#                        Gunicorn as the reference container (wsgi/Dockerfile); bookworm's 20.1
#                        lacks upstream's request-smuggling fixes. Pure Python: it runs on the
#                        host's python3 with PYTHONPATH set (tests/helpers/python.ts)
# The packages are downloaded with a private apt state (download_from_release in
# docker/debian-mirror.sh: the host's apt state stays as it is) and unpacked under
# $TRIXIE_TOOLS (default /opt/foobar/trixie): the Go programs need only glibc.
# Usage: .ci/install-trixie-tools.sh        (as root; does nothing when all are there)
set -euo pipefail
cd "$(dirname "$0")/.."

TRIXIE_TOOLS=${TRIXIE_TOOLS:-/opt/foobar/trixie}
RELEASE=trixie
PACKAGES=(kustomize kubectl gunicorn python3-gunicorn python3-packaging)
log() { printf 'trixie-tools: %s\n' "$*" >&2; }

if [ -x "$TRIXIE_TOOLS/usr/bin/kustomize" ] && [ -x "$TRIXIE_TOOLS/usr/bin/kubectl" ] &&
  [ -x "$TRIXIE_TOOLS/usr/bin/gunicorn" ]; then
  log "kustomize, kubectl and gunicorn are in $TRIXIE_TOOLS"
  exit 0
fi

# shellcheck source=../docker/debian-mirror.sh
. docker/debian-mirror.sh
scratch=$(mktemp -d /tmp/foobar-trixie-tools.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
log "downloading ${PACKAGES[*]} from Debian $RELEASE"
# `name/release`: the trixie package even when another version of it is installed on the host.
download_from_release "$RELEASE" "$scratch/deb" "${PACKAGES[@]/%//$RELEASE}"
mkdir -p "$TRIXIE_TOOLS"
for deb in "$scratch"/deb/*.deb; do
  dpkg-deb -x "$deb" "$TRIXIE_TOOLS"
  log "unpacked $(dpkg-deb -f "$deb" Package Version | paste -sd ' ') in $TRIXIE_TOOLS"
done
