# The demo app image: app/index.ts (hello, routing, the framework adapters, the proxy, XSLT) on
# the gateway, `docker build -f Dockerfile.app -t foobar/app .`. The same stages as Dockerfile
# up to the packed tarballs (the same text, so the build cache holds them once); it then
# installs @foobar/app beside the gateway, with the framework dependencies only this image needs.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS node
WORKDIR /app

FROM node AS packages
WORKDIR /src
COPY . .
RUN docker/pack-workspaces.sh /packs

FROM node AS installed
COPY --from=packages /packs /packs
RUN npm install --no-save --omit=dev --no-audit --no-fund \
      /packs/foobar-tsgi-*.tgz /packs/foobar-gateway-*.tgz /packs/foobar-app-*.tgz

# The image: as Dockerfile's, serving the demo app, an installed package named by its name
# (as `gunicorn myproject.wsgi`).
FROM node
ENV NODE_ENV=production PORT=8000 WEB_CONCURRENCY=2 PATH=/app/node_modules/.bin:$PATH
RUN echo '{ "private": true, "type": "module" }' > package.json
COPY --from=installed /app/node_modules node_modules
COPY docker/healthcheck.js docker/healthcheck.js
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "docker/healthcheck.js"]
ENTRYPOINT ["gateway"]
CMD ["@foobar/app"]
