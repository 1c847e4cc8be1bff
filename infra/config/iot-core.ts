// With `broker: iot-core`, what AWS IoT Core would refuse about a stack, found while the config is read: every
// identity's thing name, its policies within IoT Core's size quotas, a bridge connection's subscriptions within
// the per-connection quota, and Home Assistant, whose discovery subscribes more filters than one connection holds. The stack's region, account and stack name are not known here, so the policies are
// rendered at the longest of each (a stack that fits here fits anywhere); the program renders them again with the
// real values (infra/iot-core.ts).
//
// Sources:
// - AWS General Reference, AWS IoT Core quotas: policy document 2,048 characters, 10 policies per certificate
//   (infra/render/iot-policy.ts renderIotPolicies refuses what does not fit); "Subscriptions per connection" 50
//   (protocol/limits.ts subscriptionsProblem).
// - mosquitto src/bridge.c (bridge__on_connect): a bridge sends one SUBSCRIBE per `topic ... in|both` line, and
//   infra/render/bridge-mosquitto.ts writes one `in` line per child output: a bridge connection holds one
//   subscription per relayed command topic.
// - ARN formats (AWS General Reference, "Amazon Resource Names"): arn:<partition>:iot:<region>:<12-digit account>:..;
//   the longest partition IoT Core runs in is aws-us-gov, the longest region names have 14 characters
//   (ap-southeast-2, ap-northeast-1, ...).
// - home-assistant/core mqtt/discovery.py async_start (protocol/homeassistant.ts HA_DISCOVERY_FILTERS): Home
//   Assistant subscribes two discovery filters per supported component and two for device-based discovery on its
//   one connection, each SUBSCRIBE a
//   filter IoT Core's iot:Subscribe checks as written; no policy or setting of ours changes that number.
import {
  HA_DISCOVERY_FILTERS,
  HA_SUPPORTED_COMPONENTS,
  HOME_ASSISTANT_CLIENT_ID,
  IOT_PREFIX_MAX,
  subscriptionsProblem,
} from "../../protocol";
import { type IotArnContext, iotIdentities, renderIotPolicies } from "../render/iot-policy";
import { stackAclModel } from "../stack-acl";
import { NAMESPACE } from "./keys";
import type { Settings } from "./schema";

/** The longest ARN parts a stack's policies can be rendered with. */
export const LONGEST_IOT_ARN: IotArnContext = {
  partition: "aws-us-gov",
  region: "ap-southeast-2",
  accountId: "123456789012",
};
/** The longest thing-name prefix (protocol/iot-core.ts iotNamePrefix). */
export const LONGEST_IOT_PREFIX = "x".repeat(IOT_PREFIX_MAX);

export interface IotQuotaProblem {
  /** Path from the config key, e.g. ["devices", 2, "bridge", "children"]. */
  path: (string | number)[];
  message: string;
  fix: string;
}

type Checked = Pick<Settings, "devices" | "revokedDevices" | "integrations">;

/**
 * Why Home Assistant cannot use AWS IoT Core: its discovery's filters on one connection against IoT Core's quota
 * (one filter per SUBSCRIBE here: however Home Assistant packs them, the connection holds as many). undefined if
 * they ever fit.
 */
export function homeAssistantIotCoreProblem(): string | undefined {
  const why = subscriptionsProblem(
    "iot-core",
    HA_DISCOVERY_FILTERS.map((f) => [f]),
  );
  if (!why) return undefined;
  return `Home Assistant cannot connect to AWS IoT Core: its MQTT discovery subscribes ${HA_DISCOVERY_FILTERS.length} filters on its one connection (homeassistant/<component>/+/config and homeassistant/<component>/+/+/config for each of the ${HA_SUPPORTED_COMPONENTS.length} components it supports and for device-based discovery; home-assistant/core mqtt/discovery.py); ${why} (AWS IoT Core quotas, "Subscriptions per connection", not adjustable)`;
}

/** What AWS IoT Core would refuse about this stack's identities; [] when it fits. */
export function iotCoreQuotaProblems(s: Checked): IotQuotaProblem[] {
  const problems: IotQuotaProblem[] = [];
  const where = (identity: string): Omit<IotQuotaProblem, "message"> => {
    if (identity === HOME_ASSISTANT_CLIENT_ID)
      return {
        path: ["integrations", "homeAssistant"],
        fix: `pulumi config set --path '${NAMESPACE}:integrations.homeAssistant.enabled' false   (or keep broker mosquitto for Home Assistant: pulumi config set ${NAMESPACE}:broker mosquitto)`,
      };
    const [id, role] = identity.split(":");
    const i = s.devices.findIndex((d) => d.id === id);
    const path = role === undefined ? ["devices", i] : ["devices", i, "bridge", "children"];
    const fix =
      role === undefined
        ? `give device ${id} fewer outputs, inputs or sensors in Pulumi.<stack>.yaml (or keep broker mosquitto: pulumi config set ${NAMESPACE}:broker mosquitto)`
        : `split the children of bridge ${id} over two bridge boards in Pulumi.<stack>.yaml (or keep broker mosquitto: pulumi config set ${NAMESPACE}:broker mosquitto)`;
    return { path, fix };
  };
  const haProblem = s.integrations.homeAssistant ? homeAssistantIotCoreProblem() : undefined;
  if (haProblem) problems.push({ ...where(HOME_ASSISTANT_CLIENT_ID), message: `with broker iot-core: ${haProblem}` });
  for (const user of stackAclModel(s).users) {
    // Home Assistant refused as a whole: its policies' size is beside the point.
    if (haProblem && user.username === HOME_ASSISTANT_CLIENT_ID) continue;
    try {
      const [identity] = iotIdentities({ users: [user] }, LONGEST_IOT_PREFIX);
      if (!identity) continue;
      renderIotPolicies(LONGEST_IOT_ARN, identity);
      if (user.username.includes(":")) {
        // A bridge connection subscribes each relayed command topic (its read rules), one per SUBSCRIBE.
        const reads = user.rules.filter((r) => r.access === "read" || r.access === "readwrite").map((r) => [r.topic]);
        const why = subscriptionsProblem("iot-core", reads);
        if (why)
          problems.push({
            ...where(user.username),
            message: `with broker iot-core the bridge connection ${user.username} subscribes each of its children's ${reads.length} command topics; ${why}`,
          });
      }
    } catch (e) {
      problems.push({ ...where(user.username), message: `with broker iot-core: ${(e as Error).message}` });
    }
  }
  return problems;
}
