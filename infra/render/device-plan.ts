// Everything one board gets, decided from plain values: the files, the two scripts and a hash of
// what is installed. infra/devices.ts turns this into remote commands; tests call it directly.
import { createHash } from "node:crypto";
import type { Backend, Board, SafeState } from "../../device/config";
import { bridgeIdentity, iotThingName } from "../../protocol";
import {
  type BridgeChild,
  renderBridgeAcl,
  renderBridgeMosquittoConf,
  renderBridgePasswords,
} from "./bridge-mosquitto";
import { backendNeeds } from "./device-board";
import { type DeviceConfigRenderInput, deviceConfig, deviceConfigJson } from "./device-config";
import {
  renderDeviceInstallScript,
  renderDeviceUninstallScript,
  renderRemoteInvocation,
  renderStagedInvocation,
  type STAGED_FILES,
} from "./device-install";
import { STAGED_DEVICE_DIR } from "./device-paths";
import { renderDevicePayload, type DevicePayloadInput } from "./device-payload";
import { renderDeviceUdevRules } from "./device-udev";
import { renderDeviceUnit } from "./device-unit";

/** The parts of a stack device entry that decide what is installed (not how to reach the board). */
export interface DevicePlanDevice {
  id: string;
  board: Board;
  outputs: readonly { name: string; safeState: SafeState; backend?: Backend }[];
  inputs: readonly { name: string; backend?: Backend }[];
  sensors?: DeviceConfigRenderInput["sensors"];
  bridge?: { lanAddress: string; port: number; children: readonly BridgeChild[] };
}

export type DevicePlanBroker =
  | { kind?: "mosquitto"; host: string; port: number; servername?: string }
  | { kind: "iot-core"; host: string; port: number; thingPrefix: string };

export interface DevicePlanInput {
  /** Written into every rendered file's header. */
  source: string;
  device: DevicePlanDevice;
  /**
   * Where the board dials the broker: the stack's mosquitto (client id = the device id, bound to the certificate
   * CN), or AWS IoT Core (`thingPrefix`: client ids are the thing names protocol/iot-core.ts iotThingName gives).
   */
  broker: DevicePlanBroker;
  /** /opt/diy-device/device.js (infra/bundle.ts `bundle("device").code`). */
  bundle: string;
  caCertPem: string;
  certPem: string;
  /** Bridge role only: the certificate of the bridge connection (CN = protocol's bridgeIdentity). */
  bridgeCertPem?: string;
}

export interface DevicePlan {
  deviceId: string;
  /** Ids of the bridge's children; undefined without the bridge role. */
  bridgeChildren?: string[];
  /** Non-secret files of the payload; the key and LAN passwords are added by `devicePayload`. */
  files: DevicePayloadInput;
  /**
   * Copied to "$HOME/<dir>" of the SSH user before the install (remote.CopyToRemote: in the state as a path and
   * a hash, where the command's stdin and text would be stored whole): the bundle and the install script.
   */
  staged: { dir: string; files: Record<(typeof STAGED_FILES)[number], string> };
  installScript: string;
  uninstallScript: string;
  /** Remote command lines (sudo, payload on stdin; the uninstall script is in the line itself). */
  installCommand: string;
  uninstallCommand: string;
  /**
   * SHA-256 over every installed file but the secrets and the bundle, and the install script (which names the
   * bundle's SHA-256). The key is left out
   * on purpose: it cannot change without the certificate (which holds its public half) changing too,
   * and a hash of it would make this trigger a secret that hides every diff.
   */
  contentHash: string;
}

/** Hex SHA-256 of a bundle; every board of a stack has the same one, so the last answer is kept. */
let lastBundle: { code: string; sha256: string } | undefined;
function sha256Of(code: string): string {
  if (lastBundle?.code !== code) lastBundle = { code, sha256: createHash("sha256").update(code, "utf8").digest("hex") };
  return lastBundle.sha256;
}

export const INSTALL_NAME = "diy-device-install";
export const UNINSTALL_NAME = "diy-device-uninstall";

export function planDevice(input: DevicePlanInput): DevicePlan {
  const d = input.device;
  const source = `${input.source}, device ${d.id}`;
  // The typed value first (validated by the device's own schema), its text last.
  const b = input.broker;
  const iot = b.kind === "iot-core" ? b : undefined;
  const config = deviceConfig({
    deviceId: d.id,
    board: d.board,
    broker: iot
      ? { host: iot.host, port: iot.port, clientId: iotThingName(iot.thingPrefix, d.id) }
      : { host: b.host, port: b.port, ...(b.kind !== "iot-core" && b.servername ? { servername: b.servername } : {}) },
    outputs: d.outputs,
    inputs: d.inputs,
    ...(d.sensors ? { sensors: d.sensors } : {}),
  });
  const needs = backendNeeds([...config.outputs, ...config.inputs].map((io) => io.backend));
  const udev = renderDeviceUdevRules({ kernelLeds: needs.kernelLeds, gpioGroup: needs.gpioGroup, source });
  const files: DevicePayloadInput = {
    "config.json": deviceConfigJson(config),
    "ca.pem": input.caCertPem,
    "device.pem": input.certPem,
    "diy-device.service": renderDeviceUnit({ deviceId: d.id, source }),
    ...(udev === undefined ? {} : { "udev.rules": udev }),
  };
  if (d.bridge) {
    if (input.bridgeCertPem === undefined)
      throw new Error(`bridge ${d.id}: no certificate for its bridge connection (infra/pki.ts issues one per bridge)`);
    files["bridge.pem"] = input.bridgeCertPem;
    files["bridge.conf"] = renderBridgeMosquittoConf({
      bridgeId: d.id,
      lanAddress: d.bridge.lanAddress,
      lanPort: d.bridge.port,
      cloud: iot
        ? {
            kind: "iot-core",
            host: iot.host,
            port: iot.port,
            clientId: iotThingName(iot.thingPrefix, bridgeIdentity(d.id)),
          }
        : { host: b.host, port: b.port },
      children: d.bridge.children,
      source,
    });
    files["bridge.acl"] = renderBridgeAcl({ bridgeId: d.id, children: d.bridge.children, source });
  }
  const bundleSha256 = sha256Of(input.bundle);
  const installScript = renderDeviceInstallScript({
    deviceId: d.id,
    source,
    gpiod: needs.gpiod,
    gpioGroup: needs.gpioGroup,
    bridge: d.bridge !== undefined,
    bundleSha256,
  });
  const uninstallScript = renderDeviceUninstallScript({ deviceId: d.id, source });
  const h = createHash("sha256");
  // Name and length framing, so moving bytes from one file to another changes the hash too.
  for (const [name, body] of [...Object.entries(files), ["install.sh", installScript]] as [string, string][]) {
    h.update(`\0${name}\0${Buffer.byteLength(body)}\0`).update(body);
  }
  return {
    deviceId: d.id,
    ...(d.bridge ? { bridgeChildren: d.bridge.children.map((c) => c.id) } : {}),
    files,
    staged: { dir: STAGED_DEVICE_DIR, files: { "device.js": input.bundle, "install.sh": installScript } },
    installScript,
    uninstallScript,
    installCommand: renderStagedInvocation(installScript, INSTALL_NAME, STAGED_DEVICE_DIR),
    // Inline: the delete must work from the state alone, whatever is left on the board.
    uninstallCommand: renderRemoteInvocation(uninstallScript, UNINSTALL_NAME, STAGED_DEVICE_DIR),
    contentHash: h.digest("hex"),
  };
}

/** The install command's stdin: the plan's files plus the secrets. Treat the result as a secret. */
export function devicePayload(
  plan: DevicePlan,
  secrets: { keyPem: string; lanPasswords?: Record<string, string>; bridgeKeyPem?: string },
): string {
  const children = plan.bridgeChildren;
  const passwords = secrets.lanPasswords;
  let passwd: string | undefined;
  if (children !== undefined) {
    const missing = children.filter((id) => passwords?.[id] === undefined);
    if (missing.length > 0) throw new Error(`bridge ${plan.deviceId}: no LAN password for ${missing.join(", ")}`);
    passwd = renderBridgePasswords({
      bridgeId: plan.deviceId,
      children: children.map((id) => ({ id, password: passwords?.[id] ?? "" })),
    });
    if (secrets.bridgeKeyPem === undefined)
      throw new Error(`bridge ${plan.deviceId}: no key for its bridge connection`);
  } else if (passwords !== undefined || secrets.bridgeKeyPem !== undefined) {
    throw new Error(`device ${plan.deviceId} has no bridge role: it takes no LAN passwords or bridge key`);
  }
  return renderDevicePayload({
    ...plan.files,
    "device.key": secrets.keyPem,
    ...(passwd === undefined ? {} : { "bridge.passwd": passwd }),
    ...(secrets.bridgeKeyPem === undefined ? {} : { "bridge.key": secrets.bridgeKeyPem }),
  });
}
