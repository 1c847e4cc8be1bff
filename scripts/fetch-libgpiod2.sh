#!/usr/bin/env bash
# Fetches Debian 13's libgpiod 2 command-line tools (packages gpiod, libgpiod3 and the libc6 they need) with
# apt from Debian's archive and unpacks them into a cache OUTSIDE the repo, so that tests can run the real
# 2.x gpioinfo/gpioset/gpiomon on this Debian 12 machine (through trixie's own dynamic loader; no chip is
# needed for version and option checks). Prints the directory of wrapper scripts last:
#   <cache>/bin/{gpioinfo,gpioset,gpiomon}
#
#   GPIOD2_CACHE_DIR=/path     cache root (default ~/.cache/diy-device-cloud/libgpiod2)
#   GPIOD2_MIRROR=http://...   Debian mirror (default http://deb.debian.org/debian)
# Needs apt-get and dpkg-deb (any Debian); no root: apt runs on private state in the cache.
set -euo pipefail

SUITE=trixie
PACKAGES=(gpiod libgpiod3 libc6)
MIRROR="${GPIOD2_MIRROR:-http://deb.debian.org/debian}"
CACHE="${GPIOD2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diy-device-cloud/libgpiod2}"
ARCH="$(dpkg --print-architecture)"

if [ -x "$CACHE/bin/gpioset" ] && "$CACHE/bin/gpioset" --version > /dev/null 2>&1; then
  echo "$CACHE/bin"
  exit 0
fi

rm -rf "$CACHE"
mkdir -p "$CACHE"/apt/{lists/partial,cache/archives/partial,etc/sources.list.d,etc/preferences.d} "$CACHE/debs" "$CACHE/root" "$CACHE/bin"
cat > "$CACHE/apt/etc/sources.list.d/$SUITE.sources" << EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE
Components: main
Architectures: $ARCH
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
: > "$CACHE/apt/etc/sources.list"
apt_opts=(
  -o "Dir::State=$CACHE/apt" -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::State::status=/var/lib/dpkg/status"
  -o "Dir::Cache=$CACHE/apt/cache" -o "Dir::Etc::SourceList=$CACHE/apt/etc/sources.list"
  -o "Dir::Etc::SourceParts=$CACHE/apt/etc/sources.list.d" -o "Dir::Etc::PreferencesParts=$CACHE/apt/etc/preferences.d"
  -o "APT::Architectures::=$ARCH" -o "APT::Sandbox::User=root" -q
)
apt-get "${apt_opts[@]}" update > "$CACHE/apt.log" 2>&1 || { cat "$CACHE/apt.log" >&2; exit 1; }
(cd "$CACHE/debs" && apt-get "${apt_opts[@]}" download "${PACKAGES[@]/%/:$ARCH}" >> "$CACHE/apt.log" 2>&1) ||
  { cat "$CACHE/apt.log" >&2; exit 1; }
for deb in "$CACHE"/debs/*.deb; do dpkg-deb -x "$deb" "$CACHE/root"; done

loader="$(find "$CACHE/root" -name 'ld-linux*.so.*' -type f | head -n 1)"
libdir="$(dirname "$(find "$CACHE/root" -name 'libgpiod.so.3' | head -n 1)")"
if [ -z "$loader" ] || [ ! -d "$libdir" ]; then
  echo "fetch-libgpiod2: no loader or libgpiod.so.3 in the packages" >&2
  exit 1
fi
for t in gpioinfo gpioset gpiomon gpioget gpiodetect; do
  # --argv0: the tools print argv[0] in their messages, as they would when run by that path.
  # shellcheck disable=SC2016 # $0 and $@ belong to the wrapper
  printf '#!/bin/sh\nexec "%s" --library-path "%s" --argv0 "$0" "%s" "$@"\n' "$loader" "$libdir:$(dirname "$loader")" \
    "$CACHE/root/usr/bin/$t" > "$CACHE/bin/$t"
  chmod 0755 "$CACHE/bin/$t"
done
"$CACHE/bin/gpioset" --version > /dev/null
echo "$CACHE/bin"
