#!/usr/bin/env bash
# Installs the DIY Device Cloud device service on a board; run as root (through sudo). Its payload
# (config, CA, certificate, key, unit[, bridge files]) arrives on stdin, so the key never appears in
# argv or in a log; the service bundle (a megabyte, not secret) was copied to $1/device.js
# beforehand. Idempotent: a second run with the same payload leaves the same files and only restarts
# the service.
#
# infra/render/device-install.ts renders it for one board: that board's values (DEVICE_ID, the role
# flags, the bundle's SHA-256, the paths from infra/render/device-paths.ts) above this text, and
# device-lib.sh where it is sourced below. The rendered script is the one file that ships.
# $1: the directory the non-secret files were copied to (remote.CopyToRemote, in the SSH user's home).
# DIY_ROOT (a directory used as /) and DIY_SYSTEMCTL (the systemctl command) exist for tests.
set -euo pipefail
shopt -s nullglob
umask 077

# The OS table. What each supported release ships for the service (Node 18+; libgpiod's tools 1.6 or 2.x):
#   Debian 12 bookworm, Raspberry Pi OS bookworm   nodejs 18, gpiod 1.6
#   Debian 13 trixie, Raspberry Pi OS trixie       nodejs 20, gpiod 2.2   (the bundle targets node18: it runs)
#   Ubuntu 24.04                                   nodejs 18, gpiod 2.x
# Raspberry Pi OS 64-bit says ID=debian (arm64); 32-bit says ID=raspbian (armhf, built for ARMv6 and up, so it
# also runs on a Pi Zero/Zero W/1). Debian's own nodejs exists for arm64, armhf and amd64 (and armel), but V8 on
# an ARMv6 CPU is not something this project can check: there the install goes on only if `node` really runs.
readonly SUPPORTED="Debian 12 or 13, Raspberry Pi OS bookworm or trixie (64-bit arm64 or 32-bit armhf) or Ubuntu 24.04+, on arm64, armhf or amd64"

readonly STAGED="${1:-}"
# shellcheck source-path=SCRIPTDIR source=device-lib.sh
source "${BASH_SOURCE[0]%/*}/device-lib.sh"

STAGING=
APT_UPDATED=0

cleanup() { if [ -n "$STAGING" ]; then rm -rf "$STAGING"; fi; }
trap cleanup EXIT

# Splits the payload into $STAGING/<name>: sections are base64 so any byte survives the pipe.
read_payload() {
  STAGING="$(mktemp -d)"
  cat > "$STAGING/payload"
  if [ "$(head -n 1 "$STAGING/payload")" != "$PAYLOAD_MAGIC" ]; then
    die "stdin holds no diy-device payload: run this script through the provisioner (pulumi up), which sends one"
  fi
  if [ "$(tail -n 1 "$STAGING/payload")" != "$PAYLOAD_END" ]; then
    die "the payload on stdin is incomplete (connection dropped?): nothing was changed"
  fi
  awk -v dir="$STAGING" -v end="$PAYLOAD_END" '
    /^=file [a-z0-9][a-z0-9.-]*$/ { out = dir "/" $2 ".b64"; printf "" > out; next }
    $0 == end { out = ""; next }
    out != "" { print > out }
  ' "$STAGING/payload"
  rm -f "$STAGING/payload"
  local f
  for f in "$STAGING"/*.b64; do
    base64 -d "$f" > "${f%.b64}"
    rm -f "$f"
  done
  for f in "${REQUIRED_FILES[@]}"; do
    [ -s "$STAGING/$f" ] || die "the payload has no $f: nothing was changed"
  done
}

sha256_of() {
  local out
  out="$(sha256sum < "$1")"
  printf '%s\n' "${out%% *}"
}

# The bundle the stack built, into $STAGING: the copy in $STAGED, or the one already installed when
# it is the same file (nothing to copy). Anything else is refused before the board is changed.
stage_bundle() {
  if [ -n "$STAGED" ] && [ -f "$STAGED/device.js" ]; then
    cp -- "$STAGED/device.js" "$STAGING/device.js"
    if [ "$(sha256_of "$STAGING/device.js")" = "$BUNDLE_SHA256" ]; then return 0; fi
    log "warning: $STAGED/device.js is not the bundle this stack built"
  fi
  if [ -f "$ROOT$BUNDLE_FILE" ] && [ "$(sha256_of "$ROOT$BUNDLE_FILE")" = "$BUNDLE_SHA256" ]; then
    cp -- "$ROOT$BUNDLE_FILE" "$STAGING/device.js"
    return 0
  fi
  die "the device service bundle (sha256 $BUNDLE_SHA256) is not in ${STAGED:-the directory given as \$1}: pulumi up copies it there before the install (resource <name>-device-$DEVICE_ID-files); after re-flashing the board, pulumi up --replace that resource: nothing was changed"
}

os_field() {
  local line value
  while IFS= read -r line; do
    case "$line" in
      "$1="*)
        value="${line#*=}"
        value="${value#\"}"
        printf '%s\n' "${value%\"}"
        return 0
        ;;
    esac
  done < "$ROOT/etc/os-release"
}

node_major() {
  if command -v node > /dev/null 2>&1; then
    node -e 'console.log(process.versions.node.split(".")[0])' 2> /dev/null || echo 0
  else
    echo 0
  fi
}

# A node that is installed but dies at once (SIGILL on a CPU its build does not support) is no node at all.
check_node_runs() {
  if node -e 0 > /dev/null 2>&1; then return 0; fi
  if [ "$(uname -m 2> /dev/null || true)" = armv6l ]; then
    die "node is installed but does not run on this ARMv6 CPU (Raspberry Pi Zero, Zero W or 1): the device service needs a Node 18+ built for ARMv6, installed by hand, or a board with ARMv7 or later (Pi Zero 2 W, 3, 4, 5)"
  fi
  die "node is installed but does not run here (try: node --version): the device service needs a working Node 18 or later"
}

check_platform() {
  local arch id version name major min
  arch="$(dpkg --print-architecture 2> /dev/null || true)"
  case "$arch" in
    arm64 | armhf | amd64) ;;
    "") die "cannot tell the architecture (no dpkg): supported are $SUPPORTED" ;;
    *) die "unsupported architecture $arch: supported are $SUPPORTED" ;;
  esac
  [ -r "$ROOT/etc/os-release" ] || die "cannot read /etc/os-release: supported are $SUPPORTED"
  id="$(os_field ID)"
  version="$(os_field VERSION_ID)"
  name="$(os_field PRETTY_NAME)"
  name="${name:-$id $version}"
  case "$id" in
    debian | raspbian) min=12 ;;
    ubuntu) min=24 ;;
    *) die "unsupported OS $name: supported are $SUPPORTED" ;;
  esac
  # Debian testing and sid carry no VERSION_ID and are newer than any release.
  major="${version%%.*}"
  if [ -n "$major" ] && { ! [[ "$major" =~ ^[0-9]+$ ]] || [ "$major" -lt "$min" ]; }; then
    if [ "$(node_major)" -ge 18 ]; then
      log "warning: $name is older than supported; going on because Node $(node_major) is installed"
    else
      die "unsupported OS $name: its nodejs is older than Node 18, which the device service needs; supported are $SUPPORTED"
    fi
  fi
  log "platform: $name on $arch ($(uname -m 2> /dev/null || echo unknown CPU))"
}

apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    apt_get update
    APT_UPDATED=1
  fi
  apt_get install -y --no-install-recommends "$@"
}

# ensure_package PACKAGE COMMAND: installs PACKAGE from the OS when COMMAND is missing.
ensure_package() {
  if command -v "$2" > /dev/null 2>&1; then return 0; fi
  log "installing $1 from the OS packages"
  apt_install "$1"
  remember "$1"
}

ensure_user() {
  if ! getent group "$USER_NAME" > /dev/null; then groupadd --system "$USER_NAME"; fi
  if ! getent passwd "$USER_NAME" > /dev/null; then
    useradd --system --gid "$USER_NAME" --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin --comment "DIY Device Cloud device service" "$USER_NAME"
  fi
  if [ "$NEED_GPIO_GROUP" -eq 1 ] && ! getent group gpio > /dev/null; then
    groupadd --system gpio
    remember group:gpio
  fi
  # Raspberry Pi OS and BeagleBone images have a gpio group owning the GPIO devices.
  if getent group gpio > /dev/null; then usermod -a -G gpio "$USER_NAME"; fi
}

# put MODE OWNER SOURCE DEST: a new file is renamed into place, so no reader sees half of one.
put() {
  local dest="$ROOT$4"
  [ -d "${dest%/*}" ] || install -d -m 0755 "${dest%/*}"
  install -m "$1" "$3" "$dest.diy-new"
  chown "$2" "$dest.diy-new"
  mv -f "$dest.diy-new" "$dest"
}

# directory MODE OWNER PATH
directory() {
  install -d -m "$1" "$ROOT$3"
  chown "$2" "$ROOT$3"
  chmod "$1" "$ROOT$3"
}

install_files() {
  directory 0755 root:root "$OPT_DIR"
  put 0644 root:root "$STAGING/device.js" "$BUNDLE_FILE"
  directory 0750 "root:$USER_NAME" "$ETC_DIR"
  put 0640 "root:$USER_NAME" "$STAGING/config.json" "$CONFIG_FILE"
  put 0644 root:root "$STAGING/ca.pem" "$CA_FILE"
  put 0644 root:root "$STAGING/device.pem" "$CERT_FILE"
  put 0640 "root:$USER_NAME" "$STAGING/device.key" "$KEY_FILE"
  directory 0750 "$USER_NAME:$USER_NAME" "$STATE_DIR"
  put 0644 root:root "$STAGING/diy-device.service" "$UNIT_FILE"
  if [ -s "$STAGING/udev.rules" ]; then
    put 0644 root:root "$STAGING/udev.rules" "$UDEV_RULES_FILE"
  else
    rm -f "$ROOT$UDEV_RULES_FILE"
  fi
  # Apply the LED and gpiochip permissions now rather than at the next boot.
  if systemd_running && command -v udevadm > /dev/null 2>&1; then
    udevadm control --reload-rules
    udevadm trigger --action=change --subsystem-match=leds --subsystem-match=gpio
    udevadm settle --timeout=10 || true
  fi
}

install_bridge() {
  local f
  for f in bridge.conf bridge.acl bridge.passwd bridge.pem bridge.key; do
    [ -s "$STAGING/$f" ] || die "bridge role: the payload has no $f"
  done
  directory 0750 root:mosquitto "$BRIDGE_DIR"
  put 0644 root:root "$STAGING/ca.pem" "$BRIDGE_CA_FILE"
  # The bridge connection's own identity, not the device service's (the cloud binds client id to CN).
  put 0644 root:root "$STAGING/bridge.pem" "$BRIDGE_CERT_FILE"
  # mosquitto drops root before it reads files: its group must read the key, ACL and passwords.
  put 0640 root:mosquitto "$STAGING/bridge.key" "$BRIDGE_KEY_FILE"
  put 0640 root:mosquitto "$STAGING/bridge.acl" "$BRIDGE_ACL_FILE"
  # The payload carries user:password lines; mosquitto_passwd -U replaces them with salted hashes.
  mosquitto_passwd -U "$STAGING/bridge.passwd"
  put 0640 root:mosquitto "$STAGING/bridge.passwd" "$BRIDGE_PASSWD_FILE"
  put 0644 root:root "$STAGING/bridge.conf" "$BRIDGE_CONF"
  if systemd_running; then
    "${SYSTEMCTL[@]}" enable mosquitto.service
    "${SYSTEMCTL[@]}" restart mosquitto.service
  fi
}

start_service() {
  if ! systemd_running; then
    log "systemd is not running here: $UNIT is installed and enabled at the next boot"
    return 0
  fi
  "${SYSTEMCTL[@]}" daemon-reload
  "${SYSTEMCTL[@]}" enable "$UNIT"
  "${SYSTEMCTL[@]}" restart "$UNIT"
  if ! "${SYSTEMCTL[@]}" is-active --quiet "$UNIT"; then
    log "warning: $UNIT is not active yet; see: journalctl -u $UNIT"
  fi
}

main() {
  require_root
  read_payload
  stage_bundle
  check_platform
  ensure_package nodejs node
  check_node_runs
  if [ "$(node_major)" -lt 18 ]; then die "Node $(node_major) is too old: the device service needs Node 18 or later"; fi
  if [ "$NEED_GPIOD" -eq 1 ]; then ensure_package gpiod gpioset; fi
  if [ "$BRIDGE" -eq 1 ]; then ensure_package mosquitto mosquitto; fi
  ensure_user
  install_files
  if [ "$BRIDGE" -eq 1 ]; then install_bridge; else remove_bridge; fi
  start_service
  log "installed"
}

main "$@"
