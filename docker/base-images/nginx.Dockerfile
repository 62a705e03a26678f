# Stand-in for the official nginx image (nginx:1.30-trixie) where no registry is reachable:
# Debian forky's nginx package (debootstrapped with it: build-local-base-images.sh), arranged as
# the official image is (conf.d/*.conf included in http{}, logs to stdout/stderr, an entry point
# that runs /docker-entrypoint.d/*.sh before nginx, graceful SIGQUIT stop,
# `nginx -g 'daemon off;'`), so the project's config and scripts run unchanged.
ARG NGINX_SYSTEM_IMAGE=foobar-base/debian:forky-nginx
FROM ${NGINX_SYSTEM_IMAGE}
COPY nginx-entrypoint.sh /docker-entrypoint.sh
RUN rm -f /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && mkdir /docker-entrypoint.d \
 && nginx -v
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
