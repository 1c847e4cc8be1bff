// The server instance: instance metadata, disk encryption, size, and what its user data may contain.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { INSTANCE_TYPES } from "../infra/config";
import { forType, TYPES } from "./common";

interface InstanceProps {
  instanceType?: string;
  metadataOptions?: { httpTokens?: string; httpEndpoint?: string };
  rootBlockDevice?: { encrypted?: boolean };
  ebsBlockDevices?: { deviceName?: string; encrypted?: boolean }[];
  userData?: string;
  userDataBase64?: string;
}

export const imdsv2Required: ResourceValidationPolicy = {
  name: "instance-imdsv2-required",
  description: "Instances require IMDSv2 session tokens (metadataOptions.httpTokens = required).",
  enforcementLevel: "mandatory",
  validateResource: forType<InstanceProps>(TYPES.instance, (instance, _args, reportViolation) => {
    const options = instance.metadataOptions;
    if (options?.httpEndpoint === "disabled") return;
    if (options?.httpTokens !== "required") {
      reportViolation(
        `metadataOptions.httpTokens is ${JSON.stringify(options?.httpTokens ?? "unset")}: set it to "required" ` +
          "so that a request forged through the instance (SSRF) cannot read the role credentials (IMDSv1)",
      );
    }
  }),
};

export const encryptedVolumes: ResourceValidationPolicy = {
  name: "instance-encrypted-volumes",
  description: "The root volume and every EBS volume of an instance are encrypted.",
  enforcementLevel: "mandatory",
  validateResource: forType<InstanceProps>(TYPES.instance, (instance, _args, reportViolation) => {
    if (instance.rootBlockDevice?.encrypted !== true) {
      reportViolation("rootBlockDevice.encrypted is not true: encrypt the root volume (it holds the broker's keys)");
    }
    for (const device of instance.ebsBlockDevices ?? []) {
      if (device.encrypted !== true) reportViolation(`EBS volume ${device.deviceName ?? "(unnamed)"} is not encrypted`);
    }
  }),
};

/**
 * Sizes the pack allows by default: the micro types of the AWS free tier and the next sizes up that the
 * program's config accepts (infra/config.ts INSTANCE_TYPES, the one list of supported types). Medium types
 * pass the config check but cost real money: a team that wants them says so in the pack's config
 * (`allowedInstanceTypes`).
 */
export const DEFAULT_ALLOWED_INSTANCE_TYPES: readonly string[] = INSTANCE_TYPES.filter((t) =>
  /\.(nano|micro|small)$/.test(t),
);

export const allowedInstanceType: ResourceValidationPolicy = {
  name: "instance-type-allowed",
  description: "Instances use a small burstable type (free-tier micro types or the small types the config allows).",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      allowedInstanceTypes: { type: "array", items: { type: "string" }, default: [...DEFAULT_ALLOWED_INSTANCE_TYPES] },
    },
  },
  validateResource: forType<InstanceProps>(TYPES.instance, (instance, args, reportViolation) => {
    const allowed = args.getConfig<{ allowedInstanceTypes?: string[] }>().allowedInstanceTypes ?? [
      ...DEFAULT_ALLOWED_INSTANCE_TYPES,
    ];
    if (!instance.instanceType || !allowed.includes(instance.instanceType)) {
      reportViolation(
        `instance type ${instance.instanceType ?? "(unset)"} is not allowed; use one of ${allowed.join(", ")}`,
      );
    }
  }),
};

/** Patterns of secrets that must never be in user data (EC2 stores it in clear, readable via the API). */
const SECRET_PATTERNS: { what: string; pattern: RegExp }[] = [
  { what: "a private key", pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/ },
  {
    what: "a password or secret assignment",
    // `smtp_password = x`, `"password": "x"`, `passwd: x`; not `lock_passwd: true` or `..._password_maps = ...`.
    pattern:
      /(?:password|passwd|passphrase|secret|api[_-]?key)["']?\s*[:=]\s*["']?(?!(?:true|false|yes|no|null)\b)[^\s"',}]{3,}/i,
  },
  { what: "an AWS access key id", pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
];

/** What kinds of secret a user data text contains (empty when clean). */
export function secretsIn(userData: string): string[] {
  return SECRET_PATTERNS.filter((p) => p.pattern.test(userData)).map((p) => p.what);
}

export const noSecretsInUserData: ResourceValidationPolicy = {
  name: "instance-user-data-without-secrets",
  description:
    "User data holds no private key or password: it is stored in clear and readable by anyone with ec2:Describe*.",
  enforcementLevel: "mandatory",
  validateResource: forType<InstanceProps>(TYPES.instance, (instance, _args, reportViolation) => {
    const texts = [instance.userData ?? ""];
    if (instance.userDataBase64) texts.push(Buffer.from(instance.userDataBase64, "base64").toString("utf8"));
    for (const what of new Set(texts.flatMap(secretsIn))) {
      reportViolation(`user data contains ${what}: push secrets over SSH (stdin) instead`);
    }
  }),
};
