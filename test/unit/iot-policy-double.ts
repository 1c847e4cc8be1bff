// AWS IoT Core's authorization of MQTT clients by IoT policies, as documented, so unit tests can ask "may this
// client do that?" of rendered policy documents without an AWS account. The rules, from the AWS IoT Core
// Developer Guide unless named otherwise:
// - "AWS IoT Core policies" / IAM "Policy evaluation logic" (IoT policies "follow a similar convention to IAM
//   policies", iot-policy-variables.html): a request is denied unless a statement allows it; a matching Deny
//   overrides every Allow, in any of the policies attached to the certificate.
// - "AWS IoT Core policy actions" (iot-policy-actions.html): iot:Connect is checked on CONNECT against
//   client/<clientId>; iot:Publish on every PUBLISH against topic/<topic name>; iot:RetainPublish as well on a
//   PUBLISH with RETAIN set ("To grant iot:RetainPublish permission, you must also grant iot:Publish");
//   iot:Subscribe on SUBSCRIBE against topicfilter/<filter as written>; iot:Receive each time a message is
//   delivered, against topic/<topic name>. A message reaches a client only through a subscription whose filter
//   matches its topic (MQTT matching) and only when iot:Receive allows that topic.
// - "AWS IoT Core policy variables" (iot-policy-variables.html): `*` in a Resource matches any characters
//   ('/' included), `?` any one character (IAM convention), `+` and `#` are literal characters; $(*), $(?)
//   and $($) stand for the literal characters; ${iot:ClientId} is the client id.
// - "Thing policy variables" (thing-policy-variables.html) and "Thing policy examples": ${iot:Connection.
//   Thing.ThingName} is the thing the certificate is attached to; without one the variable is not resolved
//   and the request is denied.
// - IAM "IAM JSON policy elements: Action": action names are case-insensitive and take `*` / `?` wildcards.
// - AWS General Reference, AWS IoT Core quotas: a policy document is at most 2,048 characters, white space
//   excluded (CreatePolicy refuses a larger one).
// Not modelled (and refused, so a policy using them cannot pass unnoticed): Condition, NotAction,
// NotResource, other policy variables.

export interface IotConnection {
  clientId: string;
  /** The thing the presented certificate is attached to; undefined when none is. */
  thingName: string | undefined;
}

interface Statement {
  effect: "Allow" | "Deny";
  actions: string[];
  resources: string[];
}

const MAX_POLICY_CHARS = 2048;
const VARIABLES = ["iot:ClientId", "iot:Connection.Thing.ThingName"] as const;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** An IAM-style pattern as a RegExp, variables resolved; undefined when a variable cannot be resolved. */
function patternRegExp(pattern: string, conn: IotConnection | undefined, ignoreCase: boolean): RegExp | undefined {
  let re = "";
  for (let i = 0; i < pattern.length; ) {
    const rest = pattern.slice(i);
    const variable = /^\$\{([^}]*)\}/.exec(rest);
    if (variable) {
      const name = variable[1] as string;
      if (!(VARIABLES as readonly string[]).includes(name))
        throw new Error(`policy variable \${${name}} is not modelled`);
      const value = name === "iot:ClientId" ? conn?.clientId : conn?.thingName;
      if (value === undefined) return undefined;
      re += escapeRe(value);
      i += variable[0].length;
      continue;
    }
    const special = /^\$\(([*?$])\)/.exec(rest);
    if (special) {
      re += escapeRe(special[1] as string);
      i += 4;
      continue;
    }
    const c = pattern[i] as string;
    re += c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : escapeRe(c);
    i += 1;
  }
  return new RegExp(`^${re}$`, ignoreCase ? "i" : "");
}

function list(v: unknown, what: string): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")) return v;
  throw new Error(`policy ${what} must be a string or a non-empty list of strings`);
}

/** Reads policy documents as CreatePolicy would take them (size, Version, the modelled elements only). */
export function parseIotPolicies(documents: readonly (string | object)[]): Statement[] {
  return documents.flatMap((d) => {
    const text = typeof d === "string" ? d : JSON.stringify(d);
    const chars = text.replace(/\s/g, "").length;
    if (chars > MAX_POLICY_CHARS) throw new Error(`CreatePolicy: policy document of ${chars} characters (max 2048)`);
    const doc = JSON.parse(text) as { Version?: unknown; Statement?: unknown };
    if (doc.Version !== "2012-10-17")
      throw new Error(`policy Version must be "2012-10-17", got ${String(doc.Version)}`);
    const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
    return statements.map((s: Record<string, unknown>) => {
      for (const k of Object.keys(s))
        if (!["Effect", "Action", "Resource", "Sid"].includes(k))
          throw new Error(`policy element ${k} is not modelled`);
      if (s.Effect !== "Allow" && s.Effect !== "Deny") throw new Error(`policy Effect ${String(s.Effect)}`);
      return { effect: s.Effect, actions: list(s.Action, "Action"), resources: list(s.Resource, "Resource") };
    });
  });
}

export interface IotAuthorizer {
  allows(action: string, resource: string, conn: IotConnection): boolean;
}

export function iotAuthorizer(documents: readonly (string | object)[]): IotAuthorizer {
  const statements = parseIotPolicies(documents);
  // Compiled once per pattern and connection: the tests ask hundreds of thousands of questions.
  const compiled = new Map<string, RegExp | undefined>();
  const regExp = (pattern: string, conn: IotConnection | undefined, ignoreCase: boolean) => {
    const key = `${ignoreCase}\0${conn?.clientId}\0${conn?.thingName}\0${pattern}`;
    if (!compiled.has(key)) compiled.set(key, patternRegExp(pattern, conn, ignoreCase));
    return compiled.get(key);
  };
  const matches = (s: Statement, action: string, resource: string, conn: IotConnection) =>
    s.actions.some((a) => regExp(a, undefined, true)?.test(action)) &&
    s.resources.some((r) => regExp(r, conn, false)?.test(resource));
  return {
    allows(action, resource, conn) {
      const hit = statements.filter((s) => matches(s, action, resource, conn));
      return hit.length > 0 && hit.every((s) => s.effect === "Allow");
    },
  };
}

/** MQTT topic matching ('+' one level, '#' the rest and the parent level; wildcards never match a leading '$'). */
export function mqttMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  if (topic.startsWith("$") && (f[0] === "+" || f[0] === "#")) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Every MQTT filter that matches `topic`: each level as is or `+`, optionally cut short by `#`. */
export function filtersMatching(topic: string): string[] {
  const levels = topic.split("/");
  let prefixes: string[][] = [[]];
  const out: string[] = ["#"];
  for (const [i, l] of levels.entries()) {
    const wild = i === 0 && topic.startsWith("$") ? [l] : [l, "+"];
    prefixes = prefixes.flatMap((p) => wild.map((w) => [...p, w]));
    // `x/#` also matches `x` itself (MQTT 5.0 4.7.1.2), so every prefix gets its `/#` form.
    for (const p of prefixes) out.push(`${p.join("/")}/#`, ...(i === levels.length - 1 ? [p.join("/")] : []));
  }
  return out.filter((f) => mqttMatches(f, topic));
}

/** What one connected client may do on the IoT Core broker under its certificate's policies. */
export interface IotClientDouble {
  connects(clientId: string): boolean;
  publishes(topic: string, opts?: { retain?: boolean }): boolean;
  subscribes(filter: string): boolean;
  /** Some filter it may subscribe with matches the topic, and iot:Receive lets the message through. */
  reads(topic: string): boolean;
}

export function iotClient(
  documents: readonly (string | object)[],
  arnPrefix: string,
  conn: IotConnection,
): IotClientDouble {
  const auth = iotAuthorizer(documents);
  const subscribeMemo = new Map<string, boolean>();
  const subscribes = (filter: string) => {
    let v = subscribeMemo.get(filter);
    if (v === undefined) {
      v = auth.allows("iot:Subscribe", `${arnPrefix}topicfilter/${filter}`, conn);
      subscribeMemo.set(filter, v);
    }
    return v;
  };
  return {
    connects: (clientId) => auth.allows("iot:Connect", `${arnPrefix}client/${clientId}`, { ...conn, clientId }),
    publishes: (topic, opts = {}) =>
      auth.allows("iot:Publish", `${arnPrefix}topic/${topic}`, conn) &&
      (!opts.retain || auth.allows("iot:RetainPublish", `${arnPrefix}topic/${topic}`, conn)),
    subscribes,
    reads: (topic) =>
      auth.allows("iot:Receive", `${arnPrefix}topic/${topic}`, conn) && filtersMatching(topic).some(subscribes),
  };
}
