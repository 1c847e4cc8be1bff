#!/usr/bin/env bash
# Puts the cloud-config JSON schema of Debian 13's cloud-init (25.1, the strict one that also reports
# unknown top-level keys) where the unit tier reads it: test/unit/cloud-init-schema.ts validates every
# stack's user data against it. The package comes from the Debian archive through apt itself (signed
# Release files checked against the host's debian-archive-keyring), with a private apt state, so the
# host's own sources and package lists are untouched and no root is needed.
#
#   scripts/cloud-init-schema.sh            fetch once (a cached copy is kept); prints the directory
#   scripts/cloud-init-schema.sh --refresh  fetch the current trixie package again
#   DIY_CLOUD_INIT_SCHEMA_DIR=/path         where to keep it (default ~/.cache/diy-device-cloud/cloud-init-schema)
#
# Output: schema-cloud-config-v1.json (as the package ships it) and SOURCE.txt beside it naming the
# package, its version, the .deb's sha256 and its licence (cloud-init is dual GPL-3 / Apache-2.0).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/debian-download.sh
. scripts/lib/debian-download.sh

SUITE=trixie
SCHEMA_PATH=usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json
OUT="${DIY_CLOUD_INIT_SCHEMA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diy-device-cloud/cloud-init-schema}"

if [ "${1:-}" != "--refresh" ] && [ -s "$OUT/schema-cloud-config-v1.json" ] && [ -s "$OUT/SOURCE.txt" ]; then
  echo "$OUT"
  exit 0
fi
for tool in apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "cloud-init-schema: missing $tool" >&2; exit 1; }
done

MIRROR=$(debian_mirror)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
debian_download "$SUITE" "$WORK/deb" cloud-init
deb=$(find "$WORK/deb" -name 'cloud-init_*.deb' | head -1)
[ -n "$deb" ] || { echo "cloud-init-schema: apt downloaded no cloud-init package" >&2; exit 1; }
dpkg-deb -x "$deb" "$WORK/root"
[ -s "$WORK/root/$SCHEMA_PATH" ] || { echo "cloud-init-schema: $SCHEMA_PATH not in $(basename "$deb")" >&2; exit 1; }

mkdir -p "$OUT"
cp "$WORK/root/$SCHEMA_PATH" "$OUT/schema-cloud-config-v1.json.new"
{
  echo "package: cloud-init $(dpkg-deb -f "$deb" Version) (Debian $SUITE, $MIRROR)"
  echo "file: /$SCHEMA_PATH"
  echo "deb sha256: $(sha256sum "$deb" | cut -d' ' -f1)"
  echo "fetched: $(date -u +%FT%TZ) by scripts/cloud-init-schema.sh"
  echo "licence: cloud-init is dual-licensed GPL-3 or Apache-2.0 (the package's copyright file follows)"
  echo "----"
  cat "$WORK/root/usr/share/doc/cloud-init/copyright"
} >"$OUT/SOURCE.txt.new"
mv "$OUT/schema-cloud-config-v1.json.new" "$OUT/schema-cloud-config-v1.json"
mv "$OUT/SOURCE.txt.new" "$OUT/SOURCE.txt"
echo "$OUT"
