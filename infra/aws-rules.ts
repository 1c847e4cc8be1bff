// AWS's documented limits for every name, description and tag this program sends, in one place. The program
// (config validation, infra/network.ts), the Pulumi mocks (test/unit/program-harness.ts) and the stack-file
// checks all use these rules, so a value AWS would refuse fails a test here instead of the first `pulumi up`.
// Pure: no Pulumi, no I/O.
//
// Sources (Amazon EC2 API Reference):
// - CreateSecurityGroup: GroupName "Up to 255 characters in length. Cannot start with sg-. Valid characters:
//   a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"; GroupDescription "Up to 255 characters in length.
//   Valid characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*".
// - IpRange / Ipv6Range Description (the rule descriptions AuthorizeSecurityGroupIngress/Egress take, which
//   aws.vpc.SecurityGroupIngressRule/EgressRule send): "Up to 255 characters in length. Allowed characters are
//   a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*". EC2 answers a bad one with `InvalidParameterValue:
//   Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:
//   a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*` (the message seen in the wild, e.g. aws-cloudformation/cfn-lint#173).
// - Tag: "Tag keys are case-sensitive and accept a maximum of 127 Unicode characters. May not begin with aws:";
//   "Tag values are case-sensitive and accept a maximum of 256 Unicode characters". EC2 User Guide, Tag
//   restrictions: "Maximum number of tags per resource – 50".
// - CreateKeyPair / ImportKeyPair KeyName: "Up to 255 ASCII characters".
// - RunInstances UserData: "User data is limited to 16 KB" (the raw bytes, before base64).
// - CreateVolume (gp3): Size "gp3: 1 - 16,384" GiB.
// - AttachVolume Device: EC2 User Guide, "Device names on Linux instances": /dev/sd[f-p] are the names available
//   and recommended for EBS volumes.
// - Data Lifecycle Manager API Reference, CreateLifecyclePolicy Description and Schedule Name: "Pattern:
//   [0-9A-Za-z _-]+", at most 500 and 120 characters; RetainRule Count "Valid Range: Minimum value of 1. Maximum
//   value of 1000"; CreateRule Interval "Valid Values: 1 | 2 | 3 | 4 | 6 | 8 | 12 | 24" (IntervalUnit HOURS) and
//   Times "the time ... in UTC, hh:mm", at most one.
// AWS IoT API Reference (AWS IoT Core as the broker, infra/iot-core.ts):
// - CreateThing thingName: "Length Constraints: Minimum length of 1. Maximum length of 128. Pattern: [a-zA-Z0-9:_-]+".
// - CreatePolicy policyName: "Length Constraints: Minimum length of 1. Maximum length of 128. Pattern: [\w+=,.@-]+";
//   policyDocument: "must have a minimum length of 1, with a maximum length of 2048, excluding whitespace".
// - AttachThingPrincipal thingPrincipalType: "EXCLUSIVE_THING | NON_EXCLUSIVE_THING".
import { IOT_THING_NAME_PATTERN } from "../protocol/iot-core";
import { IOT_POLICY_MAX_CHARS } from "./render/iot-policy";

export const IOT_POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

/** The characters EC2 accepts in security group names and descriptions and in rule descriptions. */
export const EC2_TEXT_CHARS = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*";
const EC2_TEXT = /^[a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]*$/;
export const EC2_TEXT_MAX = 255;
export const TAG_KEY_MAX = 127;
export const TAG_VALUE_MAX = 256;
export const TAGS_PER_RESOURCE_MAX = 50;
export const KEY_NAME_MAX = 255;
export const USER_DATA_MAX_BYTES = 16 * 1024;

/** One refusal, worded the way EC2 words it (code + message), so a test reads like the failed `up` would. */
export interface AwsRefusal {
  /** Input property that carries the value, e.g. "description" or "tags.Name". */
  property: string;
  code:
    | "InvalidParameterValue"
    | "TagLimitExceeded"
    | "InvalidGroup.Reserved"
    | "ValidationException"
    | "InvalidRequestException"
    | "MalformedPolicyException";
  message: string;
}

/** Unicode characters, as AWS counts them (not UTF-16 code units). */
const chars = (s: string) => [...s].length;

/** Why EC2 refuses `text` as a security group name/description or rule description; undefined when it is fine. */
export function ec2TextProblem(text: string): string | undefined {
  if (chars(text) > EC2_TEXT_MAX) return `is ${chars(text)} characters long; at most ${EC2_TEXT_MAX}`;
  if (!EC2_TEXT.test(text)) {
    const bad = [...new Set([...text].filter((c) => !EC2_TEXT.test(c)))].map((c) => JSON.stringify(c));
    return `contains ${bad.join(", ")}; EC2 accepts only ${EC2_TEXT_CHARS}`;
  }
  return undefined;
}

/** The problems of one tag key/value pair (EC2 API Reference, Tag). */
export function tagProblems(key: string, value: string): string[] {
  const out: string[] = [];
  if (chars(key) === 0) out.push("tag key must not be empty");
  if (chars(key) > TAG_KEY_MAX) out.push(`tag key ${JSON.stringify(key)} is longer than ${TAG_KEY_MAX} characters`);
  if (key.toLowerCase().startsWith("aws:")) out.push(`tag key ${JSON.stringify(key)} uses the reserved aws: prefix`);
  if (chars(value) > TAG_VALUE_MAX)
    out.push(`tag value of ${JSON.stringify(key)} is longer than ${TAG_VALUE_MAX} characters`);
  return out;
}

function tagRefusals(tags: unknown): AwsRefusal[] {
  if (tags === undefined || tags === null || typeof tags !== "object") return [];
  const entries = Object.entries(tags as Record<string, unknown>);
  const out: AwsRefusal[] = [];
  if (entries.length > TAGS_PER_RESOURCE_MAX) {
    out.push({
      property: "tags",
      code: "TagLimitExceeded",
      message: `The maximum number of tags per resource is ${TAGS_PER_RESOURCE_MAX}; got ${entries.length}`,
    });
  }
  for (const [k, v] of entries) {
    for (const p of tagProblems(k, String(v ?? ""))) {
      out.push({ property: `tags.${k}`, code: "InvalidParameterValue", message: p });
    }
  }
  return out;
}

function textRefusal(property: string, value: unknown, what: string): AwsRefusal[] {
  if (typeof value !== "string") return [];
  const why = ec2TextProblem(value);
  if (!why) return [];
  return [
    {
      property,
      code: "InvalidParameterValue",
      message: `Invalid ${what}. Valid descriptions are strings less than 256 characters from the following set: ${EC2_TEXT_CHARS} (${property} ${why})`,
    },
  ];
}

/**
 * What EC2 would refuse in the request a resource of this Pulumi type makes with these inputs. `inputs` are the
 * resource's inputs after Pulumi's auto-naming (pass the physical name as `name`/`keyName` when known).
 */
export function awsRefusals(type: string, inputs: Record<string, unknown>): AwsRefusal[] {
  const out = tagRefusals(inputs.tags);
  for (const [property, ok, rule] of IOT_FIELD_RULES[type] ?? []) {
    const v = inputs[property];
    if (typeof v === "string" && !ok(v)) out.push(iotRefusal(property, `${JSON.stringify(v)}: ${rule}`));
  }
  switch (type) {
    case "aws:ec2/securityGroup:SecurityGroup": {
      out.push(...textRefusal("description", inputs.description, "security group description"));
      out.push(...textRefusal("name", inputs.name, "security group name"));
      if (typeof inputs.name === "string" && inputs.name.toLowerCase().startsWith("sg-")) {
        out.push({
          property: "name",
          code: "InvalidGroup.Reserved",
          message: `Security group names may not start with sg- (got ${JSON.stringify(inputs.name)})`,
        });
      }
      break;
    }
    case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
    case "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
    case "aws:ec2/securityGroupRule:SecurityGroupRule":
      out.push(...textRefusal("description", inputs.description, "rule description"));
      break;
    case "aws:ec2/keyPair:KeyPair": {
      const keyName = inputs.keyName;
      if (typeof keyName === "string" && (chars(keyName) > KEY_NAME_MAX || !/^[\x20-\x7e]*$/.test(keyName))) {
        out.push({
          property: "keyName",
          code: "InvalidParameterValue",
          message: `Key pair names are up to ${KEY_NAME_MAX} ASCII characters (got ${JSON.stringify(keyName)})`,
        });
      }
      break;
    }
    case "aws:ebs/volume:Volume": {
      const size = inputs.size;
      if (inputs.type === "gp3" && typeof size === "number" && (size < 1 || size > 16384 || !Number.isInteger(size)))
        out.push({
          property: "size",
          code: "InvalidParameterValue",
          message: `Volume of ${size}GiB is outside the range of gp3 volumes (1-16384 GiB)`,
        });
      break;
    }
    case "aws:ec2/volumeAttachment:VolumeAttachment": {
      if (typeof inputs.deviceName === "string" && !/^\/dev\/sd[f-p]$/.test(inputs.deviceName))
        out.push({
          property: "deviceName",
          code: "InvalidParameterValue",
          message: `Value (${inputs.deviceName}) for parameter device is invalid; use /dev/sd[f-p] for EBS volumes`,
        });
      break;
    }
    case "aws:iot/policy:Policy":
      out.push(...iotPolicyRefusals(inputs));
      break;
    case "aws:dlm/lifecyclePolicy:LifecyclePolicy":
      out.push(...dlmRefusals(inputs));
      break;
    case "aws:ec2/instance:Instance": {
      const userData = inputs.userData;
      if (typeof userData === "string" && Buffer.byteLength(userData) > USER_DATA_MAX_BYTES) {
        out.push({
          property: "userData",
          code: "InvalidParameterValue",
          message: `User data is limited to ${USER_DATA_MAX_BYTES} bytes (got ${Buffer.byteLength(userData)})`,
        });
      }
      break;
    }
  }
  return out;
}

/** AWS IoT inputs with a documented pattern, by resource type: the property, its test, the rule as AWS states it. */
const IOT_FIELD_RULES: Record<string, [string, (v: string) => boolean, string][]> = {
  "aws:iot/thing:Thing": [
    ["name", (v) => IOT_THING_NAME_PATTERN.test(v), "thingName must match [a-zA-Z0-9:_-]+, 1-128"],
  ],
  "aws:iot/policy:Policy": [["name", (v) => IOT_POLICY_NAME.test(v), "policyName must match [\\w+=,.@-]+, 1-128"]],
  "aws:iot/thingPrincipalAttachment:ThingPrincipalAttachment": [
    [
      "thingPrincipalType",
      (v) => ["EXCLUSIVE_THING", "NON_EXCLUSIVE_THING"].includes(v),
      "EXCLUSIVE_THING | NON_EXCLUSIVE_THING",
    ],
  ],
};

const iotRefusal = (property: string, message: string): AwsRefusal => ({
  property,
  code: "InvalidRequestException",
  message,
});

function iotPolicyRefusals(inputs: Record<string, unknown>): AwsRefusal[] {
  const out: AwsRefusal[] = [];
  if (typeof inputs.policy === "string") {
    const chars = inputs.policy.replace(/\s/g, "").length;
    if (chars < 1 || chars > IOT_POLICY_MAX_CHARS)
      out.push(
        iotRefusal("policy", `policyDocument has ${chars} characters without white space; 1-${IOT_POLICY_MAX_CHARS}`),
      );
    try {
      const doc = JSON.parse(inputs.policy) as { Version?: unknown; Statement?: unknown };
      if (doc.Version !== "2012-10-17" || !Array.isArray(doc.Statement) || doc.Statement.length === 0)
        throw new Error("needs Version 2012-10-17 and a Statement list");
    } catch (e) {
      out.push({ property: "policy", code: "MalformedPolicyException", message: (e as Error).message });
    }
  }
  return out;
}

const DLM_TEXT = /^[0-9A-Za-z _-]+$/;
const DLM_INTERVAL_HOURS = [1, 2, 3, 4, 6, 8, 12, 24];

function dlmRefusals(inputs: Record<string, unknown>): AwsRefusal[] {
  const out: AwsRefusal[] = [];
  const bad = (property: string, message: string) => out.push({ property, code: "ValidationException", message });
  const description = inputs.description;
  if (typeof description === "string" && (description.length > 500 || !DLM_TEXT.test(description)))
    bad("description", `Description ${JSON.stringify(description)} must match [0-9A-Za-z _-]+ (at most 500)`);
  const details = (inputs.policyDetails ?? {}) as { schedules?: Record<string, any>[] };
  for (const [i, schedule] of (details.schedules ?? []).entries()) {
    const name = schedule.name;
    if (typeof name === "string" && (name.length > 120 || !DLM_TEXT.test(name)))
      bad(
        `policyDetails.schedules[${i}].name`,
        `Name ${JSON.stringify(name)} must match [0-9A-Za-z _-]+ (at most 120)`,
      );
    const count = schedule.retainRule?.count;
    if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > 1000))
      bad(`policyDetails.schedules[${i}].retainRule.count`, `Count ${count} is outside 1-1000`);
    const rule = schedule.createRule ?? {};
    if (rule.intervalUnit === "HOURS" && !DLM_INTERVAL_HOURS.includes(rule.interval))
      bad(
        `policyDetails.schedules[${i}].createRule.interval`,
        `Interval ${rule.interval} hours is not one of ${DLM_INTERVAL_HOURS.join(", ")}`,
      );
    if (rule.times !== undefined && !/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(String(rule.times)))
      bad(
        `policyDetails.schedules[${i}].createRule.times`,
        `Times ${JSON.stringify(rule.times)} is not one hh:mm in UTC`,
      );
  }
  return out;
}

/** "Code: message" lines, one per refusal. */
export function formatRefusals(refusals: readonly AwsRefusal[]): string {
  return refusals.map((r) => `${r.code}: ${r.message}`).join("\n");
}
