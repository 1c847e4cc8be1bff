import { HA_STATUS_TOPIC, haTopics } from "./homeassistant";
import { HOME_ASSISTANT_CLIENT_ID, WEB_CLIENT_ID, bridgeIdentity, isDeviceId, isIoName } from "./ids";
import { TOPIC_ROOT, topics } from "./topics";

// ACL rules as data; infra/render/mosquitto-acl.ts turns them into mosquitto's acl_file syntax.
// The username is the client certificate's CN (use_identity_as_username). Every identity gets its own
// `user` block and nothing is granted by `pattern`: a `%u` pattern can only say "any name under my
// id", and a device allowed any name can retain data under names nobody configured (one device kept
// 150 x 60 KB on the broker that way). A certificate the stack does not list gets nothing.

export type Access = "read" | "write" | "readwrite" | "deny";
export interface AclRule {
  access: Access;
  topic: string;
}

/** One device identity as the broker must know it: its id and the names of its outputs, inputs, sensors. */
export interface DeviceAcl {
  id: string;
  outputs: readonly string[];
  inputs: readonly string[];
  sensors?: readonly string[];
}

function checkDevice(d: DeviceAcl): void {
  if (!isDeviceId(d.id)) throw new Error(`ACL: ${JSON.stringify(d.id)} is not a device id`);
  for (const name of [...d.outputs, ...d.inputs, ...(d.sensors ?? [])])
    if (!isIoName(name))
      throw new Error(`ACL: ${d.id} has an invalid output/input/sensor name ${JSON.stringify(name)}`);
}

/**
 * Exactly one device's topics: the commands of its outputs, their state, its inputs, its sensors, its
 * status. No `+` in place of a name, so a device can neither publish nor retain under an invented one.
 */
export function deviceRules(d: DeviceAcl): AclRule[] {
  checkDevice(d);
  return [
    ...d.outputs.map((o) => ({ access: "read" as const, topic: topics.set(d.id, o) })),
    ...d.outputs.map((o) => ({ access: "write" as const, topic: topics.state(d.id, o) })),
    ...d.inputs.map((i) => ({ access: "write" as const, topic: topics.input(d.id, i) })),
    ...(d.sensors ?? []).map((s) => ({ access: "write" as const, topic: topics.sensor(d.id, s) })),
    { access: "write" as const, topic: topics.status(d.id) },
  ];
}

/** The web app commands every output and reads everything else under the root. */
export const webUserRules: readonly AclRule[] = [
  { access: "write", topic: topics.set("+", "+") },
  { access: "read", topic: topics.state("+", "+") },
  { access: "read", topic: topics.input("+", "+") },
  { access: "read", topic: topics.status("+") },
  { access: "read", topic: topics.sensor("+", "+") },
];

/** With Home Assistant on, the web app also publishes and clears our discovery configs and hears HA's birth. */
export const webHomeAssistantRules: readonly AclRule[] = [
  ...haTopics.ourConfigs().map((topic) => ({ access: "readwrite" as const, topic })),
  { access: "read", topic: HA_STATUS_TOPIC },
];

/** A device as an integration sees it: the names the stack configures. */
export type AclDevice = DeviceAcl;

/**
 * The Home Assistant identity: what the web app may do with devices, narrowed to the configured
 * devices and names (command each output, read its state, each input, sensor and status), plus reading our
 * discovery configs and publishing its own birth and Last Will on `homeassistant/status`. It cannot
 * write a discovery config, a state, an input or a status, and reads no other topic.
 */
export function homeAssistantUserRules(devices: readonly AclDevice[]): AclRule[] {
  return [
    ...devices.flatMap((d) => [
      { access: "read" as const, topic: topics.status(d.id) },
      ...d.outputs.flatMap((o) => [
        { access: "write" as const, topic: topics.set(d.id, o) },
        { access: "read" as const, topic: topics.state(d.id, o) },
      ]),
      ...d.inputs.map((i) => ({ access: "read" as const, topic: topics.input(d.id, i) })),
      ...(d.sensors ?? []).map((x) => ({ access: "read" as const, topic: topics.sensor(d.id, x) })),
    ]),
    ...haTopics.ourConfigs().map((topic) => ({ access: "read" as const, topic })),
    { access: "write", topic: HA_STATUS_TOPIC },
  ];
}

/** A bridge relays exactly its children's topics, the same way each child would itself. */
export function bridgeUserRules(children: readonly DeviceAcl[]): AclRule[] {
  return children.flatMap(deviceRules);
}

export interface AclUser {
  username: string;
  rules: AclRule[];
}

export interface AclModel {
  users: AclUser[];
}

/** What the broker ACL of a stack is made from. */
export interface AclStack {
  /** Every device with its own certificate (bridge boards included: their device service). */
  devices: readonly DeviceAcl[];
  /** Bridge boards and the children they relay (each child's outputs and inputs). */
  bridges?: readonly { id: string; children: readonly DeviceAcl[] }[];
  /** Integrations.homeAssistant on: the devices Home Assistant sees (infra/server-input.ts webDevices). */
  homeAssistant?: readonly AclDevice[];
  /** Revoked device ids (stack: revokedDevices): denied everything by name, bridge connection included. */
  revoked?: readonly string[];
}

/**
 * What a revoked identity gets: nothing, by name, whatever certificate it presents. `deny` lines are
 * checked before any grant (mosquitto.conf(5) acl_file; src/security_default.c puts them first), so
 * even a certificate the CRL no longer names cannot publish, and receives nothing.
 */
export const revokedRules: readonly AclRule[] = [{ access: "deny", topic: "#" }];

/**
 * The whole broker ACL for a stack: the web user, one user per device, one per bridge connection, and the
 * Home Assistant user when that integration is on; a revoked device is denied everything by name.
 */
export function aclModel(stack: AclStack): AclModel {
  const ha = stack.homeAssistant;
  const revoked = new Set(stack.revoked ?? []);
  const deny = (username: string): AclUser => ({ username, rules: [...revokedRules] });
  return {
    users: [
      { username: WEB_CLIENT_ID, rules: [...webUserRules, ...(ha ? webHomeAssistantRules : [])] },
      ...stack.devices.map((d) => (revoked.has(d.id) ? deny(d.id) : { username: d.id, rules: deviceRules(d) })),
      ...[...revoked].filter((id) => !stack.devices.some((d) => d.id === id)).map(deny),
      ...(stack.bridges ?? []).map((b) =>
        revoked.has(b.id)
          ? deny(bridgeIdentity(b.id))
          : { username: bridgeIdentity(b.id), rules: bridgeUserRules(b.children) },
      ),
      ...(ha ? [{ username: HOME_ASSISTANT_CLIENT_ID, rules: homeAssistantUserRules(ha) }] : []),
    ],
  };
}

export { TOPIC_ROOT };
