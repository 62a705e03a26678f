#!/usr/bin/env bash
# Makes sure a Docker engine and `docker compose` (v2) are usable, for CI on a fresh Debian
# bookworm machine (run as root):
#   1. Debian's docker.io (engine + CLI) if `docker` is missing;
#   2. the Compose v2 CLI plugin if `docker compose` is missing: bookworm only packages Compose
#      v1, so the plugin binary is taken from trixie's docker-compose package (it needs only
#      glibc >= 2.34), downloaded with a private apt state so the host's apt sources are untouched;
#   3. dockerd, started in the background if no engine answers, and waited for.
set -euo pipefail

COMPOSE_DEB_VERSION=${COMPOSE_DEB_VERSION:-2.26.1-4}
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
log() { printf 'engine: %s\n' "$*" >&2; }

# shellcheck source=debian-mirror.sh
. "$(dirname "$0")/debian-mirror.sh"

if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
  log "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if ! docker compose version >/dev/null 2>&1; then
  log "installing the Compose v2 plugin from Debian trixie's docker-compose $COMPOSE_DEB_VERSION"
  scratch=$(mktemp -d /tmp/foobar-compose.XXXXXX)
  trap 'rm -rf "$scratch"' EXIT
  download_from_release trixie "$scratch/deb" "docker-compose=$COMPOSE_DEB_VERSION"
  dpkg-deb -x "$scratch"/deb/docker-compose_*.deb "$scratch/root"
  install -D -m 0755 "$scratch/root/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN_DIR/docker-compose"
  docker compose version >&2
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /tmp/dockerd.log)"
  dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /tmp/dockerd.log"; exit 1; }
fi
log "engine $(docker info --format '{{.ServerVersion}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
