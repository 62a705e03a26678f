# The demo app (app/index.ts) on the gateway image: `docker build -f Dockerfile.app -t app .`.
# Every layer comes from the gateway image (Dockerfile, which already holds the compiled app
# side); this file only names the demo app as the command. Build the gateway image first:
#
#   docker build -t foobar/gateway .   (or: -f Dockerfile.gateway; the same image)
#   docker build -f Dockerfile.app -t app .
#
# compose.yaml does not need this file: its services run the gateway image with a `command`.
ARG GATEWAY_IMAGE=foobar/gateway
FROM ${GATEWAY_IMAGE}
CMD ["dist/app/index.js"]
