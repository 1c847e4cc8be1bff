#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine with Node 20.
#   scripts/setup.sh demo   mosquitto + npm packages: enough for `npm run demo`
#   scripts/setup.sh test   everything the test tiers run for real (daemons, chromium, qemu)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-demo}"

demo_pkgs=(mosquitto mosquitto-clients openssl ca-certificates)
test_pkgs=(
  "${demo_pkgs[@]}"
  nginx fail2ban python3-systemd python3-jinja2 postfix libsasl2-modules cloud-init shellcheck sqlite3
  chromium fonts-liberation systemd gpiod
  qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client genisoimage dosfstools mtools
)
case "$mode" in
  demo) pkgs=("${demo_pkgs[@]}") ;;
  test) pkgs=("${test_pkgs[@]}") ;;
  *) echo "usage: scripts/setup.sh demo|test" >&2; exit 2 ;;
esac

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  # Packages are installed for their binaries: the tests start each daemon themselves, on their own
  # ports and config. policy-rc.d stops the postinst scripts from starting system copies.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  if [ "$had_policy" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '[ "$had_policy" -eq 0 ] && $SUDO rm -f "$policy"' EXIT
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
if [ "$mode" = test ]; then
  # Debian 13's cloud-init schema for the unit tier (test/unit/cloud-init-schema.ts), from the Debian archive.
  echo "setup: cloud-init schema in $(bash scripts/cloud-init-schema.sh)"
  # Debian 13's libgpiod 2 tools, run by test/integration/gpiod-tools.test.ts against the libgpiod 2.2 double.
  echo "setup: libgpiod 2 tools in $(bash scripts/fetch-libgpiod2.sh)"
fi
echo "setup: done ($mode)"
