# shellcheck shell=bash
# debian_mirror: the Debian mirror this machine's apt uses (VM_MIRROR overrides it), without a trailing slash.
# Sourced by scripts/vm/build-image.sh and scripts/lib/debian-download.sh, so the VM images and the packages
# come from the same archive the host installs from.
debian_mirror() {
  local m="${VM_MIRROR:-}"
  if [ -z "$m" ] && compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    # deb822: the URIs line of a stanza whose URI ends in /debian (not debian-security)
    m=$(awk '/^URIs:/{ if ($2 ~ /\/debian\/?$/) { print $2; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list || true)
  fi
  m="${m:-http://deb.debian.org/debian}"
  echo "${m%/}"
}
