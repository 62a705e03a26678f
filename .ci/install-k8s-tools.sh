#!/usr/bin/env bash
# Installs the Kubernetes tools the manifest tests run (tests/k8s/), from Debian trixie: bookworm
# has no kustomize and a kubectl too old for the API the manifests are checked against.
#   kustomize   renders k8s/ (`kustomize build k8s/`): what the tests validate
#   kubectl     `kubectl kustomize k8s/` must render the same: what `kubectl apply -k` applies
# The packages are downloaded with a private apt state (the host's apt sources and lists stay as
# they are, as in docker/ensure-engine.sh) and unpacked under $K8S_TOOLS (default
# /opt/foobar/k8s-tools): Go programs that need only glibc, so nothing else is installed.
# Usage: .ci/install-k8s-tools.sh        (as root; does nothing when both are there)
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_TOOLS=${K8S_TOOLS:-/opt/foobar/k8s-tools}
RELEASE=trixie
PACKAGES=(kustomize kubectl)
log() { printf 'k8s-tools: %s\n' "$*" >&2; }

if [ -x "$K8S_TOOLS/usr/bin/kustomize" ] && [ -x "$K8S_TOOLS/usr/bin/kubectl" ]; then
  log "kustomize and kubectl are in $K8S_TOOLS"
  exit 0
fi

# shellcheck source=../docker/debian-mirror.sh
. docker/debian-mirror.sh
scratch=$(mktemp -d /tmp/foobar-k8s-tools.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch"/{lists/partial,cache/archives/partial,deb}
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) $RELEASE main" \
  >"$scratch/sources.list"
private_apt=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o APT::Sandbox::User=root -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache=$scratch/cache")
log "downloading ${PACKAGES[*]} from Debian $RELEASE"
apt-get "${private_apt[@]}" update -qq
# `name/release`: the trixie package even when another version of it is installed on the host.
(cd "$scratch/deb" && apt-get "${private_apt[@]}" download -qq "${PACKAGES[@]/%//$RELEASE}")
mkdir -p "$K8S_TOOLS"
for deb in "$scratch"/deb/*.deb; do
  dpkg-deb -x "$deb" "$K8S_TOOLS"
  log "$(dpkg-deb -f "$deb" Package Version | paste -sd ' ') in $K8S_TOOLS/usr/bin"
done
