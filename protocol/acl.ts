import { HA_STATUS_TOPIC, haTopics } from "./homeassistant";
import { HOME_ASSISTANT_CLIENT_ID, WEB_CLIENT_ID, bridgeIdentity } from "./ids";
import { TOPIC_ROOT, topics } from "./topics";

// ACL rules as data; infra/render/mosquitto-acl.ts turns them into mosquitto's acl_file syntax.
// The username is the client certificate's CN (use_identity_as_username).

export type Access = "read" | "write" | "readwrite";
export interface AclRule {
  access: Access;
  topic: string;
}

/** `pattern` rules apply to every client with %u = its CN: each device owns only its subtree. */
export const devicePatternRules: readonly AclRule[] = [
  { access: "read", topic: topics.set("%u", "+") },
  { access: "write", topic: topics.state("%u", "+") },
  { access: "write", topic: topics.input("%u", "+") },
  { access: "write", topic: topics.status("%u") },
  { access: "write", topic: topics.sensor("%u", "+") },
];

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
export interface AclDevice {
  id: string;
  outputs: readonly string[];
  inputs: readonly string[];
  sensors?: readonly string[];
}

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
export function bridgeUserRules(children: readonly string[]): AclRule[] {
  return children.flatMap((child) => [
    { access: "read" as const, topic: topics.set(child, "+") },
    { access: "write" as const, topic: topics.state(child, "+") },
    { access: "write" as const, topic: topics.input(child, "+") },
    { access: "write" as const, topic: topics.status(child) },
  ]);
}

export interface AclUser {
  username: string;
  rules: AclRule[];
}

export interface AclModel {
  patterns: readonly AclRule[];
  users: AclUser[];
}

export interface AclOptions {
  /** Integrations.homeAssistant on: the devices Home Assistant sees (infra/server-input.ts webDevices). */
  homeAssistant?: readonly AclDevice[];
}

/**
 * The whole broker ACL for a stack: patterns for devices, the web user, one user per bridge connection, and the
 * Home Assistant user when that integration is on.
 */
export function aclModel(
  bridges: readonly { id: string; children: readonly string[] }[],
  opts: AclOptions = {},
): AclModel {
  const ha = opts.homeAssistant;
  return {
    patterns: devicePatternRules,
    users: [
      { username: WEB_CLIENT_ID, rules: [...webUserRules, ...(ha ? webHomeAssistantRules : [])] },
      ...bridges.map((b) => ({ username: bridgeIdentity(b.id), rules: bridgeUserRules(b.children) })),
      ...(ha ? [{ username: HOME_ASSISTANT_CLIENT_ID, rules: homeAssistantUserRules(ha) }] : []),
    ],
  };
}

export { TOPIC_ROOT };
