// The scripts run on a board over SSH: install (idempotent, payload on stdin) and uninstall, plus
// the one-line remote command that runs either through sudo without putting anything secret in argv.
import { createHash } from "node:crypto";
import { isDeviceId } from "../../protocol";
import { BRIDGE_PATHS, DEVICE_PATHS, DEVICE_UNIT, DEVICE_USER } from "./device-paths";
import { PAYLOAD_END, PAYLOAD_MAGIC, REQUIRED_PAYLOAD_FILES } from "./device-payload";
import { DEFAULT_SOURCE, header, lines } from "./text";

export interface DeviceInstallScriptInput {
  deviceId: string;
  /** Which stack/setting produced the script, written in the header. */
  source?: string;
  /** Install libgpiod's CLI (Debian package `gpiod`) for gpiod backends. */
  gpiod: boolean;
  /** Make sure a `gpio` group exists and the service user is in it (gpiod and sysfs backends). */
  gpioGroup: boolean;
  /** Bridge role: mosquitto with the payload's bridge.conf/acl/passwd; without it they are removed. */
  bridge: boolean;
  /** Hex SHA-256 of the device service bundle the stack built: only that file is installed. */
  bundleSha256: string;
}

export interface DeviceUninstallScriptInput {
  deviceId: string;
  source?: string;
}

/**
 * The OS table. What each supported release ships for the service (Node 18+; libgpiod's tools 1.6 or 2.x):
 *   Debian 12 bookworm, Raspberry Pi OS bookworm   nodejs 18, gpiod 1.6
 *   Debian 13 trixie, Raspberry Pi OS trixie       nodejs 20, gpiod 2.2   (the bundle targets node18: it runs)
 *   Ubuntu 24.04                                   nodejs 18, gpiod 2.x
 * Raspberry Pi OS 64-bit says ID=debian (arm64); 32-bit says ID=raspbian (armhf, built for ARMv6 and up, so it
 * also runs on a Pi Zero/Zero W/1). Debian's own nodejs exists for arm64, armhf and amd64 (and armel), but V8 on
 * an ARMv6 CPU is not something this project can check: there the install goes on only if `node` really runs.
 */
const SUPPORTED =
  "Debian 12 or 13, Raspberry Pi OS bookworm or trixie (64-bit arm64 or 32-bit armhf) or Ubuntu 24.04+, on arm64, armhf or amd64";

function checkId(deviceId: string): string {
  if (!isDeviceId(deviceId)) throw new Error(`deviceId ${JSON.stringify(deviceId)} is not a valid device id`);
  return deviceId;
}

function flag(value: boolean): string {
  return value ? "1" : "0";
}

/** Header, strict mode and the helpers both scripts share. */
function prologue(renderer: string, source: string, deviceId: string, what: string[]): string[] {
  return [
    "#!/usr/bin/env bash",
    ...header("#", renderer, source),
    ...what.map((l) => `# ${l}`),
    "# $1: the directory the non-secret files were copied to (remote.CopyToRemote, in the SSH user's home).",
    "# DIY_ROOT (a directory used as /) and DIY_SYSTEMCTL (the systemctl command) exist for tests.",
    "set -euo pipefail",
    "shopt -s nullglob",
    "umask 077",
    "",
    `readonly DEVICE_ID="${deviceId}"`,
    `readonly USER_NAME="${DEVICE_USER}"`,
    `readonly UNIT="${DEVICE_UNIT}"`,
    'readonly ROOT="${DIY_ROOT:-}"',
    'readonly STAGED="${1:-}"',
    'read -r -a SYSTEMCTL <<< "${DIY_SYSTEMCTL:-systemctl}"',
    "# Packages and groups this script added, so that uninstall removes those and nothing else.",
    `readonly MARKERS="$ROOT${DEVICE_PATHS.etcDir}/.installed-by-diy"`,
    "",
    String.raw`log() { printf 'diy-device[%s]: %s\n' "$DEVICE_ID" "$*"; }`,
    String.raw`die() { printf 'diy-device[%s]: ERROR: %s\n' "$DEVICE_ID" "$*" >&2; exit 1; }`,
    'systemd_running() { [ -d "$ROOT/run/systemd/system" ]; }',
    'installed_by_us() { [ -f "$MARKERS" ] && grep -qx "$1" "$MARKERS"; }',
    "",
    "remember() {",
    '  install -d -m 0750 "${MARKERS%/*}"',
    '  installed_by_us "$1" || printf \'%s\\n\' "$1" >> "$MARKERS"',
    "}",
    "",
    "forget() {",
    '  if [ -f "$MARKERS" ]; then',
    '    grep -vx "$1" "$MARKERS" > "$MARKERS.new" || true',
    '    mv -f "$MARKERS.new" "$MARKERS"',
    "  fi",
    "}",
    "",
    "purge_if_ours() {",
    '  if installed_by_us "$1"; then',
    '    log "removing $1, which the installer added"',
    '    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q purge -y --auto-remove "$1"',
    '    forget "$1"',
    "  fi",
    "}",
    "",
    "# Leaves the board's mosquitto as it was before the bridge role: purged when the installer",
    "# added it, otherwise restarted without the bridge drop-in.",
    "remove_bridge() {",
    `  if [ ! -e "$ROOT${BRIDGE_PATHS.conf}" ] && [ ! -d "$ROOT${BRIDGE_PATHS.dir}" ]; then return 0; fi`,
    '  log "removing the bridge role"',
    `  rm -f "$ROOT${BRIDGE_PATHS.conf}"`,
    `  rm -rf "$ROOT${BRIDGE_PATHS.dir}"`,
    "  if installed_by_us mosquitto; then",
    '    if systemd_running; then "${SYSTEMCTL[@]}" disable --now mosquitto.service || true; fi',
    "    purge_if_ours mosquitto",
    '  elif systemd_running; then "${SYSTEMCTL[@]}" restart mosquitto.service',
    "  fi",
    "}",
  ];
}

export function renderDeviceInstallScript(input: DeviceInstallScriptInput): string {
  const deviceId = checkId(input.deviceId);
  const e = DEVICE_PATHS;
  const b = BRIDGE_PATHS;
  return lines([
    ...prologue("infra/render/device-install.ts", input.source ?? DEFAULT_SOURCE, deviceId, [
      `Installs the DIY Device Cloud device service for "${deviceId}"; run as root (through sudo).`,
      "Its payload (config, CA, certificate, key, unit[, bridge files]) arrives on stdin, so the key",
      "never appears in argv or in a log; the service bundle (a megabyte, not secret) was copied to",
      "$1/device.js beforehand. Idempotent: a second run with the same payload leaves the same files",
      "and only restarts the service.",
    ]),
    "",
    `readonly BUNDLE_SHA256="${sha256Hex(input.bundleSha256)}"`,
    `readonly NEED_GPIOD=${flag(input.gpiod)}`,
    `readonly NEED_GPIO_GROUP=${flag(input.gpioGroup)}`,
    `readonly BRIDGE=${flag(input.bridge)}`,
    "STAGING=",
    "APT_UPDATED=0",
    "",
    'cleanup() { if [ -n "$STAGING" ]; then rm -rf "$STAGING"; fi; }',
    "trap cleanup EXIT",
    "",
    "# Splits the payload into $STAGING/<name>: sections are base64 so any byte survives the pipe.",
    "read_payload() {",
    '  STAGING="$(mktemp -d)"',
    '  cat > "$STAGING/payload"',
    `  if [ "$(head -n 1 "$STAGING/payload")" != "${PAYLOAD_MAGIC}" ]; then`,
    '    die "stdin holds no diy-device payload: run this script through the provisioner (pulumi up), which sends one"',
    "  fi",
    `  if [ "$(tail -n 1 "$STAGING/payload")" != "${PAYLOAD_END}" ]; then`,
    '    die "the payload on stdin is incomplete (connection dropped?): nothing was changed"',
    "  fi",
    '  awk -v dir="$STAGING" \'',
    '    /^=file [a-z0-9][a-z0-9.-]*$/ { out = dir "/" $2 ".b64"; printf "" > out; next }',
    `    /^${PAYLOAD_END}$/ { out = ""; next }`,
    '    out != "" { print > out }',
    '  \' "$STAGING/payload"',
    '  rm -f "$STAGING/payload"',
    "  local f",
    '  for f in "$STAGING"/*.b64; do',
    '    base64 -d "$f" > "${f%.b64}"',
    '    rm -f "$f"',
    "  done",
    `  for f in ${REQUIRED_PAYLOAD_FILES.join(" ")}; do`,
    '    [ -s "$STAGING/$f" ] || die "the payload has no $f: nothing was changed"',
    "  done",
    "}",
    "",
    "sha256_of() {",
    "  local out",
    '  out="$(sha256sum < "$1")"',
    "  printf '%s\\n' \"${out%% *}\"",
    "}",
    "",
    "# The bundle the stack built, into $STAGING: the copy in $STAGED, or the one already installed when",
    "# it is the same file (nothing to copy). Anything else is refused before the board is changed.",
    "stage_bundle() {",
    '  if [ -n "$STAGED" ] && [ -f "$STAGED/device.js" ]; then',
    '    cp -- "$STAGED/device.js" "$STAGING/device.js"',
    '    if [ "$(sha256_of "$STAGING/device.js")" = "$BUNDLE_SHA256" ]; then return 0; fi',
    '    log "warning: $STAGED/device.js is not the bundle this stack built"',
    "  fi",
    `  if [ -f "$ROOT${DEVICE_PATHS.bundle}" ] && [ "$(sha256_of "$ROOT${DEVICE_PATHS.bundle}")" = "$BUNDLE_SHA256" ]; then`,
    `    cp -- "$ROOT${DEVICE_PATHS.bundle}" "$STAGING/device.js"`,
    "    return 0",
    "  fi",
    '  die "the device service bundle (sha256 $BUNDLE_SHA256) is not in ${STAGED:-the directory given as \\$1}: pulumi up copies it there before the install (resource <name>-device-$DEVICE_ID-files); after re-flashing the board, pulumi up --replace that resource: nothing was changed"',
    "}",
    "",
    "os_field() {",
    "  local line value",
    "  while IFS= read -r line; do",
    '    case "$line" in',
    '      "$1="*)',
    '        value="${line#*=}"',
    '        value="${value#\\"}"',
    '        printf \'%s\\n\' "${value%\\"}"',
    "        return 0",
    "        ;;",
    "    esac",
    '  done < "$ROOT/etc/os-release"',
    "}",
    "",
    "node_major() {",
    "  if command -v node > /dev/null 2>&1; then",
    "    node -e 'console.log(process.versions.node.split(\".\")[0])' 2> /dev/null || echo 0",
    "  else",
    "    echo 0",
    "  fi",
    "}",
    "",
    "# A node that is installed but dies at once (SIGILL on a CPU its build does not support) is no node at all.",
    "check_node_runs() {",
    "  if node -e 0 > /dev/null 2>&1; then return 0; fi",
    '  if [ "$(uname -m 2> /dev/null || true)" = armv6l ]; then',
    '    die "node is installed but does not run on this ARMv6 CPU (Raspberry Pi Zero, Zero W or 1): the device service needs a Node 18+ built for ARMv6, installed by hand, or a board with ARMv7 or later (Pi Zero 2 W, 3, 4, 5)"',
    "  fi",
    '  die "node is installed but does not run here (try: node --version): the device service needs a working Node 18 or later"',
    "}",
    "",
    "check_platform() {",
    "  local arch id version name major min",
    '  arch="$(dpkg --print-architecture 2> /dev/null || true)"',
    '  case "$arch" in',
    "    arm64 | armhf | amd64) ;;",
    `    "") die "cannot tell the architecture (no dpkg): supported are ${SUPPORTED}" ;;`,
    `    *) die "unsupported architecture $arch: supported are ${SUPPORTED}" ;;`,
    "  esac",
    `  [ -r "$ROOT/etc/os-release" ] || die "cannot read /etc/os-release: supported are ${SUPPORTED}"`,
    '  id="$(os_field ID)"',
    '  version="$(os_field VERSION_ID)"',
    '  name="$(os_field PRETTY_NAME)"',
    '  name="${name:-$id $version}"',
    '  case "$id" in',
    "    debian | raspbian) min=12 ;;",
    "    ubuntu) min=24 ;;",
    `    *) die "unsupported OS $name: supported are ${SUPPORTED}" ;;`,
    "  esac",
    "  # Debian testing and sid carry no VERSION_ID and are newer than any release.",
    '  major="${version%%.*}"',
    '  if [ -n "$major" ] && { ! [[ "$major" =~ ^[0-9]+$ ]] || [ "$major" -lt "$min" ]; }; then',
    '    if [ "$(node_major)" -ge 18 ]; then',
    '      log "warning: $name is older than supported; going on because Node $(node_major) is installed"',
    "    else",
    `      die "unsupported OS $name: its nodejs is older than Node 18, which the device service needs; supported are ${SUPPORTED}"`,
    "    fi",
    "  fi",
    '  log "platform: $name on $arch ($(uname -m 2> /dev/null || echo unknown CPU))"',
    "}",
    "",
    "apt_install() {",
    '  if [ "$APT_UPDATED" -eq 0 ]; then',
    "    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q update",
    "    APT_UPDATED=1",
    "  fi",
    '  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y --no-install-recommends "$@"',
    "}",
    "",
    "# ensure_package PACKAGE COMMAND: installs PACKAGE from the OS when COMMAND is missing.",
    "ensure_package() {",
    '  if command -v "$2" > /dev/null 2>&1; then return 0; fi',
    '  log "installing $1 from the OS packages"',
    '  apt_install "$1"',
    '  remember "$1"',
    "}",
    "",
    "ensure_user() {",
    '  if ! getent group "$USER_NAME" > /dev/null; then groupadd --system "$USER_NAME"; fi',
    '  if ! getent passwd "$USER_NAME" > /dev/null; then',
    `    useradd --system --gid "$USER_NAME" --home-dir ${e.stateDir} --no-create-home --shell /usr/sbin/nologin --comment "DIY Device Cloud device service" "$USER_NAME"`,
    "  fi",
    '  if [ "$NEED_GPIO_GROUP" -eq 1 ] && ! getent group gpio > /dev/null; then',
    "    groupadd --system gpio",
    "    remember group:gpio",
    "  fi",
    "  # Raspberry Pi OS and BeagleBone images have a gpio group owning the GPIO devices.",
    '  if getent group gpio > /dev/null; then usermod -a -G gpio "$USER_NAME"; fi',
    "}",
    "",
    "# put MODE OWNER SOURCE DEST: a new file is renamed into place, so no reader sees half of one.",
    "put() {",
    '  local dest="$ROOT$4"',
    '  [ -d "${dest%/*}" ] || install -d -m 0755 "${dest%/*}"',
    '  install -m "$1" "$3" "$dest.diy-new"',
    '  chown "$2" "$dest.diy-new"',
    '  mv -f "$dest.diy-new" "$dest"',
    "}",
    "",
    "# directory MODE OWNER PATH",
    "directory() {",
    '  install -d -m "$1" "$ROOT$3"',
    '  chown "$2" "$ROOT$3"',
    '  chmod "$1" "$ROOT$3"',
    "}",
    "",
    "install_files() {",
    `  directory 0755 root:root ${e.optDir}`,
    `  put 0644 root:root "$STAGING/device.js" ${e.bundle}`,
    `  directory 0750 "root:$USER_NAME" ${e.etcDir}`,
    `  put 0640 "root:$USER_NAME" "$STAGING/config.json" ${e.config}`,
    `  put 0644 root:root "$STAGING/ca.pem" ${e.ca}`,
    `  put 0644 root:root "$STAGING/device.pem" ${e.cert}`,
    `  put 0640 "root:$USER_NAME" "$STAGING/device.key" ${e.key}`,
    `  directory 0750 "$USER_NAME:$USER_NAME" ${e.stateDir}`,
    `  put 0644 root:root "$STAGING/diy-device.service" ${e.unit}`,
    '  if [ -s "$STAGING/udev.rules" ]; then',
    `    put 0644 root:root "$STAGING/udev.rules" ${e.udevRules}`,
    "  else",
    `    rm -f "$ROOT${e.udevRules}"`,
    "  fi",
    "  # Apply the LED and gpiochip permissions now rather than at the next boot.",
    "  if systemd_running && command -v udevadm > /dev/null 2>&1; then",
    "    udevadm control --reload-rules",
    "    udevadm trigger --action=change --subsystem-match=leds --subsystem-match=gpio",
    "    udevadm settle --timeout=10 || true",
    "  fi",
    "}",
    "",
    "install_bridge() {",
    "  local f",
    "  for f in bridge.conf bridge.acl bridge.passwd bridge.pem bridge.key; do",
    '    [ -s "$STAGING/$f" ] || die "bridge role: the payload has no $f"',
    "  done",
    `  directory 0750 root:mosquitto ${b.dir}`,
    `  put 0644 root:root "$STAGING/ca.pem" ${b.ca}`,
    "  # The bridge connection's own identity, not the device service's (the cloud binds client id to CN).",
    `  put 0644 root:root "$STAGING/bridge.pem" ${b.cert}`,
    "  # mosquitto drops root before it reads files: its group must read the key, ACL and passwords.",
    `  put 0640 root:mosquitto "$STAGING/bridge.key" ${b.key}`,
    `  put 0640 root:mosquitto "$STAGING/bridge.acl" ${b.acl}`,
    "  # The payload carries user:password lines; mosquitto_passwd -U replaces them with salted hashes.",
    '  mosquitto_passwd -U "$STAGING/bridge.passwd"',
    `  put 0640 root:mosquitto "$STAGING/bridge.passwd" ${b.passwd}`,
    `  put 0644 root:root "$STAGING/bridge.conf" ${b.conf}`,
    "  if systemd_running; then",
    '    "${SYSTEMCTL[@]}" enable mosquitto.service',
    '    "${SYSTEMCTL[@]}" restart mosquitto.service',
    "  fi",
    "}",
    "",
    "start_service() {",
    "  if ! systemd_running; then",
    '    log "systemd is not running here: $UNIT is installed and enabled at the next boot"',
    "    return 0",
    "  fi",
    '  "${SYSTEMCTL[@]}" daemon-reload',
    '  "${SYSTEMCTL[@]}" enable "$UNIT"',
    '  "${SYSTEMCTL[@]}" restart "$UNIT"',
    '  if ! "${SYSTEMCTL[@]}" is-active --quiet "$UNIT"; then',
    '    log "warning: $UNIT is not active yet; see: journalctl -u $UNIT"',
    "  fi",
    "}",
    "",
    "main() {",
    '  if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then die "run as root (the provisioner runs this through sudo -n)"; fi',
    "  read_payload",
    "  stage_bundle",
    "  check_platform",
    "  ensure_package nodejs node",
    "  check_node_runs",
    '  if [ "$(node_major)" -lt 18 ]; then die "Node $(node_major) is too old: the device service needs Node 18 or later"; fi',
    '  if [ "$NEED_GPIOD" -eq 1 ]; then ensure_package gpiod gpioset; fi',
    '  if [ "$BRIDGE" -eq 1 ]; then ensure_package mosquitto mosquitto; fi',
    "  ensure_user",
    "  install_files",
    '  if [ "$BRIDGE" -eq 1 ]; then install_bridge; else remove_bridge; fi',
    "  start_service",
    '  log "installed"',
    "}",
    "",
    'main "$@"',
  ]);
}

export function renderDeviceUninstallScript(input: DeviceUninstallScriptInput): string {
  const deviceId = checkId(input.deviceId);
  const e = DEVICE_PATHS;
  return lines([
    ...prologue("infra/render/device-install.ts", input.source ?? DEFAULT_SOURCE, deviceId, [
      `Uninstalls the DIY Device Cloud device service for "${deviceId}"; run as root (through sudo).`,
      "Stops and disables the service and removes its files, user, bridge role and the packages and",
      "groups the installer added. Safe to run again, or on a board that never had it.",
    ]),
    "",
    "main() {",
    '  if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then die "run as root (the provisioner runs this through sudo -n)"; fi',
    "  if systemd_running; then",
    '    "${SYSTEMCTL[@]}" disable --now "$UNIT" || true',
    "  fi",
    `  rm -f "$ROOT${e.unit}" "$ROOT${e.udevRules}"`,
    "  if systemd_running; then",
    '    "${SYSTEMCTL[@]}" daemon-reload',
    '    "${SYSTEMCTL[@]}" reset-failed "$UNIT" 2> /dev/null || true',
    "    if command -v udevadm > /dev/null 2>&1; then udevadm control --reload-rules; fi",
    "  fi",
    "  remove_bridge",
    "  purge_if_ours gpiod",
    "  purge_if_ours nodejs",
    '  if getent passwd "$USER_NAME" > /dev/null; then userdel "$USER_NAME"; fi',
    '  if getent group "$USER_NAME" > /dev/null; then groupdel "$USER_NAME"; fi',
    "  if installed_by_us group:gpio && getent group gpio > /dev/null; then groupdel gpio; fi",
    `  rm -rf "$ROOT${e.optDir}" "$ROOT${e.etcDir}" "$ROOT${e.stateDir}"`,
    "  # The copies the provisioner left in the SSH user's home (its CopyToRemote never deletes).",
    '  if [ -n "$STAGED" ]; then',
    `    rm -f -- ${STAGED_FILES.map((f) => `"$STAGED/${f}"`).join(" ")}`,
    '    rmdir -- "$STAGED" 2> /dev/null || true',
    "  fi",
    '  log "uninstalled"',
    "}",
    "",
    'main "$@"',
  ]);
}

/** Files the provisioner copies to the staging directory before the install (remote.CopyToRemote). */
export const STAGED_FILES = ["device.js", "install.sh"] as const;

function sha256Hex(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new Error(`expected a hex SHA-256, got ${JSON.stringify(value)}`);
  return value;
}

function invocationName(name: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new Error(`invocation name ${JSON.stringify(name)} must be lowercase letters, digits and '-'`);
  return name;
}

function stagedDir(dir: string): string {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(dir) || dir.split("/").includes(".."))
    throw new Error(`staging directory ${JSON.stringify(dir)} must be a plain path relative to the SSH user's home`);
  return dir;
}

/** Runs "$s" as root (through `sudo -n` unless the SSH user is root) with the staging directory as $1. */
function asRoot(name: string, dir: string): string {
  const args = `${invocationName(name)} "$HOME/${stagedDir(dir)}"`;
  return `if [ "$(id -u)" -eq 0 ]; then bash -c "$s" ${args}; else sudo -n bash -c "$s" ${args}; fi`;
}

/**
 * The command line a remote.Command runs: decodes the script into bash's argv (nothing secret is
 * in it) and runs it as root, through `sudo -n` unless the SSH user is root, with stdin passed on
 * and "$HOME/<dir>" (the staging directory) as $1.
 */
export function renderRemoteInvocation(script: string, name: string, dir: string): string {
  const encoded = Buffer.from(script, "utf8").toString("base64");
  return `s="$(printf %s '${encoded}' | base64 -d)" && ${asRoot(name, dir)}`;
}

/**
 * The install's command line when the script itself was copied to "$HOME/<dir>/install.sh": it runs only the
 * script whose SHA-256 is written here (so a changed script changes this line, which Pulumi sees as an update),
 * with stdin passed on. Keeps a 10 KB script out of the command, which Pulumi stores in the state.
 */
export function renderStagedInvocation(script: string, name: string, dir: string): string {
  const sum = createHash("sha256").update(script, "utf8").digest("hex");
  const file = `$HOME/${stagedDir(dir)}/install.sh`;
  return (
    `s="$(cat -- "${file}")" && [ "$(printf '%s\\n' "$s" | sha256sum)" = "${sum}  -" ] || ` +
    `{ echo "${invocationName(name)}: ${file} is missing or not the script this stack rendered (sha256 ${sum}): pulumi up copies it first" >&2; exit 1; } && ` +
    asRoot(name, dir)
  );
}
