// /etc/diy-device/config.json: the device service's config, built from the stack's device entry
// with the board profile filling in backends the entry leaves out. JSON has no comments, so this
// file carries no header; the schema is strict and would reject an extra key.
import { type Backend, type Board, DeviceConfig, type InputBackend, type SafeState } from "../../device/config";
import type { SensorConfig } from "../../device/sensors/config";
import { resolveBackends } from "./device-board";
import { DEVICE_PATHS } from "./device-paths";

export interface DeviceOutputSpec {
  name: string;
  safeState: SafeState;
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
    /** MQTT client id; omitted: the device id. AWS IoT Core: the device's thing name. */
    clientId?: string;
  };
  outputs: readonly DeviceOutputSpec[];
  inputs: readonly DeviceInputSpec[];
  /** Sensors as in the stack entry; keys the device does not read (alert: the web app's) are left out. */
  sensors?: readonly (SensorConfig & { alert?: unknown })[];
  keepaliveSeconds?: number;
  /** Where the service finds its certificates and keeps its state; default: the board's (DEVICE_PATHS). */
  paths?: { ca: string; cert: string; key: string; stateDir: string };
}

/** The config object with every backend resolved; validated by the device service's own schema. */
export function deviceConfig(input: DeviceConfigRenderInput): DeviceConfig {
  const resolved = resolveBackends(input.board, input.outputs, input.inputs);
  const first = resolved.problems[0];
  if (first) {
    const name = (first.kind === "output" ? input.outputs : input.inputs)[first.index]?.name;
    throw new Error(`device ${input.deviceId}: ${first.kind} ${name} ${first.problem}`);
  }
  const outputs = input.outputs.map((o, i) => ({ name: o.name, safeState: o.safeState, backend: resolved.outputs[i] }));
  const inputs = input.inputs.map((o, i) => ({ name: o.name, backend: resolved.inputs[i] }));
  const host = input.broker.host.includes(":") ? `[${input.broker.host}]` : input.broker.host;
  const paths = input.paths ?? DEVICE_PATHS;
  const result = DeviceConfig.safeParse({
    deviceId: input.deviceId,
    broker: {
      url: `mqtts://${host}:${input.broker.port}`,
      ca: paths.ca,
      cert: paths.cert,
      key: paths.key,
      ...(input.broker.servername === undefined ? {} : { servername: input.broker.servername }),
      ...(input.broker.clientId === undefined ? {} : { clientId: input.broker.clientId }),
    },
    outputs,
    inputs,
    ...(input.sensors?.length
      ? {
          sensors: input.sensors.map(({ alert: _alert, ...sensor }) => sensor),
        }
      : {}),
    ...(input.keepaliveSeconds === undefined ? {} : { keepaliveSeconds: input.keepaliveSeconds }),
    stateDir: paths.stateDir,
  });
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`device ${input.deviceId}: config is invalid: ${issues}`);
  }
  return result.data;
}

/** The file's text: the validated value (deviceConfig), rendered last. */
export function deviceConfigJson(config: DeviceConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

export function renderDeviceConfig(input: DeviceConfigRenderInput): string {
  return deviceConfigJson(deviceConfig(input));
}
