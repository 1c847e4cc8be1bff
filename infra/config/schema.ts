// The stack config as one zod schema: a field per key of the key table (keys.ts), in its order, then the rules that
// span keys (superRefine), then the derived values (transform). Settings and its parts are what it outputs (z.infer).
// To add a key: its row in KEYS, its field here (an integer key: only its row, with min and max), and
// Pulumi.yaml/README (test/unit/config.test.ts checks them).
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import type { Backend, Board, SafeState } from "../../device/config";
import { show, str } from "../../device/config-fields";
import { BROKER_KINDS, type BrokerKind, isDeviceId } from "../../protocol";
import { EMAIL_ADDRESS as EMAIL } from "../../protocol/email";
import { TAGS_PER_RESOURCE_MAX, tagProblems } from "../aws-rules";
import { checkCidr, isHost } from "../net";
import { devicesSchema } from "./devices";
import { iotCoreQuotaProblems } from "./iot-core";
import { entryFix, type IssueParams } from "./errors";
import { boolean, boolLike, integer, json, stringList, text, textThat } from "./fields";
import {
  type ConfigKey,
  INSTANCE_TYPES,
  KEYS,
  type KeySpec,
  NAMESPACE,
  OS_ADMIN_USER,
  OS_CHOICES,
  type SecretKey,
} from "./keys";

export type { Backend, Board, SafeState };
export type { Os } from "./keys";
export type Arch = "x86_64" | "arm64";

const FQDN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const PRIVATE_KEY =
  /-----BEGIN ((OPENSSH|RSA|EC) )?PRIVATE KEY-----[\s\S]+-----END ((OPENSSH|RSA|EC) )?PRIVATE KEY-----/;

/**
 * Whether a private key is encrypted with a passphrase. OpenSSH's own format (PROTOCOL.key in OpenSSH's source):
 * base64 of "openssh-key-v1\0", then the cipher name as a string (uint32 length + bytes), "none" when unencrypted.
 * PEM: a "Proc-Type: 4,ENCRYPTED" header (traditional RSA/EC keys) or an ENCRYPTED PRIVATE KEY block (PKCS#8).
 */
export function privateKeyHasPassphrase(pem: string): boolean {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /^Proc-Type: 4,ENCRYPTED/m.test(pem)) return true;
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]+?)-----END OPENSSH PRIVATE KEY-----/.exec(pem);
  if (!m) return false;
  const body = Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64");
  const magic = "openssh-key-v1\0";
  if (body.subarray(0, magic.length).toString("latin1") !== magic || body.length < magic.length + 4) return false;
  const length = body.readUInt32BE(magic.length);
  const cipher = body.subarray(magic.length + 4, magic.length + 4 + length).toString("latin1");
  return cipher !== "none";
}

/**
 * A key's field: unset (absent, null, or "" — Pulumi.yaml's default for optional strings) takes the key table's
 * default, which goes through the same checks as a given value.
 */
function key<T extends z.ZodType>(k: ConfigKey, schema: T) {
  const fallback = (KEYS[k] as KeySpec).default;
  return z.preprocess((v) => (v === undefined || v === null || v === "" ? fallback : v), schema);
}

/** A secret key's plain value, checked here and handed on only as a Pulumi secret (parseSettings). */
const secretText = (check: (v: string) => string | undefined) =>
  z
    .string({ error: "must be a string" })
    .superRefine((v, ctx) => {
      const why = check(v);
      if (why) ctx.addIssue(why);
    })
    .optional();

const email = textThat((v) => EMAIL.test(v), "an e-mail address").optional();

const integrationsSchema = z
  .strictObject({ homeAssistant: z.strictObject({ enabled: boolLike("enabled") }).optional() })
  .transform((i) => ({
    /**
     * Home Assistant: every device announced over MQTT discovery by the web app, and one more client
     * certificate (CN homeassistant) with its own narrow ACL for Home Assistant's MQTT integration.
     */
    homeAssistant: i.homeAssistant?.enabled === true,
  }));

/** The program adds a Name tag to every resource it tags, so one of EC2's 50 tags per resource is taken. */
export const MAX_USER_TAGS = TAGS_PER_RESOURCE_MAX - 1;

// Values must be strings; EC2's own rules (infra/aws-rules.ts) are applied per tag here, because zod reports a
// refused record key only as "Invalid key in record".
const tagsSchema = z.record(z.string(), str("tag value")).superRefine((tags, ctx) => {
  for (const [k, v] of Object.entries(tags))
    for (const message of tagProblems(k, v))
      ctx.addIssue({ code: "custom", message, path: [k], params: { fix: entryFix("tags.<key>") } });
  const count = Object.keys(tags).length;
  if (count > MAX_USER_TAGS)
    ctx.addIssue(
      `has ${count} tags; EC2 takes ${TAGS_PER_RESOURCE_MAX} per resource and the program adds Name, so at most ${MAX_USER_TAGS}`,
    );
});

/** The keys whose field is made from their row in KEYS: whole numbers in the row's min-max. */
type IntegerKey = { [K in ConfigKey]: (typeof KEYS)[K] extends { type: "integer" } ? K : never }[ConfigKey];
const INTEGER_KEYS = (Object.keys(KEYS) as ConfigKey[]).filter((k): k is IntegerKey => KEYS[k].type === "integer");
const integerField = (k: IntegerKey) => key(k, integer(KEYS[k].min, KEYS[k].max));

// The field of every other key. `satisfies`: a row of KEYS without its field here, or a field without a row, does not
// compile.
const writtenFields = {
  instanceType: key(
    "instanceType",
    text.refine((v) => (INSTANCE_TYPES as readonly string[]).includes(v), {
      error: (iss) =>
        `unknown or unsupported instance type ${show(iss.input)}; use one of ${INSTANCE_TYPES.join(", ")}`,
    }),
  ),
  os: key(
    "os",
    text.pipe(
      z.enum(OS_CHOICES, { error: (iss) => `must be one of ${OS_CHOICES.join(", ")}, got ${show(iss.input)}` }),
    ),
  ),
  // protocol/limits.ts names the brokers the protocol runs on; the IoT Core quotas a stack must fit are checked with
  // the other keys below.
  broker: key(
    "broker",
    text
      .refine((v): v is BrokerKind => (BROKER_KINDS as readonly string[]).includes(v), {
        error: (iss) => `must be one of ${BROKER_KINDS.join(", ")}, got ${show(iss.input)}`,
      })
      .transform((v) => v as BrokerKind),
  ),
  // EC2 ids are "subnet-" and 8 or 17 hex digits.
  subnetId: key(
    "subnetId",
    textThat(
      (v) => /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/.test(v),
      "a subnet id like subnet-0123456789abcdef0",
    ).optional(),
  ),
  // Each CIDR is checked with allowSshFromAnywhere, below.
  adminCidrs: key(
    "adminCidrs",
    stringList("is required: the CIDRs allowed to SSH to the server (your public IP with /32)"),
  ),
  allowSshFromAnywhere: key("allowSshFromAnywhere", boolean),
  webPassword: key(
    "webPassword",
    secretText((v) =>
      v.length < 12
        ? `is ${v.length} characters long; use at least 12 (or unset it to get a generated one)`
        : undefined,
    ),
  ),
  domain: key(
    "domain",
    textThat((v) => FQDN.test(v), "a fully qualified lowercase domain name like iot.example.com").optional(),
  ),
  route53ZoneId: key(
    "route53ZoneId",
    textThat((v) => /^Z[A-Z0-9]{1,32}$/.test(v), "a Route 53 hosted zone id (Z...)").optional(),
  ),
  letsEncryptEmail: key("letsEncryptEmail", email),
  ddnsUpdateUrl: key(
    "ddnsUpdateUrl",
    secretText((v) => {
      try {
        return new URL(v).protocol === "https:" ? undefined : "must be an https:// URL (it carries a token)";
      } catch {
        return "is not a URL";
      }
    }),
  ),
  alertEmail: key("alertEmail", email),
  smtpHost: key("smtpHost", textThat(isHost, "a host name or IP address").optional()),
  smtpUser: key("smtpUser", textThat((v) => v.length <= 256 && !/\s/.test(v), "a user name without spaces").optional()),
  smtpPassword: key(
    "smtpPassword",
    secretText(() => undefined),
  ),
  smtpFrom: key("smtpFrom", email),
  /** Opaque token; changing it replaces every CA-signed certificate on the next `pulumi up`. */
  certRotation: key(
    "certRotation",
    text.refine((v) => /^[A-Za-z0-9._-]{1,64}$/.test(v), {
      error: (iss) => `${show(iss.input)} must be a short token (letters, digits, . _ -), e.g. a date or a counter`,
    }),
  ),
  // Each id is checked against devices, below.
  revokedDevices: key("revokedDevices", stringList()),
  /** The snapshot the history volume is made from (a restore); a changed value replaces the volume. */
  historySnapshotId: key(
    "historySnapshotId",
    textThat(
      (v) => /^snap-([0-9a-f]{8}|[0-9a-f]{17})$/.test(v),
      "a snapshot id like snap-0123456789abcdef0",
    ).optional(),
  ),
  deviceSshPrivateKey: key(
    "deviceSshPrivateKey",
    secretText((v) => {
      if (privateKeyHasPassphrase(v))
        return `is protected by a passphrase, which nothing can type during \`pulumi up\`; make a dedicated key without one for the boards: ssh-keygen -t ed25519 -N '' -f ~/.ssh/diy-device -C diy-device-cloud, put ~/.ssh/diy-device.pub in each board's authorized_keys (ssh-copy-id -i ~/.ssh/diy-device.pub pi@<board>), then set it`;
      return PRIVATE_KEY.test(v)
        ? undefined
        : "is not a private key (expected -----BEGIN OPENSSH PRIVATE KEY----- ...)";
    }),
  ),
  devices: key("devices", json("array", devicesSchema)),
  integrations: key("integrations", json("object", integrationsSchema)),
  tags: key("tags", json("object", tagsSchema)),
} satisfies Record<Exclude<ConfigKey, IntegerKey>, z.ZodType>;

const allFields = {
  ...writtenFields,
  ...(Object.fromEntries(INTEGER_KEYS.map((k) => [k, integerField(k)])) as Record<
    IntegerKey,
    ReturnType<typeof integerField>
  >),
};
// In the key table's order, which is the order problems are reported in.
const fields = z.object(
  Object.fromEntries((Object.keys(KEYS) as ConfigKey[]).map((k) => [k, allFields[k]])) as typeof allFields,
);
type Fields = z.output<typeof fields>;
type NumberKey = {
  [K in keyof Fields & ConfigKey]: Fields[K] extends number
    ? (typeof KEYS)[K] extends { default: number }
      ? K
      : never
    : never;
}[keyof Fields & ConfigKey];

/**
 * MiB of a history volume the database may fill: 90 % of it (ext4's inode tables and metadata), less 128 MiB
 * (mke2fs gives a 1-16 GiB file system a 64 MiB journal; the WAL, up to SQLite's journal_size_limit of 8 MiB
 * after a checkpoint, and lost+found share the rest).
 */
export function historyVolumeRoomMegabytes(gib: number): number {
  return Math.floor(gib * 1024 * 0.9) - 128;
}

/**
 * The rules between keys. They run even when some keys failed (`when`), as one pass names every problem: a key that
 * failed counts with its default, as the rules would see it once fixed; "set" means given, valid or not.
 */
function crossKeyRules(s: Fields, ctx: z.RefinementCtx<Fields>): void {
  const failed = new Set(ctx.issues.map((i) => i.path?.[0]));
  const valid = (k: NumberKey): number => (failed.has(k) ? KEYS[k].default : s[k]);
  const set = (k: keyof Fields) => s[k] !== undefined;
  const add = (k: ConfigKey, message: string, fix?: string) =>
    ctx.addIssue({ code: "custom", message, path: [k], ...(fix ? { params: { fix } satisfies IssueParams } : {}) });

  // SSH exposure
  if (!failed.has("adminCidrs")) {
    if (s.adminCidrs.length === 0) add("adminCidrs", "must list at least one CIDR");
    const accepted: string[] = [];
    for (const [i, c] of s.adminCidrs.entries()) {
      const r = checkCidr(c);
      if (!r.ok) {
        const suggestion = /write (\S+)|the network is (\S+)/.exec(r.why);
        const value = suggestion?.[1] ?? suggestion?.[2] ?? "198.51.100.7/32";
        add("adminCidrs", `item ${i}: ${r.why}`, `pulumi config set --path '${NAMESPACE}:adminCidrs[${i}]' ${value}`);
      } else if (
        r.canonical.endsWith("/0") &&
        !(s.allowSshFromAnywhere === true && !failed.has("allowSshFromAnywhere"))
      ) {
        add(
          "adminCidrs",
          `${show(c)} opens SSH to the whole internet; use your own IP/32, or also set ${NAMESPACE}:allowSshFromAnywhere true to accept that risk`,
        );
      } else if (accepted.includes(r.canonical)) add("adminCidrs", `${show(c)} is listed twice`);
      else accepted.push(r.canonical);
    }
  }

  // DNS / TLS
  if (s.route53ZoneId && !failed.has("route53ZoneId") && !set("domain"))
    add("route53ZoneId", "needs domain: set the name to create in this zone");
  if (set("letsEncryptEmail") && !set("domain"))
    add("letsEncryptEmail", "needs domain: Let's Encrypt certifies a name, not an IP");
  if (s.domain && !failed.has("domain") && !set("letsEncryptEmail") && !set("alertEmail"))
    add("letsEncryptEmail", "is required when domain is set (or set alertEmail)");

  // Mail
  if (set("alertEmail") && !set("smtpHost"))
    add("smtpHost", "is required when alertEmail is set: postfix relays mail through it");
  if (set("smtpUser") && !set("smtpPassword")) add("smtpPassword", "is required when smtpUser is set");
  if (set("smtpPassword") && !set("smtpUser")) add("smtpUser", "is required when smtpPassword is set");

  // Certificates
  const validity = valid("certValidityDays");
  const warn = valid("certExpiryWarnDays");
  const early = valid("certEarlyRenewalDays");
  if (warn >= validity) add("certExpiryWarnDays", `(${warn}) must be less than certValidityDays (${validity})`);
  if (early >= validity) add("certEarlyRenewalDays", `(${early}) must be less than certValidityDays (${validity})`);

  // History
  const rawDays = valid("historyRawDays");
  const aggregateDays = valid("historyAggregateDays");
  if (aggregateDays < rawDays)
    add("historyAggregateDays", `(${aggregateDays}) must be at least historyRawDays (${rawDays})`);
  const gib = valid("historyVolumeGiB");
  const maxMegabytes = valid("historyMaxMegabytes");
  if (maxMegabytes > historyVolumeRoomMegabytes(gib)) {
    const need = Math.ceil((maxMegabytes + 128) / 1024 / 0.9);
    add(
      "historyVolumeGiB",
      `(${gib} GiB) leaves room for ${historyVolumeRoomMegabytes(gib)} MiB of history, less than historyMaxMegabytes (${maxMegabytes}); use at least ${need} GiB or a smaller historyMaxMegabytes`,
      `pulumi config set ${NAMESPACE}:historyVolumeGiB ${need}`,
    );
  }

  // Devices
  const devices = failed.has("devices") ? [] : s.devices;
  if (devices.length > 0 && !set("deviceSshPrivateKey"))
    add(
      "deviceSshPrivateKey",
      `is required when devices are listed (${devices.length}): the key that logs in to them over SSH`,
    );
  if (!failed.has("revokedDevices")) {
    const listed: string[] = [];
    for (const [i, id] of s.revokedDevices.entries()) {
      if (!isDeviceId(id)) add("revokedDevices", `item ${i}: ${show(id)} is not a device id`);
      else if (listed.includes(id)) add("revokedDevices", `${show(id)} is listed twice`);
      else {
        listed.push(id);
        // Only against a devices list that parsed: otherwise its own problems say what to fix first.
        if (!failed.has("devices") && !devices.some((d) => d.id === id))
          add(
            "revokedDevices",
            `${show(id)} is not in devices; keep a revoked device's entry in devices so its certificate (and serial) stays known`,
          );
      }
    }
  }

  // AWS IoT Core's quotas (config/iot-core.ts), against lists that parsed: otherwise their own problems come first.
  if (s.broker === "iot-core" && !["broker", "devices", "revokedDevices", "integrations"].some((k) => failed.has(k)))
    for (const p of iotCoreQuotaProblems(s))
      ctx.addIssue({ code: "custom", message: p.message, path: p.path, params: { fix: p.fix } satisfies IssueParams });
}

/** The values the program derives from the keys. */
function derived(s: Fields) {
  const arch: Arch = s.instanceType.startsWith("t4g.") ? "arm64" : "x86_64";
  const letsEncryptEmail = s.letsEncryptEmail ?? (s.domain ? s.alertEmail : undefined);
  const smtpFrom = s.smtpFrom ?? s.alertEmail;
  return {
    ...s,
    /** Derived from instanceType: Graviton types (t4g) run arm64 AMIs. */
    arch,
    /** Login user of the AMI: Debian's cloud images use `admin`, Ubuntu's `ubuntu`. */
    adminUser: OS_ADMIN_USER[s.os],
    adminCidrs: s.adminCidrs.map((c) => {
      const r = checkCidr(c);
      return r.ok ? r.canonical : c;
    }),
    /** Let's Encrypt account address; defaults to alertEmail when a domain is set. */
    ...(letsEncryptEmail ? { letsEncryptEmail } : {}),
    /** Sender of alert mails; defaults to alertEmail. */
    ...(smtpFrom ? { smtpFrom } : {}),
  };
}

export const settingsSchema = fields.superRefine(crossKeyRules, { when: () => true }).transform(derived);

/** What the schema outputs: every secret still in plain text (parseSettings wraps them). */
export type ParsedSettings = z.output<typeof settingsSchema>;

// What the rest of the program receives. The parts a Settings built by hand (tests, the VM tier) may leave out are
// optional here; parseSettings always fills them, and historySettings/historyStorageSettings apply the defaults.
type HandOptional =
  | "historyRawDays"
  | "historyAggregateDays"
  | "historyMaxMegabytes"
  | "historyVolumeGiB"
  | "historySnapshotDays";

export type DeviceSettings = Omit<ParsedSettings["devices"][number], "sensors"> & {
  /** parseSettings always fills it ([] by default); a Settings built by hand may leave it out. */
  sensors?: ParsedSettings["devices"][number]["sensors"];
};
export type OutputSettings = DeviceSettings["outputs"][number];
export type InputSettings = DeviceSettings["inputs"][number];
export type SensorSettings = NonNullable<DeviceSettings["sensors"]>[number];
export type SensorBackendSettings = SensorSettings["backend"];
export type BridgeSettings = NonNullable<DeviceSettings["bridge"]>;
export type BridgeChildSettings = BridgeSettings["children"][number];
/** Optional integrations with other home software (stack key `integrations`). */
export type IntegrationSettings = ParsedSettings["integrations"];

export type Settings = Omit<ParsedSettings, SecretKey | HandOptional | "devices"> &
  Partial<Pick<ParsedSettings, HandOptional>> & {
    devices: DeviceSettings[];
  } & {
    /** Secrets as Pulumi secrets; webPassword undefined -> the program generates one. */
    [K in SecretKey]?: pulumi.Output<string>;
  };
