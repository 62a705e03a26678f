# Sourced by the docker/ scripts: prints the Debian mirror to use, from $DEBIAN_MIRROR or else the
# host's own apt configuration (the first non-security archive URI in /etc/apt/sources.list and
# /etc/apt/sources.list.d/, one-line or deb822 format). No mirror host is built in: a machine
# whose apt reaches Debian somewhere (a local mirror, a proxy, a snapshot) uses that same place.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
      2>/dev/null |
      awk '
        /^[[:space:]]*deb[[:space:]]/ {           # one-line: deb [options] URI suite components
          for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break }
        }
        /^URIs:/ { for (i = 2; i <= NF; i++) print $i }   # deb822
      ' |
      grep -v -- '-security' | head -n 1 || true
  )
  if [ -z "$uri" ]; then
    echo "debian-mirror: no Debian mirror in the host's apt sources; set DEBIAN_MIRROR=http://…/debian" >&2
    return 1
  fi
  echo "$uri"
}
