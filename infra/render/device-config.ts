// /etc/diy-device/config.json: the device service's config, built from the stack's device entry
// with the board profile filling in backends the entry leaves out. JSON has no comments, so this
// file carries no header; the schema is strict and would reject an extra key.
import { DeviceConfig } from "../../device/config";
import type { Backend } from "../../device/config";
import { BOARD_PROFILES, type Board, type InputBackend } from "./device-board";
import { DEVICE_PATHS } from "./device-paths";

export interface DeviceOutputSpec {
  name: string;
  safeState: "on" | "off";
  /** Omitted: the board profile's default for this position. */
  backend?: Backend;
}

export interface DeviceInputSpec {
  name: string;
  /** Any backend type is accepted here; the device schema refuses a kernel LED as an input. */
  backend?: Backend | InputBackend;
}

export interface DeviceConfigRenderInput {
  deviceId: string;
  board: Board;
  broker: {
    /** Address the device dials: the server's Elastic IP or its domain. */
    host: string;
    port: number;
    /** Name to verify when `host` is an address the server certificate does not name. */
    servername?: string;
  };
  outputs: readonly DeviceOutputSpec[];
  inputs: readonly DeviceInputSpec[];
  keepaliveSeconds?: number;
}

/** The config object with every backend resolved; validated by the device service's own schema. */
export function deviceConfig(input: DeviceConfigRenderInput): DeviceConfig {
  const profile = BOARD_PROFILES[input.board];
  const outputs = input.outputs.map((o, i) => {
    const backend = o.backend ?? profile.defaultOutput(i);
    if (backend === undefined) {
      throw new Error(
        `device ${input.deviceId}: output ${o.name} needs a backend (${profile.title} has no default for output #${i + 1})`,
      );
    }
    return { name: o.name, safeState: o.safeState, backend };
  });
  const inputs = input.inputs.map((o, i) => {
    const backend = o.backend ?? profile.defaultInput(i);
    if (backend === undefined) {
      throw new Error(
        `device ${input.deviceId}: input ${o.name} needs a backend (${profile.title} has no default for input #${i + 1})`,
      );
    }
    if (backend.type === "led") {
      throw new Error(
        `device ${input.deviceId}: input ${o.name} uses a kernel LED, which is output only; use gpiod, sysfs or simulated`,
      );
    }
    return { name: o.name, backend };
  });
  const host = input.broker.host.includes(":") ? `[${input.broker.host}]` : input.broker.host;
  const result = DeviceConfig.safeParse({
    deviceId: input.deviceId,
    broker: {
      url: `mqtts://${host}:${input.broker.port}`,
      ca: DEVICE_PATHS.ca,
      cert: DEVICE_PATHS.cert,
      key: DEVICE_PATHS.key,
      ...(input.broker.servername === undefined ? {} : { servername: input.broker.servername }),
    },
    outputs,
    inputs,
    ...(input.keepaliveSeconds === undefined ? {} : { keepaliveSeconds: input.keepaliveSeconds }),
    stateDir: DEVICE_PATHS.stateDir,
  });
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`device ${input.deviceId}: config is invalid: ${issues}`);
  }
  return result.data;
}

export function renderDeviceConfig(input: DeviceConfigRenderInput): string {
  return `${JSON.stringify(deviceConfig(input), null, 2)}\n`;
}
