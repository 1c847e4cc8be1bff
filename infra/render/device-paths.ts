// Where the device service lives on a board (the contract in coord README), and the bridge's files.
// The install script, the unit and the config renderer all take their paths from here.

import { unitFile } from "./systemd";

export const DEVICE_USER = "diy-device";
export const DEVICE_UNIT = "diy-device.service";

export const DEVICE_PATHS = {
  optDir: "/opt/diy-device",
  bundle: "/opt/diy-device/device.js",
  etcDir: "/etc/diy-device",
  config: "/etc/diy-device/config.json",
  ca: "/etc/diy-device/ca.pem",
  cert: "/etc/diy-device/device.pem",
  key: "/etc/diy-device/device.key",
  stateDir: "/var/lib/diy-device",
  unit: unitFile(DEVICE_UNIT),
  udevRules: "/etc/udev/rules.d/99-diy-device.rules",
} as const;

/**
 * The bridge role adds a drop-in to Debian's mosquitto.conf (which includes conf.d) and its own
 * directory: mosquitto drops root before reading files, so the bridge keeps its own certificate and
 * key (the bridge identity, not the device service's) readable by the mosquitto group.
 */
export const BRIDGE_PATHS = {
  conf: "/etc/mosquitto/conf.d/diy-bridge.conf",
  dir: "/etc/mosquitto/diy-bridge",
  acl: "/etc/mosquitto/diy-bridge/acl",
  passwd: "/etc/mosquitto/diy-bridge/passwd",
  ca: "/etc/mosquitto/diy-bridge/ca.pem",
  cert: "/etc/mosquitto/diy-bridge/bridge.pem",
  key: "/etc/mosquitto/diy-bridge/bridge.key",
} as const;

/**
 * Where the device service bundle and the install script arrive on a board before the install runs:
 * remote.CopyToRemote writes them over SFTP as the SSH user, relative to that user's home (sshd starts every
 * session there). They stay out of the install command's text and stdin, which Pulumi keeps in the state (the
 * bundle is a megabyte per board); the command checks the script's SHA-256 and the script the bundle's.
 */
export const STAGED_DEVICE_DIR = ".diy-device-cloud";
