#!/usr/bin/env bash
# Zero-downtime rollout of the gateway in a running `docker compose up` stack: every replica is
# replaced by one built from the current source, and no request fails on the way.
#
#   1. build the new image (`docker compose build gateway`);
#   2. start as many new replicas as there are old ones, beside them
#      (`up -d --no-recreate --scale gateway=2N`: the old containers are left alone);
#   3. wait until every new replica is healthy (nginx already sends them requests: it re-resolves
#      the service's name every second, nginx/foobar.conf, and a new replica is in Docker's DNS
#      from its start; until it listens, nginx passes its requests to the others);
#   4. retire the old replicas, one at a time: `docker stop` (SIGTERM: the gateway closes its listener,
#      so nginx passes new requests to the other replicas, and finishes what it is serving; once
#      it has exited, Docker's DNS drops it and so does nginx within a second), then remove them;
#   5. record the scale back at N (`--scale gateway=N --no-recreate`: no container changes);
#   6. remove the image the old replicas ran (kept when the rollout failed, or still in use).
#
# Usage: docker/rollout.sh [docker compose options…]   e.g. docker/rollout.sh -p myproject
#        (the options go before compose's subcommand: -p, -f, --env-file, --project-directory)
# Env:   SERVICE (default gateway), NGINX_SERVICE (default nginx), NGINX_FAIL_TIMEOUT (5: the
#        upstream's fail_timeout in nginx/foobar.conf),
#        ROLLOUT_TIMEOUT seconds to wait for each step (default 120), NO_BUILD=1 to skip step 1.
# Exit:  0 when every replica was replaced; 1 (one line saying why) otherwise — the old replicas
#        are then still serving, with any new ones that came up beside them, and their image kept.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICE=${SERVICE:-gateway}
NGINX_SERVICE=${NGINX_SERVICE:-nginx}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-120}
compose=(docker compose "$@")

log() { printf 'rollout: %s\n' "$*" >&2; }
fail() {
  log "$*"
  exit 1
}

# Polls a command (given as arguments) until it succeeds, at most ROLLOUT_TIMEOUT seconds.
wait_for() {
  local what=$1 deadline=$((SECONDS + ROLLOUT_TIMEOUT))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${ROLLOUT_TIMEOUT} s waiting for $what"
    sleep 0.5
  done
}

replicas() { "${compose[@]}" ps -q "$SERVICE" | sort; }
health_of() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1"; }

all_healthy() {
  local id
  for id in "$@"; do [ "$(health_of "$id")" = healthy ] || return 1; done
}

mapfile -t old < <(replicas)
count=${#old[@]}
[ "$count" -gt 0 ] || fail "no running '$SERVICE' replicas: start the stack first (docker compose up -d)"
# The image(s) the old replicas run, removed at the end once the rollout has succeeded.
mapfile -t old_images < <(for id in "${old[@]}"; do docker inspect --format '{{.Image}}' "$id"; done | sort -u)
"${compose[@]}" ps -q "$NGINX_SERVICE" | grep -q . || fail "no running '$NGINX_SERVICE' service"
log "replacing $count replica(s) of $SERVICE"

if [ "${NO_BUILD:-}" != 1 ]; then
  log "building the new image"
  "${compose[@]}" build "$SERVICE" >&2
fi

"${compose[@]}" up -d --no-deps --no-build --no-recreate --scale "$SERVICE=$((count * 2))" "$SERVICE" >&2
mapfile -t new < <(comm -13 <(printf '%s\n' "${old[@]}") <(replicas))
[ "${#new[@]}" -eq "$count" ] || fail "expected $count new replicas, found ${#new[@]}"
log "started ${#new[@]} new replica(s); waiting until they are healthy"
wait_for "the new replicas to be healthy" all_healthy "${new[@]}"
# A new replica that refused a connection before it listened is out of nginx's rotation for
# fail_timeout (5 s, nginx/foobar.conf): wait that out, so the old replicas, which nginx takes
# out as they refuse, are never the only ones left.
sleep "${NGINX_FAIL_TIMEOUT:-5}"

# One old replica at a time: the new ones carry the load. `docker stop` returns once it has
# exited, which the gateway does once its requests in flight are answered (compose's
# stop_grace_period bounds it, then SIGKILL). One at a time, because a stopping gateway has one
# short moment that can lose a connection nginx opens to it (its socket closes one IPC message
# after its last worker's copy: docs/gateway.md), and three stopping together on a busy machine
# made that moment three times as likely and longer: 1 POST in ~6,000 failed in 2 of 3 runs.
# `restart: unless-stopped` leaves a stopped container stopped.
log "retiring ${#old[@]} old replica(s), one at a time: docker stop (SIGTERM, requests in flight finish)"
for id in "${old[@]}"; do docker stop "$id" >/dev/null; done
docker rm "${old[@]}" >/dev/null

"${compose[@]}" up -d --no-deps --no-build --no-recreate --scale "$SERVICE=$count" "$SERVICE" >&2
log "done: $count new replica(s) of $SERVICE serving"

# Only after success: remove the image the rollout replaced, unless the new replicas still run it
# (nothing changed) or another container does (`docker image rm` then refuses, and it stays).
# A failed rollout exits before this line, so the old image is still there to roll back to.
mapfile -t new_images < <(for id in "${new[@]}"; do docker inspect --format '{{.Image}}' "$id"; done | sort -u)
for image in "${old_images[@]}"; do
  printf '%s\n' "${new_images[@]}" | grep -qx "$image" && continue
  if docker image rm "$image" >/dev/null 2>&1; then
    log "removed the replaced image ${image#sha256:}"
  else
    log "kept the replaced image ${image#sha256:}: a container or another tag still uses it"
  fi
done
