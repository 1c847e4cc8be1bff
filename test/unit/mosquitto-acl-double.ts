// mosquitto 2.0's acl_file, as the broker reads and applies it, so unit tests can ask "may this client
// do that?" of a rendered ACL without starting a broker. The rules, from mosquitto.conf(5) (acl_file)
// and src/security_default.c (mosquitto_acl_check_default and aclfile__parse; identical in 2.0.11,
// Debian 12, and 2.0.21, Debian 13):
// - `topic [read|write|readwrite|deny] <topic>` (no access word: readwrite) belongs to the latest `user`
//   line; lines before any `user` line belong to anonymous clients. `pattern ...` lines apply to every
//   client, with %u = username and %c = client id substituted. A line starting with '#' is a comment.
// - A client's own `user` rules are checked first, then the patterns; within each list `deny` rules come
//   first (they are put at the head when parsed), and the first rule whose filter matches the topic
//   decides: deny, or allow when it grants the access asked for. Nothing matched: denied.
// - With patterns present, a username or client id containing '+' or '#' is denied everything.
// - A topic starting with '$' only matches a filter that starts with '$'. Matching is MQTT's: '+' one
//   level, '#' the rest (and the parent level).
// Subscriptions are not checked (the broker grants them, "FIXME"): what a client may read is decided per
// message delivered, which is what `read` here answers.

type Access = "read" | "write" | "deny";
interface Rule {
  access: Access[];
  topic: string;
}

export interface AclDouble {
  /** May the client with this username (= certificate CN) and client id read / write this topic? */
  allows(who: { username: string | undefined; clientId: string }, access: "read" | "write", topic: string): boolean;
}

export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") !== filter.startsWith("$")) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function parseRule(words: string[]): Rule {
  const [first, ...rest] = words;
  const kinds: Record<string, Access[]> = {
    read: ["read"],
    write: ["write"],
    readwrite: ["read", "write"],
    deny: ["deny"],
  };
  if (first && kinds[first] && rest.length > 0) return { access: kinds[first], topic: rest.join(" ") };
  return { access: ["read", "write"], topic: words.join(" ") };
}

/** Deny rules first, the rest in file order: how mosquitto links them when it parses the file. */
const ordered = (rules: Rule[]) => [
  ...rules.filter((r) => r.access[0] === "deny"),
  ...rules.filter((r) => r.access[0] !== "deny"),
];

export function parseMosquittoAcl(text: string): AclDouble {
  const users = new Map<string | undefined, Rule[]>();
  const patterns: Rule[] = [];
  let user: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const [keyword, ...words] = line.split(/\s+/);
    if (keyword === "user") user = words.join(" ");
    else if (keyword === "topic") users.set(user, [...(users.get(user) ?? []), parseRule(words)]);
    else if (keyword === "pattern") patterns.push(parseRule(words));
    else throw new Error(`acl_file: unknown line ${JSON.stringify(line)} (mosquitto refuses to start)`);
  }
  const decide = (rules: Rule[], access: "read" | "write", topic: string, subst = (t: string) => t) => {
    for (const r of ordered(rules)) {
      if (!topicMatches(subst(r.topic), topic)) continue;
      if (r.access[0] === "deny") return false;
      if (r.access.includes(access)) return true;
    }
    return undefined;
  };
  return {
    allows(who, access, topic) {
      const own = decide(users.get(who.username) ?? [], access, topic);
      if (own !== undefined) return own;
      if (patterns.length === 0) return false;
      if (/[+#]/.test(who.username ?? "") || /[+#]/.test(who.clientId)) return false;
      const subst = (t: string) =>
        t.replaceAll("%c", who.clientId).replaceAll("%u", who.username === undefined ? "%u" : who.username);
      return (
        decide(
          patterns.filter((p) => who.username !== undefined || !p.topic.includes("%u")),
          access,
          topic,
          subst,
        ) ?? false
      );
    },
  };
}
