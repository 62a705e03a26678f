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

# Downloads the packages named (`apt-get download` specs: `name`, `name=version`, `name/release`)
# from Debian RELEASE into DIR, with a private apt state (its own sources, lists and cache in a
# scratch dir, run as root, unsandboxed): the host's apt sources, lists and installed packages
# stay as they are. Used for what the host's release lacks or has too old.
# Usage: download_from_release RELEASE DIR SPEC...
download_from_release() {
  local release=$1 dir=$2 scratch mirror status=0
  shift 2
  mirror=$(debian_mirror) || return 1
  scratch=$(mktemp -d /tmp/foobar-apt.XXXXXX)
  mkdir -p "$scratch"/{lists/partial,cache/archives/partial} "$dir"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $release main" \
    >"$scratch/sources.list"
  local private_apt=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o APT::Sandbox::User=root -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache=$scratch/cache")
  apt-get "${private_apt[@]}" update -qq &&
    (cd "$dir" && apt-get "${private_apt[@]}" download -qq "$@") || status=$?
  rm -rf "$scratch"
  return "$status"
}
