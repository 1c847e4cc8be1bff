// The only place that spells topic strings. Everything else calls these builders.
export const TOPIC_ROOT = "devices";

export const topics = {
  /** Every topic of one device starts with this. */
  device: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}`,
  /** Command to an output. QoS 1, never retained. */
  set: (deviceId: string, output: string) => `${TOPIC_ROOT}/${deviceId}/out/${output}/set`,
  /** State of an output, published by the device, retained. */
  state: (deviceId: string, output: string) => `${TOPIC_ROOT}/${deviceId}/out/${output}/state`,
  /** Input events (a button), QoS 1, not retained. */
  input: (deviceId: string, input: string) => `${TOPIC_ROOT}/${deviceId}/in/${input}`,
  /** `online` / `offline`, retained; `offline` is the Last Will. */
  status: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/status`,
  /** A numeric reading {value, unit, at}, published by the device, retained (the last value). */
  sensor: (deviceId: string, sensor: string) => `${TOPIC_ROOT}/${deviceId}/sensor/${sensor}`,
} as const;

/** Subscriptions of each kind of client. */
export const subscriptions = {
  /** The web app follows every device's state, inputs, status and sensors. */
  web: [`${TOPIC_ROOT}/+/out/+/state`, `${TOPIC_ROOT}/+/in/+`, `${TOPIC_ROOT}/+/status`, `${TOPIC_ROOT}/+/sensor/+`],
  /** A device receives only its own commands. */
  device: (deviceId: string) => [`${TOPIC_ROOT}/${deviceId}/out/+/set`],
} as const;

export type ParsedTopic =
  | { kind: "set"; deviceId: string; name: string }
  | { kind: "state"; deviceId: string; name: string }
  | { kind: "input"; deviceId: string; name: string }
  | { kind: "status"; deviceId: string }
  | { kind: "sensor"; deviceId: string; name: string };

/** Reads a topic back into its parts; undefined for anything outside the protocol. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split("/");
  if (parts[0] !== TOPIC_ROOT || !parts[1]) return undefined;
  const deviceId = parts[1];
  if (parts.length === 3 && parts[2] === "status") return { kind: "status", deviceId };
  if (parts.length === 4 && parts[2] === "in" && parts[3]) return { kind: "input", deviceId, name: parts[3] };
  if (parts.length === 4 && parts[2] === "sensor" && parts[3]) return { kind: "sensor", deviceId, name: parts[3] };
  if (parts.length === 5 && parts[2] === "out" && parts[3]) {
    if (parts[4] === "set") return { kind: "set", deviceId, name: parts[3] };
    if (parts[4] === "state") return { kind: "state", deviceId, name: parts[3] };
  }
  return undefined;
}
