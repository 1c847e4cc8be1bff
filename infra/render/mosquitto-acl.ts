// mosquitto acl_file from protocol's ACL model: `pattern` lines (%u = certificate CN) for every
// device, then one `user` block for the web app and one per bridge.
import type { AclModel, AclRule } from "../../protocol";
import { DEFAULT_SOURCE, header, lines, token } from "./text";

/** protocol's `aclModel(bridges)` as is, optionally with the stack that produced it. */
export type MosquittoAclInput = AclModel & { source?: string };

function rule(keyword: "pattern" | "topic", r: AclRule): string {
  return `${keyword} ${r.access} ${token("ACL topic", r.topic)}`;
}

export function renderMosquittoAcl(input: MosquittoAclInput): string {
  const seen = new Set<string>();
  const out = [
    ...header("#", "infra/render/mosquitto-acl.ts", input.source ?? DEFAULT_SOURCE),
    "",
    "# Every client, %u = its certificate CN: a device owns only its own subtree",
    ...input.patterns.map((r) => rule("pattern", r)),
  ];
  for (const user of input.users) {
    token("ACL username", user.username);
    if (seen.has(user.username)) throw new Error(`ACL user ${user.username} appears twice`);
    seen.add(user.username);
    out.push("", `user ${user.username}`, ...user.rules.map((r) => rule("topic", r)));
  }
  return lines(out);
}
