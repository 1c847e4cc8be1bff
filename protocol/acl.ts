import { WEB_CLIENT_ID, bridgeIdentity } from "./ids";
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

/** The whole broker ACL for a stack: patterns for devices, the web user, one user per bridge connection. */
export function aclModel(bridges: readonly { id: string; children: readonly string[] }[]): AclModel {
  return {
    patterns: devicePatternRules,
    users: [
      { username: WEB_CLIENT_ID, rules: [...webUserRules] },
      ...bridges.map((b) => ({ username: bridgeIdentity(b.id), rules: bridgeUserRules(b.children) })),
    ],
  };
}

export { TOPIC_ROOT };
