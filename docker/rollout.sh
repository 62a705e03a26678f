#!/usr/bin/env bash
# Zero-downtime rollout of the gateway in a running `docker compose up` stack: every replica is
# replaced by one built from the current source, and no request fails on the way.
#
#   1. build the new image (`docker compose build gateway`);
#   2. start as many new replicas as there are old ones, beside them
#      (`up -d --no-recreate --scale gateway=2N`: the old containers are left alone);
#   3. wait until every new replica is healthy and nginx routes to it (nginx/follow-upstreams.sh
#      lists the replicas nginx uses in its upstream file);
#   4. retire the old replicas: SIGTERM (the gateway closes its listener at once and finishes
#      what it is serving), wait until nginx has dropped their addresses — so no request is ever
#      sent to an address that has gone — then wait for them to exit and remove them;
#   5. record the scale back at N (`--scale gateway=N --no-recreate`: no container changes);
#   6. remove the image the old replicas ran (kept when the rollout failed, or still in use).
#
# Usage: docker/rollout.sh [docker compose options…]   e.g. docker/rollout.sh -p myproject
#        (the options go before compose's subcommand: -p, -f, --env-file, --project-directory)
# Env:   SERVICE (default gateway), NGINX_SERVICE (default nginx), UPSTREAM_FILE (the follower's),
#        ROLLOUT_TIMEOUT seconds to wait for each step (default 120), NO_BUILD=1 to skip step 1.
# Exit:  0 when every replica was replaced; 1 (one line saying why) otherwise — the old replicas
#        are then still serving, with any new ones that came up beside them, and their image kept.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICE=${SERVICE:-gateway}
NGINX_SERVICE=${NGINX_SERVICE:-nginx}
UPSTREAM_FILE=${UPSTREAM_FILE:-/etc/nginx/foobar-upstreams/gateway.conf}
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
address_of() {
  docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1" | awk '{ print $1 }'
}
health_of() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1"; }
nginx_upstreams() { "${compose[@]}" exec -T "$NGINX_SERVICE" cat "$UPSTREAM_FILE"; }

all_healthy() {
  local id
  for id in "$@"; do [ "$(health_of "$id")" = healthy ] || return 1; done
}
nginx_routes_to() {
  local listing id
  listing=$(nginx_upstreams) || return 1
  for id in "$@"; do grep -q "server $(address_of "$id"):" <<<"$listing" || return 1; done
}
nginx_dropped() {
  local listing
  listing=$(nginx_upstreams) || return 1
  ! grep -q "server $1:" <<<"$listing"
}
is_running() { [ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
has_exited() { ! is_running "$1"; }

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
log "started ${#new[@]} new replica(s); waiting until they are healthy and nginx routes to them"
wait_for "the new replicas to be healthy" all_healthy "${new[@]}"
wait_for "nginx to route to the new replicas" nginx_routes_to "${new[@]}"
# The follower writes the file, then reloads: give the reload (and its new workers) a moment.
sleep 2

# All old replicas at once: each change of the replica set costs one nginx reload, and a reload
# disturbs clients' connections (idle keep-alive ones are closed, which clients retry), so one
# reload for the whole retirement instead of one per replica. The new replicas carry the load.
addresses=()
for id in "${old[@]}"; do
  addresses+=("$(address_of "$id")")
  # Not `docker stop` (it returns only once the container has exited): nginx must drop the
  # address while the container still refuses connections on it. `restart: unless-stopped`
  # would bring back a container that exits on a signal of its own, so turn that off first.
  docker update --restart=no "$id" >/dev/null
done
log "retiring ${#old[@]} old replica(s) (${addresses[*]}): SIGTERM, then nginx drops them"
for id in "${old[@]}"; do docker kill --signal TERM "$id" >/dev/null; done
for address in "${addresses[@]}"; do
  wait_for "nginx to drop $address" nginx_dropped "$address"
done
for id in "${old[@]}"; do
  # The gateway exits once its requests in flight are answered (compose's stop_grace_period
  # bounds it; `docker stop` sends SIGKILL after that).
  timeout "$ROLLOUT_TIMEOUT" docker wait "$id" >/dev/null || docker stop "$id" >/dev/null
  docker rm -f "$id" >/dev/null
done

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
