#!/bin/sh
# Entry point of the nginx stand-in, doing what the official image's does for the project: when
# the command is nginx, run each executable /docker-entrypoint.d/*.sh first (in name order; one
# that fails stops the container), then exec the command, so nginx is PID 1 and gets the stop
# signal. (The official one also sources *.envsh files and has scripts of its own, which the
# project does not use.)
set -eu
case "${1:-}" in
  nginx | nginx-debug)
    for script in /docker-entrypoint.d/*.sh; do
      [ -f "$script" ] || continue
      if [ -x "$script" ]; then
        echo "$0: running $script"
        "$script"
      else
        echo "$0: ignoring $script, not executable"
      fi
    done
    ;;
esac
exec "$@"
