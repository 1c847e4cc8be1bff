// The scripts run on a board over SSH: install (idempotent, payload on stdin) and uninstall, plus
// the one-line remote command that runs either through sudo without putting anything secret in argv.
// The scripts themselves are infra/render/scripts/device-{install,uninstall}.sh; this module renders
// only their values (the board, its role, the paths of device-paths.ts) at their top.
import { createHash } from "node:crypto";
import { isDeviceId } from "../../protocol";
import { BRIDGE_PATHS, DEVICE_PATHS, DEVICE_UNIT, DEVICE_USER } from "./device-paths";
import { PAYLOAD_END, PAYLOAD_MAGIC, REQUIRED_PAYLOAD_FILES } from "./device-payload";
import { type ScriptName, scriptBody } from "./scripts";
import { renderShellValues, type ShellValue } from "./shell-values";
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

function checkId(deviceId: string): string {
  if (!isDeviceId(deviceId)) throw new Error(`deviceId ${JSON.stringify(deviceId)} is not a valid device id`);
  return deviceId;
}

/** Shebang, header, the board's values, then the script from infra/render/scripts/ with its library inlined. */
function renderScript(
  name: ScriptName,
  what: "Installs" | "Uninstalls",
  source: string,
  deviceId: string,
  values: Record<string, ShellValue>,
): string {
  return lines([
    "#!/usr/bin/env bash",
    ...header("#", "infra/render/device-install.ts", source),
    `# ${what} the DIY Device Cloud device service for "${checkId(deviceId)}"; run as root (through sudo).`,
    `# The board's values first, then infra/render/scripts/${name}.`,
    ...renderShellValues({ ...commonValues(deviceId), ...values }),
    "",
    scriptBody(name),
  ]);
}

/** What both scripts read: the board, the service's user and unit, and where the bridge role's files are. */
function commonValues(deviceId: string): Record<string, ShellValue> {
  return {
    DEVICE_ID: deviceId,
    USER_NAME: DEVICE_USER,
    UNIT: DEVICE_UNIT,
    ETC_DIR: DEVICE_PATHS.etcDir,
    OPT_DIR: DEVICE_PATHS.optDir,
    STATE_DIR: DEVICE_PATHS.stateDir,
    UNIT_FILE: DEVICE_PATHS.unit,
    UDEV_RULES_FILE: DEVICE_PATHS.udevRules,
    BRIDGE_CONF: BRIDGE_PATHS.conf,
    BRIDGE_DIR: BRIDGE_PATHS.dir,
  };
}

export function renderDeviceInstallScript(input: DeviceInstallScriptInput): string {
  return renderScript("device-install.sh", "Installs", input.source ?? DEFAULT_SOURCE, input.deviceId, {
    BUNDLE_SHA256: sha256Hex(input.bundleSha256),
    NEED_GPIOD: input.gpiod,
    NEED_GPIO_GROUP: input.gpioGroup,
    BRIDGE: input.bridge,
    PAYLOAD_MAGIC,
    PAYLOAD_END,
    REQUIRED_FILES: REQUIRED_PAYLOAD_FILES,
    BUNDLE_FILE: DEVICE_PATHS.bundle,
    CONFIG_FILE: DEVICE_PATHS.config,
    CA_FILE: DEVICE_PATHS.ca,
    CERT_FILE: DEVICE_PATHS.cert,
    KEY_FILE: DEVICE_PATHS.key,
    BRIDGE_CA_FILE: BRIDGE_PATHS.ca,
    BRIDGE_CERT_FILE: BRIDGE_PATHS.cert,
    BRIDGE_KEY_FILE: BRIDGE_PATHS.key,
    BRIDGE_ACL_FILE: BRIDGE_PATHS.acl,
    BRIDGE_PASSWD_FILE: BRIDGE_PATHS.passwd,
  });
}

export function renderDeviceUninstallScript(input: DeviceUninstallScriptInput): string {
  return renderScript("device-uninstall.sh", "Uninstalls", input.source ?? DEFAULT_SOURCE, input.deviceId, {
    STAGED_FILES,
  });
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
