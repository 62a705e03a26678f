# The gateway image: the @foobar/gateway package (and the contract it depends on), installed
# from their packed tarballs as in any project, serving the seed's hello page unless CMD names
# another. One file builds it under two names:
#
#   Dockerfile          `docker build -t foobar .`: the seed's image; `docker run -p 8000:8000 foobar`
#                       serves the hello page (the teaching page to a browser, "Hello, World!"
#                       to curl) from a pre-fork master with 2 workers ($WEB_CONCURRENCY).
#   Dockerfile.gateway  a link to this file: `docker build -f Dockerfile.gateway -t foobar/gateway .`
#                       is the same image, read as a base for any TSGI app (as people use
#                       Gunicorn images): put your compiled app in /app and name it in CMD.
#
# Dockerfile.app builds the demo app's image (with Fastify, Express, Hono, the XSLT engine).
# NODE_IMAGE is the official Node 24 LTS image by default. Without a registry, run
# docker/build-local-base-images.sh first: it makes a local stand-in under the same name.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS node
WORKDIR /app

# Compile and pack the workspace packages; the toolchain stays in this stage.
FROM node AS packages
WORKDIR /src
COPY . .
RUN docker/pack-workspaces.sh /packs

# Install the gateway from its tarballs (the contract comes as its dependency), production only.
FROM node AS installed
COPY --from=packages /packs /packs
RUN npm install --no-save --omit=dev --no-audit --no-fund \
      /packs/foobar-tsgi-*.tgz /packs/foobar-gateway-*.tgz

# The image: the installed gateway, the hello app and the health check (the last stage, so no
# --target). /app is a project of its own: ES modules, the gateway's command on PATH.
FROM node
# WEB_CONCURRENCY: Gunicorn's variable for the number of workers; 2 shows the pre-fork master
# with workers even on the seed's plain `docker run`. Override it with `-e WEB_CONCURRENCY=N`.
ENV NODE_ENV=production PORT=8000 WEB_CONCURRENCY=2 PATH=/app/node_modules/.bin:$PATH
RUN echo '{ "private": true, "type": "module" }' > package.json
COPY --from=installed /app/node_modules node_modules
# The teaching page (a browser gets it, curl gets "Hello, World!", as with `npm start`): its four
# modules from @foobar/app import nothing but each other and node:os, so they are copied alone
# rather than installing the demo package with its frameworks.
COPY --from=packages /src/app/dist/hello.js /src/app/dist/hello-page.js \
     /src/app/dist/middleware-trail.js /src/app/dist/describe-value.js hello/
COPY docker/healthcheck.js docker/healthcheck.js
# The code is root's and read-only to the process, which runs as the image's unprivileged user.
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "docker/healthcheck.js"]
# The gateway is PID 1 (exec form, no shell in between) and handles SIGTERM itself: a graceful
# stop closes its listener at once and finishes the requests in flight.
ENTRYPOINT ["gateway"]
CMD ["hello/hello-page.js:helloPage"]
