# Stand-in for the official debian:trixie-slim (the base of wsgi/Dockerfile) where no registry is
# reachable: the bookworm stand-in moved to trixie the way Debian moves any system to its next
# release (sources to trixie, `apt-get full-upgrade`), then cleaned like the official image.
ARG DEBIAN_IMAGE=foobar-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN sed -i 's/ bookworm / trixie /' /etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get full-upgrade -y --no-install-recommends \
 && apt-get autoremove --purge -y \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && grep -q '^VERSION_CODENAME=trixie$' /etc/os-release
CMD ["bash"]
