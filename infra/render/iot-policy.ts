// AWS IoT Core policies from the same ACL model the mosquitto acl_file is rendered from (protocol/acl.ts):
// each identity (the web app, a device, a bridge connection) gets a policy that grants exactly what its
// mosquitto `user` block grants. Home Assistant has no IoT Core identity: its discovery subscribes more filters
// than one IoT Core connection holds, and the stack config refuses it (infra/config/iot-core.ts). test/unit/iot-policy-equivalence.test.ts evaluates both
// (the mosquitto ACL double and the IoT policy double) and asserts they grant the same (action, topic)
// pairs, so the two brokers cannot drift apart.
//
// IoT Core's rules this follows (AWS IoT Core Developer Guide):
// - "AWS IoT Core policy actions" (iot-policy-actions.html): iot:Connect on client/<clientId>, checked on each
//   CONNECT; iot:Publish on topic/<name>, checked on each PUBLISH; iot:Receive on topic/<name>, checked each
//   time a message is delivered; iot:Subscribe on topicfilter/<filter>, checked on each SUBSCRIBE;
//   iot:RetainPublish on topic/<name> for a PUBLISH with RETAIN set, which needs iot:Publish as well.
// - "AWS IoT Core policy variables" (iot-policy-variables.html): in a policy `*` matches any characters (a
//   '/' included) and MQTT's `+` and `#` are literal characters. So iot:Subscribe on the literal filter
//   `devices/+/status` lets a client subscribe with exactly that filter, and iot:Receive on
//   `devices/*/status` passes what it delivers: the pair grants what mosquitto's `devices/+/status` grants.
//   iot:Publish has no such gate, so `*` in a publish grant is bounded by a Deny on topics with more levels
//   than any grant of that identity has (a `*` can then never stand for more than one level).
// - "Thing policy variables" (thing-policy-variables.html): iot:Connect on
//   client/${iot:Connection.Thing.ThingName} admits only the client id of the thing the certificate is
//   attached to (protocol/iot-core.ts iotThingName): the client id is bound to the identity.
// - AWS General Reference, AWS IoT Core quotas: a policy document holds at most 2,048 characters not counting
//   white space, and at most 10 policies may be attached to one certificate: an identity whose grants do not
//   fit one document gets several.
import {
  type AclModel,
  type AclRule,
  HOME_ASSISTANT_CLIENT_ID,
  WEB_CLIENT_ID,
  iotPresenceTopics,
  iotThingName,
  parseTopic,
  subscriptions,
} from "../../protocol";

export interface IotArnContext {
  partition: string;
  region: string;
  accountId: string;
}

/** One MQTT identity as IoT Core sees it. */
export interface IotIdentity {
  /** Protocol identity (the mosquitto username, certificate CN): `pi1`, `web`, `gw1:bridge`. */
  identity: string;
  /** Its thing name, which is also its client id. */
  thingName: string;
  /** Its ACL rules, exactly as protocol's aclModel gives them to mosquitto. */
  rules: readonly AclRule[];
  /**
   * Filters its client subscribes with beyond its read rules (IoT Core checks iot:Subscribe on the filter as
   * written: a device reads `devices/pi1/out/led/set` through the filter `devices/pi1/out/+/set`).
   */
  subscribes: readonly string[];
  /** The web app: receives the presence events of this stack's things (the IoT Core mode's status source). */
  presenceOf?: string;
}

export type IotAction = "iot:Connect" | "iot:Publish" | "iot:RetainPublish" | "iot:Receive" | "iot:Subscribe";
export interface IotPolicyStatement {
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: string[];
}
export interface IotPolicyDocument {
  Version: "2012-10-17";
  Statement: IotPolicyStatement[];
}

/** AWS General Reference, AWS IoT Core quotas: policy document size, white space excluded. */
export const IOT_POLICY_MAX_CHARS = 2048;
/** AWS General Reference, AWS IoT Core quotas: policies attached to one certificate. */
export const IOT_POLICIES_PER_CERTIFICATE = 10;
export const THING_NAME_VARIABLE = "${iot:Connection.Thing.ThingName}";

/** Characters of a policy document as IoT Core counts them (white space excluded). */
export function policyChars(doc: IotPolicyDocument): number {
  return JSON.stringify(doc).replace(/\s/g, "").length;
}

/** An MQTT filter (`+` levels only) as a policy resource pattern; refuses what a policy would misread. */
export function policyGlob(filter: string): string {
  if (/[*?]|\$[({]/.test(filter))
    throw new Error(`IoT policy: ${JSON.stringify(filter)} holds * ? $( or \${, which a policy reads as a wildcard`);
  if (filter.split("/").includes("#"))
    throw new Error(`IoT policy: ${JSON.stringify(filter)}: a # grant has no exact policy form; name the topics`);
  return filter
    .split("/")
    .map((l) => (l === "+" ? "*" : l))
    .join("/");
}

/** A filter written into an iot:Subscribe resource as is: `+` stays a literal character. */
function literalFilter(filter: string): string {
  if (/[*?]|\$[({]/.test(filter))
    throw new Error(`IoT policy: ${JSON.stringify(filter)} holds * ? $( or \${, which a policy reads as a wildcard`);
  return filter;
}

/**
 * Topics the protocol publishes retained: output state, status (and its Last Will), sensor readings (Home
 * Assistant's discovery configs are retained too, on mosquitto only). Only these get iot:RetainPublish:
 * mosquitto's acl_file cannot tell a retained publish from another, IoT Core can, so a command or an input event
 * is never stored on the broker.
 */
export function isRetainedTopic(topicOrFilter: string): boolean {
  const kind = parseTopic(topicOrFilter)?.kind;
  return kind === "state" || kind === "status" || kind === "sensor";
}

function arn(ctx: IotArnContext, kind: "topic" | "topicfilter" | "client", name: string): string {
  return `arn:${ctx.partition}:iot:${ctx.region}:${ctx.accountId}:${kind}/${name}`;
}

const uniq = (xs: readonly string[]) => [...new Set(xs)];
const levels = (t: string) => t.split("/").length;
/** Every topic with more than `n` levels. */
const deeperThan = (n: number) => `${"*/".repeat(n)}*`;

/** The statements of one identity, before they are split into documents of the allowed size. */
export function iotStatements(ctx: IotArnContext, id: IotIdentity): IotPolicyStatement[] {
  if (id.rules.some((r) => r.access === "deny")) {
    // protocol's revokedRules: the identity is denied everything by name (a revoked device).
    if (id.rules.some((r) => r.access !== "deny") || id.subscribes.length > 0 || id.presenceOf)
      throw new Error(`IoT policy of ${id.identity}: a denied identity gets nothing else`);
    return [{ Effect: "Deny", Action: ["iot:*"], Resource: ["*"] }];
  }
  const writes = id.rules.filter((r) => r.access === "write" || r.access === "readwrite").map((r) => r.topic);
  const reads = id.rules.filter((r) => r.access === "read" || r.access === "readwrite").map((r) => r.topic);
  const receive = reads.map(policyGlob);
  const subscribe = [...reads, ...id.subscribes].map(literalFilter);
  if (id.presenceOf) {
    // Connect/disconnect events of this stack's things only (client ids `<prefix>:<identity>`).
    iotThingName(id.presenceOf, WEB_CLIENT_ID); // a prefix a thing name takes
    const own = `${id.presenceOf}:*`;
    receive.push(iotPresenceTopics.connected(own), iotPresenceTopics.disconnected(own));
    subscribe.push(...iotPresenceTopics.filters);
  }
  const publish = writes.map(policyGlob);
  const retained = writes.filter(isRetainedTopic).map(policyGlob);

  const statements: IotPolicyStatement[] = [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [arn(ctx, "client", THING_NAME_VARIABLE)] },
  ];
  const add = (Action: IotAction[], kind: "topic" | "topicfilter", names: readonly string[]) => {
    if (names.length > 0)
      statements.push({ Effect: "Allow", Action, Resource: uniq(names).map((n) => arn(ctx, kind, n)) });
  };
  add(["iot:Publish", "iot:RetainPublish"], "topic", retained);
  add(
    ["iot:Publish"],
    "topic",
    publish.filter((p) => !retained.includes(p)),
  );
  add(["iot:Receive"], "topic", receive);
  add(["iot:Subscribe"], "topicfilter", subscribe);
  // A `*` may stand for one level only: no topic deeper than the deepest grant of the same action.
  for (const [action, globs] of [
    ["iot:Publish", publish],
    ["iot:Receive", receive],
  ] as const) {
    if (globs.some((g) => g.includes("*")))
      statements.push({
        Effect: "Deny",
        Action: [action],
        Resource: [arn(ctx, "topic", deeperThan(Math.max(...globs.map(levels))))],
      });
  }
  return statements;
}

const arnPrefixChars = (ctx: IotArnContext) => arn(ctx, "client", "").length - "client/".length;

/**
 * One identity's policy documents, each within IOT_POLICY_MAX_CHARS: Allow resources are filled into
 * documents in order; every Deny goes into every document, so no split can lose it. `packAs`: split as if
 * every ARN had that context's (longer) prefix, so the number of documents, and which resources share one, is
 * known before the account and region are (the program creates one aws.iot.Policy per document up front).
 */
export function renderIotPolicies(
  ctx: IotArnContext,
  id: IotIdentity,
  opts: { packAs?: IotArnContext } = {},
): IotPolicyDocument[] {
  const statements = iotStatements(ctx, id);
  const denies = statements.filter((s) => s.Effect === "Deny");
  const fresh = (): IotPolicyDocument => ({ Version: "2012-10-17", Statement: denies.map((d) => ({ ...d })) });
  const slack = opts.packAs ? arnPrefixChars(opts.packAs) - arnPrefixChars(ctx) : 0;
  if (slack < 0) throw new Error("IoT policy: packAs must have an ARN prefix at least as long as the real one");
  const arns = (d: IotPolicyDocument) =>
    d.Statement.reduce((n, st) => n + st.Resource.filter((r) => r.startsWith("arn:")).length, 0);
  const fits = (d: IotPolicyDocument) => policyChars(d) + slack * arns(d) <= IOT_POLICY_MAX_CHARS;
  const docs: IotPolicyDocument[] = [];
  let doc = fresh();
  for (const s of statements.filter((x) => x.Effect === "Allow")) {
    for (const resource of s.Resource) {
      const last = doc.Statement.at(-1);
      const extend = last?.Effect === "Allow" && last.Action.join() === s.Action.join();
      const trial: IotPolicyDocument = {
        ...doc,
        Statement: extend
          ? [...doc.Statement.slice(0, -1), { ...last, Resource: [...last.Resource, resource] }]
          : [...doc.Statement, { Effect: "Allow", Action: s.Action, Resource: [resource] }],
      };
      if (fits(trial)) {
        doc = trial;
        continue;
      }
      docs.push(doc);
      doc = fresh();
      doc.Statement.push({ Effect: "Allow", Action: s.Action, Resource: [resource] });
      if (!fits(doc)) throw new Error(`IoT policy of ${id.identity}: ${resource} does not fit one policy`);
    }
  }
  docs.push(doc);
  if (docs.length > IOT_POLICIES_PER_CERTIFICATE)
    throw new Error(
      `IoT policy of ${id.identity} needs ${docs.length} policies; IoT Core attaches at most ${IOT_POLICIES_PER_CERTIFICATE} to a certificate: give it fewer outputs, inputs or sensors (or, for a bridge, fewer children)`,
    );
  return docs;
}

/**
 * Every identity of a stack's ACL model as IoT Core needs it: its rules, and the filters its client
 * subscribes with beyond them (a device: protocol's subscriptions.device); the web app also receives this
 * stack's presence events. A model with Home Assistant is refused: the config check says why and how to fix it.
 */
export function iotIdentities(model: AclModel, prefix: string): IotIdentity[] {
  return model.users.map((u): IotIdentity => {
    const denied = u.rules.some((r) => r.access === "deny");
    const base = { identity: u.username, thingName: iotThingName(prefix, u.username), rules: u.rules };
    if (denied) return { ...base, subscribes: [] };
    if (u.username === WEB_CLIENT_ID) return { ...base, subscribes: [], presenceOf: prefix };
    if (u.username === HOME_ASSISTANT_CLIENT_ID)
      throw new Error(
        "Home Assistant has no AWS IoT Core identity: its discovery subscribes more filters than one connection holds (integrations.homeAssistant needs broker mosquitto)",
      );
    // A bridge connection (protocol's bridgeIdentity, `<board>:bridge`) subscribes each relayed command topic
    // as is (bridge-mosquitto.ts `topic ... in`): its read rules. A device reads its commands through one filter.
    if (u.username.includes(":")) return { ...base, subscribes: [] };
    return { ...base, subscribes: subscriptions.device(u.username) };
  });
}
