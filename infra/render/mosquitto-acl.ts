// mosquitto acl_file from protocol's ACL model: one `user` block per identity (the web app, each
// device with exactly its configured names, each bridge connection with its children's), no `pattern`
// lines, and nothing before the first `user` line (mosquitto applies those to anonymous clients).
import type { AclModel, AclRule } from "../../protocol";
import { DEFAULT_SOURCE, header, lines, token } from "./text";

/** protocol's `aclModel(stack)` as is, optionally with the stack that produced it. */
export type MosquittoAclInput = AclModel & { source?: string };

/**
 * One topic filter as the rest of an ACL line: no spaces or quotes; `+` and `#` only as whole levels,
 * `#` last (MQTT's filter syntax). A `#` here is a wildcard, not a comment: mosquitto treats a line as a
 * comment only when it starts with one.
 */
function aclTopic(topic: string): string {
  const levels = topic.split("/");
  const ok =
    /^[^\s"'\\;{}]+$/.test(topic) &&
    levels.every((l, i) =>
      l.includes("+") || l.includes("#") ? l === "+" || (l === "#" && i === levels.length - 1) : true,
    );
  if (!ok)
    throw new Error(`ACL topic must be one MQTT topic filter without spaces or quotes, got ${JSON.stringify(topic)}`);
  return topic;
}

function rule(r: AclRule): string {
  return `topic ${r.access} ${aclTopic(r.topic)}`;
}

export function renderMosquittoAcl(input: MosquittoAclInput): string {
  const seen = new Set<string>();
  const out = [
    ...header("#", "infra/render/mosquitto-acl.ts", input.source ?? DEFAULT_SOURCE),
    "",
    "# username = certificate CN; a certificate without a user block here may do nothing",
  ];
  for (const user of input.users) {
    token("ACL username", user.username);
    if (seen.has(user.username)) throw new Error(`ACL user ${user.username} appears twice`);
    seen.add(user.username);
    out.push("", `user ${user.username}`, ...user.rules.map(rule));
  }
  return lines(out);
}
