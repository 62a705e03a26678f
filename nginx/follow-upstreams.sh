#!/usr/bin/env bash
# Entry point of the nginx container: keeps nginx's list of gateway replicas current, then runs
# nginx (as PID 1 via exec, so `docker stop`'s SIGQUIT reaches it and it stops gracefully).
#
# nginx resolves the names in `upstream { server … }` once, when it starts: replicas added by
# `docker compose up --scale gateway=3` (or a rollout) would never get a request, and removed
# ones would keep getting them. nginx >= 1.27.3 can re-resolve (`server … resolve`), but Debian
# bookworm's 1.22 cannot, so this follower does it for any nginx:
#
#   every $FOLLOW_INTERVAL seconds, look up $UPSTREAM_NAME (Docker's DNS: one address per
#   replica), keep the addresses that accept a TCP connection on $UPSTREAM_PORT (a replica that
#   is starting, or stopping — the gateway closes its listener on SIGTERM — does not), and when
#   that set differs from nginx's, rewrite $UPSTREAM_FILE, check the config, reload nginx.
#
# A reload is graceful: new nginx workers take new connections, old ones finish what they serve.
#
# Usage (compose.yaml): entrypoint ["bash", "/etc/nginx/follow-upstreams.sh"], command
# ["nginx", "-g", "daemon off;"]. Needs bash, getent and timeout (every Debian-based image).
set -euo pipefail

UPSTREAM_NAME=${UPSTREAM_NAME:-gateway}
UPSTREAM_PORT=${UPSTREAM_PORT:-8000}
UPSTREAM_FILE=${UPSTREAM_FILE:-/etc/nginx/foobar-upstreams/gateway.conf}
FOLLOW_INTERVAL=${FOLLOW_INTERVAL:-1}
# A TCP connect to a live container on the same bridge takes well under a millisecond.
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-0.5}
# Where no replica answers (yet), nginx still needs one server: the discard port on loopback
# refuses at once, so clients get a quick 502 instead of a hang.
PLACEHOLDER="server 127.0.0.1:9 max_fails=0;  # no replica answers yet"

log() { printf 'follow-upstreams: %s\n' "$*" >&2; }

# The replicas' addresses that accept connections now, sorted, one per line.
live_addresses() {
  local address
  # No such name (no replica running): no addresses, not an error.
  { getent ahostsv4 "$UPSTREAM_NAME" 2>/dev/null || true; } | awk '{ print $1 }' | sort -u |
    while read -r address; do
      if timeout "$CONNECT_TIMEOUT" bash -c "exec 3<>/dev/tcp/$address/$UPSTREAM_PORT" 2>/dev/null; then
        echo "$address"
      fi
    done
}

# The upstream file for a set of addresses (one per line; none: the placeholder).
render() {
  local addresses=$1 address
  echo "# Written by nginx/follow-upstreams.sh: the replicas of '$UPSTREAM_NAME' that answer."
  if [ -z "$addresses" ]; then
    echo "$PLACEHOLDER"
    return
  fi
  for address in $addresses; do
    echo "server $address:$UPSTREAM_PORT max_fails=0;"
  done
}

# Installs the file for these addresses; reloads nginx when asked and the config is valid.
apply() {
  local addresses=$1 reload=$2 next="$UPSTREAM_FILE.next" previous="$UPSTREAM_FILE.previous"
  render "$addresses" >"$next"
  [ -f "$UPSTREAM_FILE" ] && cp "$UPSTREAM_FILE" "$previous"
  mv "$next" "$UPSTREAM_FILE"
  $reload || return 0
  if nginx -t -q 2>/dev/null && nginx -s reload; then
    log "now $(echo "$addresses" | wc -w) replica(s): $(echo "$addresses" | tr '\n' ' ')"
  else
    # Should never happen (only server lines change); keep the last good file.
    log "nginx -t or the reload failed with the new upstream file; keeping the previous one"
    [ -f "$previous" ] && mv "$previous" "$UPSTREAM_FILE"
    return 1
  fi
}

follow() {
  local current=$1 found
  while sleep "$FOLLOW_INTERVAL"; do
    found=$(live_addresses)
    [ "$found" = "$current" ] && continue
    # nginx must be up to take a reload; until its pid file exists it reads the file itself.
    if [ -s /run/nginx.pid ] || [ -s /var/run/nginx.pid ]; then
      apply "$found" true && current=$found
    fi
  done
}

mkdir -p "$(dirname "$UPSTREAM_FILE")"
# Before nginx starts: wait briefly for the first replica, so nginx starts serving at once.
initial=""
for _ in $(seq 1 30); do
  initial=$(live_addresses)
  [ -n "$initial" ] && break
  sleep 1
done
apply "$initial" false
log "starting with $(echo "$initial" | wc -w) replica(s) of $UPSTREAM_NAME:$UPSTREAM_PORT"
follow "$initial" &
exec "$@"
