#!/bin/sh
# Prepares nginx's HTTPS before nginx starts. The official nginx image's entry point runs every
# executable /docker-entrypoint.d/*.sh first (compose.yaml and docker/stack.yaml mount this file
# there), so it runs in the container, at each start — nothing secret is baked into an image.
#
#  1. The certificate: nginx/foobar.conf reads /etc/nginx/tls/tls.crt and tls.key. When both
#     are there (mounted: your own certificate, or a Kubernetes TLS Secret), they are used as
#     they are. Otherwise a self-signed certificate for localhost is made with openssl (in the
#     official image: ca-certificates depends on it): browsers warn about it, curl needs -k.
#  2. The HTTPS-only switch, FOOBAR_HTTPS_ONLY (off by default): `on` writes
#     /etc/nginx/https-only.d/https-only.conf, which foobar.conf's locations include: plain HTTP
#     requests get a permanent redirect (308: the method and body are kept) to the same URL on
#     https://, port FOOBAR_HTTPS_PORT (default 8443: the port clients reach nginx's 8443 on),
#     and every response sends HSTS, so browsers use HTTPS on their own from then on.
#
# Writes only these two directories (nginx itself writes its pid and temp files elsewhere).
set -eu

TLS_DIR=/etc/nginx/tls
SWITCH_DIR=/etc/nginx/https-only.d
me=$(basename "$0")

if [ -s "$TLS_DIR/tls.crt" ] && [ -s "$TLS_DIR/tls.key" ]; then
  echo "$me: using the certificate in $TLS_DIR"
else
  mkdir -p "$TLS_DIR"
  # ECDSA P-256: as strong as RSA-3072, and its handshakes cost the server far less CPU.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$TLS_DIR/tls.key" -out "$TLS_DIR/tls.crt" 2>/dev/null ||
    { echo "$me: cannot write a certificate to $TLS_DIR (read-only, or no openssl)" >&2; exit 1; }
  echo "$me: no certificate mounted in $TLS_DIR: made a self-signed one for localhost (30 days)"
fi

mkdir -p "$SWITCH_DIR"
case "${FOOBAR_HTTPS_ONLY:-off}" in
  on)
    port=${FOOBAR_HTTPS_PORT:-8443}
    authority='$host'
    [ "$port" = 443 ] || authority="\$host:$port"
    cat >"$SWITCH_DIR/https-only.conf" <<CONF
# Written by nginx/tls-setup.sh because FOOBAR_HTTPS_ONLY=on.
if (\$scheme = http) {
    return 308 https://$authority\$request_uri;
}
# One year; browsers honour it over HTTPS only (RFC 6797 §8.1).
add_header Strict-Transport-Security "max-age=31536000" always;
CONF
    echo "$me: HTTPS only: HTTP redirects to https://$authority, HSTS on"
    ;;
  off) rm -f "$SWITCH_DIR/https-only.conf" ;;
  *)
    echo "$me: FOOBAR_HTTPS_ONLY must be on or off, not '$FOOBAR_HTTPS_ONLY'" >&2
    exit 1
    ;;
esac
