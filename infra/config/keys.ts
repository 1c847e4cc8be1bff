// The stack config's keys: type, default, description, example and fix. Pulumi.yaml's config schema and README's
// Configuration table mirror this table (test/unit/config.test.ts checks that they do).

/** Config namespace = the project name in Pulumi.yaml. */
export const NAMESPACE = "diy-device-cloud";

/** Server operating systems, newest Debian first (the default). */
export const OS_CHOICES = ["debian13", "debian12", "ubuntu2404"] as const;
export type Os = (typeof OS_CHOICES)[number];
/** Login user of each OS's cloud image: Debian's cloud team uses `admin`, Canonical `ubuntu`. */
export const OS_ADMIN_USER: Record<Os, "admin" | "ubuntu"> = {
  debian13: "admin",
  debian12: "admin",
  ubuntu2404: "ubuntu",
};
export type KeyType = "string" | "integer" | "boolean" | "array" | "object";
interface KeySpecBase {
  description: string;
  /** Value used when the key is unset; undefined = optional with no default (or required). */
  default?: string | number | boolean | readonly string[] | Readonly<Record<string, never>>;
  required?: boolean;
  secret?: boolean;
  /** A value that works, for the fix line of an error and the README. */
  example: string;
  /** The whole fix command when `pulumi config set <key> <example>` is not the way (lists, objects). */
  fix?: string;
}
/** A whole-number key: its schema field (schema.ts) is made from this row and refuses a value outside min-max. */
export interface IntegerKeySpec extends KeySpecBase {
  type: "integer";
  min: number;
  max: number;
}
export type KeySpec = IntegerKeySpec | (KeySpecBase & { type: Exclude<KeyType, "integer"> });

export const INSTANCE_TYPES = [
  "t2.micro",
  "t2.small",
  "t3.nano",
  "t3.micro",
  "t3.small",
  "t3.medium",
  "t3a.nano",
  "t3a.micro",
  "t3a.small",
  "t3a.medium",
  "t4g.nano",
  "t4g.micro",
  "t4g.small",
  "t4g.medium",
] as const;

export const KEYS = {
  instanceType: {
    type: "string",
    default: "t3.micro",
    description: `EC2 instance type; a burstable micro type is enough (t4g.* runs arm64). One of: ${INSTANCE_TYPES.join(", ")}.`,
    example: "t3.micro",
  },
  os: {
    type: "string",
    default: "debian13",
    description: "Server operating system: debian13 (default), debian12 or ubuntu2404.",
    example: "debian13",
  },
  broker: {
    type: "string",
    default: "mosquitto",
    description:
      "MQTT broker: mosquitto on the instance (default), or iot-core: AWS IoT Core, with a thing, a certificate and policies per device, bridge connection and the web app; port 8883 stays closed and no mosquitto runs on the server. Home Assistant (integrations.homeAssistant) needs mosquitto: its discovery subscribes more filters on one connection than the 50 IoT Core allows.",
    example: "iot-core",
  },
  subnetId: {
    type: "string",
    description:
      "An existing public subnet (routed to an internet gateway) to put the server in; unset: the stack creates its own small VPC with one public subnet (IPv4 and IPv6).",
    example: "subnet-0123456789abcdef0",
  },
  adminCidrs: {
    type: "array",
    required: true,
    description: "CIDRs allowed to SSH to the server (port 22), e.g. your public IP with /32. Required.",
    example: "'[\"198.51.100.7/32\"]'",
    fix: `pulumi config set --path '${NAMESPACE}:adminCidrs[0]' 198.51.100.7/32`,
  },
  allowSshFromAnywhere: {
    type: "boolean",
    default: false,
    description: "Explicit opt-in to let adminCidrs contain 0.0.0.0/0 or ::/0 (SSH open to the internet).",
    example: "false",
  },
  webPassword: {
    type: "string",
    secret: true,
    description: "Password of the web page, at least 12 characters. Unset: one is generated.",
    example: "'<a long password>'",
  },
  domain: {
    type: "string",
    description: "DNS name of the server; when set, nginx gets a Let's Encrypt certificate for it.",
    example: "iot.example.com",
  },
  route53ZoneId: {
    type: "string",
    description: "Route 53 hosted zone to create the domain's A record in (needs domain).",
    example: "Z0123456789ABCDEFGHIJ",
  },
  letsEncryptEmail: {
    type: "string",
    description: "Let's Encrypt account e-mail (needs domain; defaults to alertEmail).",
    example: "you@example.com",
  },
  ddnsUpdateUrl: {
    type: "string",
    secret: true,
    description: "HTTPS URL the server calls to update a dynamic-DNS name with its IP (contains a token).",
    example: "'https://dyn.example.net/update?token=...'",
  },
  alertEmail: {
    type: "string",
    description: "Where fail2ban bans, offline devices and expiring certificates are mailed (needs smtpHost).",
    example: "you@example.com",
  },
  smtpHost: {
    type: "string",
    description: "SMTP relay that postfix sends through (submission with TLS).",
    example: "smtp.example.com",
  },
  smtpPort: {
    type: "integer",
    min: 1,
    max: 65535,
    default: 587,
    description: "Port of the SMTP relay.",
    example: "587",
  },
  smtpUser: {
    type: "string",
    description: "SMTP relay user name (with smtpPassword).",
    example: "you@example.com",
  },
  smtpPassword: {
    type: "string",
    secret: true,
    description: "SMTP relay password (with smtpUser).",
    example: "'<relay password>'",
  },
  smtpFrom: {
    type: "string",
    description: "Sender address of alert mails (defaults to alertEmail).",
    example: "iot@example.com",
  },
  offlineAlertMinutes: {
    type: "integer",
    min: 1,
    max: 1440,
    default: 10,
    description: "Minutes a device may be offline before an alert mail is sent (1-1440).",
    example: "10",
  },
  alertRateLimitMinutes: {
    type: "integer",
    min: 1,
    max: 10080,
    default: 60,
    description: "At most one alert mail per device and kind within this many minutes (1-10080).",
    example: "60",
  },
  certExpiryWarnDays: {
    type: "integer",
    min: 1,
    max: 3650,
    default: 21,
    description: "Warn by mail this many days before a certificate expires (less than certValidityDays).",
    example: "21",
  },
  certValidityDays: {
    type: "integer",
    min: 1,
    max: 3650,
    default: 397,
    description: "Validity of the server, web and device certificates in days (1-3650); the CA lives 10 years.",
    example: "397",
  },
  certEarlyRenewalDays: {
    type: "integer",
    min: 0,
    max: 3650,
    default: 30,
    description: "A `pulumi up` this many days before expiry re-issues a certificate (less than certValidityDays).",
    example: "30",
  },
  certRotation: {
    type: "string",
    default: "0",
    description: "Change to any other value to re-issue every CA-signed certificate on the next `pulumi up`.",
    example: "1",
  },
  revokedDevices: {
    type: "array",
    default: [],
    description: "Device ids whose certificates go into the broker's CRL; keep them listed in devices.",
    example: "'[\"pi2\"]'",
    fix: `pulumi config set --path '${NAMESPACE}:revokedDevices[0]' pi2`,
  },
  historyRawDays: {
    type: "integer",
    min: 1,
    max: 90,
    default: 7,
    description: "Days the web app keeps raw sensor readings and input events (1-90).",
    example: "7",
  },
  historyAggregateDays: {
    type: "integer",
    min: 1,
    max: 3650,
    default: 365,
    description: "Days the web app keeps 5-minute min/avg/max sensor aggregates (1-3650).",
    example: "365",
  },
  historyMaxMegabytes: {
    type: "integer",
    min: 16,
    max: 1_000_000,
    default: 1024,
    description: "Size limit of the history database in MiB (16-1000000); writes past it are dropped and logged.",
    example: "1024",
  },
  historyVolumeGiB: {
    type: "integer",
    // gp3 volumes are 1-16,384 GiB (EC2 API Reference, CreateVolume Size).
    min: 1,
    max: 16384,
    default: 2,
    description:
      "Size in GiB of the server's encrypted EBS volume that holds the history (1-16384; can only grow); room for historyMaxMegabytes plus about 10 %.",
    example: "2",
  },
  historySnapshotDays: {
    type: "integer",
    // DLM keeps 1-1000 snapshots per schedule (DLM API Reference, RetainRule Count).
    min: 1,
    max: 1000,
    default: 7,
    description: "Daily snapshots of the history volume that Data Lifecycle Manager keeps (1-1000).",
    example: "7",
  },
  historySnapshotId: {
    type: "string",
    description:
      "Snapshot to make the history volume from (a restore): setting or changing it replaces the volume with one made from the snapshot, after a final snapshot of the current one; keep it set afterwards. See README, Sensors and history.",
    example: "snap-0123456789abcdef0",
  },
  deviceSshPrivateKey: {
    type: "string",
    secret: true,
    description:
      "Private SSH key (OpenSSH/PEM, without a passphrase) that logs in to the devices; required when devices are listed.",
    example: "< ~/.ssh/diy-device",
    // From stdin: as an argument, a value starting with "-----BEGIN" is parsed as an option by the CLI.
    fix: `pulumi config set --secret ${NAMESPACE}:deviceSshPrivateKey < ~/.ssh/diy-device`,
  },
  devices: {
    type: "object",
    default: [],
    description: "Boards to provision: [{ id, host, port, user, hostKey, board, outputs, inputs, sensors, bridge }].",
    example:
      '\'[{"id":"pi1","host":"192.0.2.21","board":"raspberrypi","outputs":[{"name":"led"}],"inputs":[{"name":"button"}]}]\'',
  },
  integrations: {
    type: "object",
    default: {},
    description:
      "Integrations: { homeAssistant: { enabled: true } } announces every device to Home Assistant (MQTT discovery) and issues it a client certificate (CN homeassistant).",
    example: '\'{"homeAssistant":{"enabled":true}}\'',
    fix: `pulumi config set --path '${NAMESPACE}:integrations.homeAssistant.enabled' true`,
  },
  tags: {
    type: "object",
    default: {},
    description: "Tags added to every AWS resource.",
    example: '\'{"owner":"me"}\'',
  },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof KEYS;

export type SecretKey = { [K in ConfigKey]: (typeof KEYS)[K] extends { secret: true } ? K : never }[ConfigKey];
export const SECRET_KEYS = (Object.keys(KEYS) as ConfigKey[]).filter(
  (k) => (KEYS[k] as KeySpec).secret === true,
) as SecretKey[];
