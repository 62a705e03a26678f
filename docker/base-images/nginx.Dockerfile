# Stand-in for the official nginx image where no registry is reachable: Debian's nginx package,
# arranged as the official image is (conf.d/*.conf included in http{}, logs to stdout/stderr,
# graceful SIGQUIT stop, `nginx -g 'daemon off;'`), so the project's config runs unchanged.
ARG DEBIAN_IMAGE=foobar-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
