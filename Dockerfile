# The gateway image: the foobar gateway with the compiled demo app side (tsgi/, gateway/, app/),
# serving the hello app unless CMD names another app. One file builds it under every name:
#
#   Dockerfile          `docker build -t foobar .`: the seed's image; `docker run -p 8000:8000 foobar`
#                       serves hello from a pre-fork master with 2 workers ($WEB_CONCURRENCY).
#   Dockerfile.gateway  a link to this file: `docker build -f Dockerfile.gateway -t foobar/gateway .`
#                       is the same image, read as a base for any TSGI app (as people use
#                       Gunicorn images): put your compiled app in /app and name it in CMD.
#   Dockerfile.app      `FROM foobar/gateway` + the demo app's CMD (app/index.ts): a second
#                       name for the same layers, so no build step is written twice.
#
# NODE_IMAGE is the official Node 24 LTS image by default. Without a registry, run
# docker/build-local-base-images.sh first: it makes a local stand-in under the same name.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS node
WORKDIR /app

# Compile TypeScript with the full toolchain; none of it reaches the final image.
FROM node AS build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY tsgi tsgi
COPY gateway gateway
COPY app app
RUN npm run build \
 && find dist \( -name '*.d.ts' -o -name '*.map' \) -delete

# The dependencies the code needs at run time (no TypeScript, no test tools).
FROM build AS production-dependencies
RUN npm prune --omit=dev --no-audit --no-fund

# The image: production dependencies and the compiled code (the last stage, so no --target).
FROM node
# WEB_CONCURRENCY: Gunicorn's variable for the number of workers; 2 shows the pre-fork master
# with workers even on the seed's plain `docker run`. Override it with `-e WEB_CONCURRENCY=N`.
ENV NODE_ENV=production PORT=8000 WEB_CONCURRENCY=2
COPY --from=production-dependencies /app/node_modules node_modules
COPY package.json ./
COPY --from=build /app/dist dist
COPY docker/healthcheck.js docker/healthcheck.js
# The code is root's and read-only to the process, which runs as the image's unprivileged user.
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "docker/healthcheck.js"]
# node is PID 1 and handles SIGTERM itself (graceful stop: it closes its listener at once and
# finishes the requests in flight); exec form, so no shell in between.
ENTRYPOINT ["node", "dist/gateway/cli.js"]
CMD ["dist/app/hello.js"]
