# shellcheck shell=bash
# What device-install.sh and device-uninstall.sh share: their settings from the environment and the
# helpers that log, remember what the installer added, and take the bridge role away again. Not run
# on its own: infra/render/device-install.ts writes it into each script where that script sources it.
# Its values (DEVICE_ID, USER_NAME, UNIT, ETC_DIR, BRIDGE_CONF, BRIDGE_DIR) are rendered above it.

readonly ROOT="${DIY_ROOT:-}"
read -r -a SYSTEMCTL <<< "${DIY_SYSTEMCTL:-systemctl}"
# Packages and groups this script added, so that uninstall removes those and nothing else.
readonly MARKERS="$ROOT$ETC_DIR/.installed-by-diy"

log() { printf 'diy-device[%s]: %s\n' "$DEVICE_ID" "$*"; }
die() { printf 'diy-device[%s]: ERROR: %s\n' "$DEVICE_ID" "$*" >&2; exit 1; }
systemd_running() { [ -d "$ROOT/run/systemd/system" ]; }
installed_by_us() { [ -f "$MARKERS" ] && grep -qx "$1" "$MARKERS"; }

require_root() {
  if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then die "run as root (the provisioner runs this through sudo -n)"; fi
}

# apt-get as the provisioner runs it: no questions, waiting up to five minutes for another apt to finish.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q "$@"; }

remember() {
  install -d -m 0750 "${MARKERS%/*}"
  installed_by_us "$1" || printf '%s\n' "$1" >> "$MARKERS"
}

forget() {
  if [ -f "$MARKERS" ]; then
    grep -vx "$1" "$MARKERS" > "$MARKERS.new" || true
    mv -f "$MARKERS.new" "$MARKERS"
  fi
}

purge_if_ours() {
  if installed_by_us "$1"; then
    log "removing $1, which the installer added"
    apt_get purge -y --auto-remove "$1"
    forget "$1"
  fi
}

# Leaves the board's mosquitto as it was before the bridge role: purged when the installer
# added it, otherwise restarted without the bridge drop-in.
remove_bridge() {
  if [ ! -e "$ROOT$BRIDGE_CONF" ] && [ ! -d "$ROOT$BRIDGE_DIR" ]; then return 0; fi
  log "removing the bridge role"
  rm -f "$ROOT$BRIDGE_CONF"
  rm -rf "$ROOT$BRIDGE_DIR"
  if installed_by_us mosquitto; then
    if systemd_running; then "${SYSTEMCTL[@]}" disable --now mosquitto.service || true; fi
    purge_if_ours mosquitto
  elif systemd_running; then "${SYSTEMCTL[@]}" restart mosquitto.service
  fi
}
