# The project's images, built from this one file (Dockerfile.gateway and Dockerfile.app are links
# to it, so no build step is written twice; each name picks its image):
#
#   Dockerfile          `docker build -t foobar .`: the gateway serving the hello app — nothing else.
#   Dockerfile.gateway  `docker build -f Dockerfile.gateway -t foobar/gateway .`: the same image
#                       read as a base for any TSGI app, as people use Gunicorn images: put your
#                       compiled app in /app and name it in CMD (`CMD ["app.js:handler"]`); tune
#                       it with $PORT, $WEB_CONCURRENCY, $FORWARDED_ALLOW_IPS, $GATEWAY_CMD_ARGS.
#                       Unless CMD says otherwise it serves the hello app, as a welcome page.
#   Dockerfile.app      `--target app` (what compose.yaml runs): the same runtime with the demo app.
#
# NODE_IMAGE is the official Node image by default. Without a registry, run
# docker/build-local-base-images.sh first: it makes a local stand-in under the same name.
ARG NODE_IMAGE=node:20-bookworm-slim

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

# The gateway runtime: production dependencies, the compiled gateway, and no app yet.
FROM node AS runtime
ENV NODE_ENV=production PORT=8000
COPY --from=production-dependencies /app/node_modules node_modules
COPY package.json ./
COPY --from=build /app/dist/tsgi dist/tsgi
COPY --from=build /app/dist/gateway dist/gateway
COPY docker/healthcheck.js docker/healthcheck.js
# The code is root's and read-only to the process, which runs as the image's unprivileged user.
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "docker/healthcheck.js"]
# node is PID 1 and handles SIGTERM itself (graceful stop); exec form, so no shell in between.
ENTRYPOINT ["node", "dist/gateway/cli.js"]

# The demo app (app/index.ts) on the gateway: what compose.yaml runs behind nginx.
FROM runtime AS app
COPY --from=build /app/dist/app dist/app
CMD ["dist/app/index.js"]

# The default target: the gateway and the hello app, nothing else (the foobar image).
FROM runtime AS gateway
COPY --from=build /app/dist/app/hello.js dist/app/hello.js
CMD ["dist/app/hello.js"]
