# Stand-in for the official nginx image (nginx:1.30-trixie) where no registry is reachable:
# Debian forky's nginx package (debootstrapped with it: build-local-base-images.sh), arranged as
# the official image is (conf.d/*.conf included in http{}, logs to stdout/stderr, an entry point
# that runs /docker-entrypoint.d/*.sh before nginx, graceful SIGQUIT stop,
# `nginx -g 'daemon off;'`), so the project's config and scripts run unchanged. Also as the
# official image for an unprivileged nginx: its `nginx` user is uid/gid 101 (what compose.yaml,
# docker/stack.yaml and k8s/ run nginx as), its pid file is /run/nginx.pid and its temp files go
# under /var/cache/nginx (Debian's package puts them under /var/lib/nginx, and runs workers as
# www-data), so one tmpfs per path serves both images.
ARG NGINX_SYSTEM_IMAGE=foobar-base/debian:forky-nginx
FROM ${NGINX_SYSTEM_IMAGE}
COPY nginx-entrypoint.sh /docker-entrypoint.sh
RUN rm -f /etc/nginx/sites-enabled/default \
 && groupadd --system --gid 101 nginx \
 && useradd --system --uid 101 --gid nginx --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nginx \
 && sed -i 's/^user www-data;/user nginx;/' /etc/nginx/nginx.conf \
 && grep -q '^user nginx;' /etc/nginx/nginx.conf \
 && grep -q '^pid /run/nginx.pid;' /etc/nginx/nginx.conf \
 && rmdir /var/lib/nginx && mkdir -p /var/cache/nginx && ln -s /var/cache/nginx /var/lib/nginx \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && mkdir /docker-entrypoint.d \
 && nginx -v
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
