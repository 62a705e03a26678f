#!/bin/sh
# The build step of both images (Dockerfile, Dockerfile.app), written once: install the
# workspace's toolchain from the lockfile, compile the three packages, and pack each into a
# tarball in $1, as `npm publish` would ship it. The images then install those tarballs the way
# a user installs the gateway in their own project; nothing else of this stage reaches them.
set -eu
out=${1:?usage: pack-workspaces.sh OUTPUT_DIR}
npm ci --no-audit --no-fund
npm run build
mkdir -p "$out"
npm pack --workspaces --pack-destination "$out" >/dev/null
ls "$out"
