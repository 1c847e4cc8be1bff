#!/usr/bin/env bash
# Puts Debian 13's libgpiod 2 command-line tools (packages gpiod, libgpiod3, and the libc6 they need) where
# the tests run them on this Debian 12 machine: unpacked into a cache outside the repo and started through
# trixie's own dynamic loader, so the real 2.x gpioinfo/gpioset/gpiomon answer --version and parse their
# options (no GPIO chip is needed for that; test/integration/gpiod-tools.test.ts holds the libgpiod 2.2 double
# against them). The packages come from the Debian archive through apt (scripts/lib/debian-download.sh).
#
#   scripts/fetch-libgpiod2.sh            fetch once (a cached copy is kept); prints the wrappers' directory
#   scripts/fetch-libgpiod2.sh --refresh  fetch the current trixie packages again
#   DIY_LIBGPIOD2_DIR=/path               where to keep them (default ~/.cache/diy-device-cloud/libgpiod2)
#
# Output: <dir>/bin/{gpioinfo,gpioset,gpiomon,gpioget,gpiodetect} wrappers, <dir>/SOURCE.txt (versions, sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/debian-download.sh
. scripts/lib/debian-download.sh

SUITE=trixie
PACKAGES=(gpiod libgpiod3 libc6)
OUT="${DIY_LIBGPIOD2_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diy-device-cloud/libgpiod2}"

if [ "${1:-}" != "--refresh" ] && [ -x "$OUT/bin/gpioset" ] && "$OUT/bin/gpioset" --version >/dev/null 2>&1; then
  echo "$OUT/bin"
  exit 0
fi
for tool in apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "fetch-libgpiod2: missing $tool" >&2; exit 1; }
done

rm -rf "$OUT"
mkdir -p "$OUT/root" "$OUT/bin"
debian_download "$SUITE" "$OUT/debs" "${PACKAGES[@]}"
: >"$OUT/SOURCE.txt"
for deb in "$OUT"/debs/*.deb; do
  dpkg-deb -x "$deb" "$OUT/root"
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) (Debian $SUITE) sha256 $(sha256sum "$deb" | cut -d' ' -f1)" >>"$OUT/SOURCE.txt"
done
rm -rf "$OUT/debs"

loader=$(find "$OUT/root" -name 'ld-linux*.so.*' -type f | head -n 1)
libgpiod=$(find "$OUT/root" -name 'libgpiod.so.3' | head -n 1)
if [ -z "$loader" ] || [ -z "$libgpiod" ]; then
  echo "fetch-libgpiod2: no dynamic loader or libgpiod.so.3 in ${PACKAGES[*]}" >&2
  exit 1
fi
for t in gpioinfo gpioset gpiomon gpioget gpiodetect; do
  # --argv0: the tools print argv[0] in their messages; with it they print the wrapper's path, as if run by it.
  # shellcheck disable=SC2016 # $0 and $@ belong to the wrapper
  printf '#!/bin/sh\nexec "%s" --library-path "%s" --argv0 "$0" "%s" "$@"\n' \
    "$loader" "$(dirname "$libgpiod"):$(dirname "$loader")" "$OUT/root/usr/bin/$t" >"$OUT/bin/$t"
  chmod 0755 "$OUT/bin/$t"
done
"$OUT/bin/gpioset" --version >/dev/null
echo "$OUT/bin"
