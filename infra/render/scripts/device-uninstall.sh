#!/usr/bin/env bash
# Uninstalls the DIY Device Cloud device service from a board; run as root (through sudo). Stops and
# disables the service and removes its files, user, bridge role and the packages and groups the
# installer added. Safe to run again, or on a board that never had it.
#
# infra/render/device-install.ts renders it for one board: that board's values (DEVICE_ID, the paths
# from infra/render/device-paths.ts) above this text, and device-lib.sh where it is sourced below.
# $1: the directory the non-secret files were copied to (remote.CopyToRemote, in the SSH user's home).
# DIY_ROOT (a directory used as /) and DIY_SYSTEMCTL (the systemctl command) exist for tests.
set -euo pipefail
shopt -s nullglob
umask 077

readonly STAGED="${1:-}"
# shellcheck source-path=SCRIPTDIR source=device-lib.sh
source "${BASH_SOURCE[0]%/*}/device-lib.sh"

main() {
  require_root
  if systemd_running; then
    "${SYSTEMCTL[@]}" disable --now "$UNIT" || true
  fi
  rm -f "$ROOT$UNIT_FILE" "$ROOT$UDEV_RULES_FILE"
  if systemd_running; then
    "${SYSTEMCTL[@]}" daemon-reload
    "${SYSTEMCTL[@]}" reset-failed "$UNIT" 2> /dev/null || true
    if command -v udevadm > /dev/null 2>&1; then udevadm control --reload-rules; fi
  fi
  remove_bridge
  purge_if_ours gpiod
  purge_if_ours nodejs
  if getent passwd "$USER_NAME" > /dev/null; then userdel "$USER_NAME"; fi
  if getent group "$USER_NAME" > /dev/null; then groupdel "$USER_NAME"; fi
  if installed_by_us group:gpio && getent group gpio > /dev/null; then groupdel gpio; fi
  rm -rf "$ROOT$OPT_DIR" "$ROOT$ETC_DIR" "$ROOT$STATE_DIR"
  # The copies the provisioner left in the SSH user's home (its CopyToRemote never deletes).
  if [ -n "$STAGED" ]; then
    local f
    for f in "${STAGED_FILES[@]}"; do rm -f -- "$STAGED/$f"; done
    rmdir -- "$STAGED" 2> /dev/null || true
  fi
  log "uninstalled"
}

main "$@"
