// The only module that knows the stack config keys. It reads the stack config once, checks every key,
// and hands the rest of the program one typed `Settings` object. All problems are collected and thrown
// together, before any resource exists, so a user fixes their config in one pass instead of one `up` per typo.
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  type Backend,
  Board,
  GpiodBackend,
  type InputBackend,
  LedBackend,
  SafeState,
  SimulatedBackend,
  SysfsBackend,
} from "../device/config";
import { bool, show, str, unknownType, wholeNumber } from "../device/config-fields";
import { isDeviceId, isIoName, RESERVED_IDS } from "../protocol";
import { resolveBackends } from "./render/device-board";
import { TAGS_PER_RESOURCE_MAX, tagProblems } from "./aws-rules";

/** Config namespace = the project name in Pulumi.yaml. */
export const NAMESPACE = "diy-device-cloud";

// ---------------------------------------------------------------------------------------------------------
// Settings: what the rest of the program receives.
// ---------------------------------------------------------------------------------------------------------

/** Server operating systems, newest Debian first (the default). */
export const OS_CHOICES = ["debian13", "debian12", "ubuntu2404"] as const;
export type Os = (typeof OS_CHOICES)[number];
/** Login user of each OS's cloud image: Debian's cloud team uses `admin`, Canonical `ubuntu`. */
export const OS_ADMIN_USER: Record<Os, "admin" | "ubuntu"> = {
  debian13: "admin",
  debian12: "admin",
  ubuntu2404: "ubuntu",
};
export type Arch = "x86_64" | "arm64";
// A board, a safe state and how a device drives or reads one line: device/config.ts's schema owns the types.
export type { Backend, Board, SafeState };

export interface OutputSettings {
  name: string;
  safeState: SafeState;
  /** The entry's backend, or the board profile's default when it names none (infra/render/device-board.ts). */
  backend: Backend;
}
export interface InputSettings {
  name: string;
  /** As for outputs; never a kernel LED. */
  backend: InputBackend;
}
/** How a device reads one sensor; same shape as device/sensors/config.ts's backends. */
export type SensorBackendSettings =
  | { type: "cpu-thermal"; zone?: number }
  | { type: "ds18b20"; id?: string }
  | { type: "file"; path: string; scale?: number; offset?: number }
  | { type: "simulated"; file?: string; base?: number; amplitude?: number; periodSeconds?: number; noise?: number };
export interface SensorSettings {
  name: string;
  unit?: string;
  intervalSeconds: number;
  reportChange?: number;
  backend: SensorBackendSettings;
  /** Mail when the reading stays above/below for forMinutes (through alertEmail, rate limited). */
  alert?: { above?: number; below?: number; forMinutes: number };
}
export interface BridgeChildSettings {
  id: string;
  outputs: string[];
  inputs: string[];
}
export interface BridgeSettings {
  /** Address of the bridge's plain MQTT listener on the LAN (devices without TLS connect here). */
  lanAddress: string;
  port: number;
  children: BridgeChildSettings[];
}
export interface DeviceSettings {
  id: string;
  host: string;
  port: number;
  user: string;
  /** Expected SSH host key ("ssh-ed25519 AAAA..."); when set, provisioning refuses any other host. */
  hostKey?: string;
  board: Board;
  outputs: OutputSettings[];
  inputs: InputSettings[];
  /** parseSettings always fills it ([] by default); a Settings built by hand may leave it out. */
  sensors?: SensorSettings[];
  bridge?: BridgeSettings;
  /**
   * The board is gone or unreachable: removing the device or destroying the stack forgets it without the uninstall
   * over SSH (Pulumi's retainOnDelete). Set it and run `pulumi up` before the removal or destroy.
   */
  retainOnDelete?: boolean;
}

/** Optional integrations with other home software (stack key `integrations`). */
export interface IntegrationSettings {
  /**
   * Home Assistant: every device announced over MQTT discovery by the web app, and one more client
   * certificate (CN homeassistant) with its own narrow ACL for Home Assistant's MQTT integration.
   */
  homeAssistant: boolean;
}

export interface Settings {
  instanceType: string;
  /** Derived from instanceType: Graviton types (t4g) run arm64 AMIs. */
  arch: Arch;
  os: Os;
  /** Login user of the AMI: Debian's cloud images use `admin`, Ubuntu's `ubuntu`. */
  adminUser: "admin" | "ubuntu";
  /** An existing subnet for the server (its VPC is looked up); undefined: the stack builds its own VPC. */
  subnetId?: string;
  adminCidrs: string[];
  allowSshFromAnywhere: boolean;
  /** Given web password (secret); undefined -> the program generates one. */
  webPassword?: pulumi.Output<string>;
  domain?: string;
  route53ZoneId?: string;
  /** Let's Encrypt account address; defaults to alertEmail when a domain is set. */
  letsEncryptEmail?: string;
  ddnsUpdateUrl?: pulumi.Output<string>;
  alertEmail?: string;
  smtpHost?: string;
  smtpPort: number;
  smtpUser?: string;
  smtpPassword?: pulumi.Output<string>;
  smtpFrom?: string;
  offlineAlertMinutes: number;
  alertRateLimitMinutes: number;
  certExpiryWarnDays: number;
  certValidityDays: number;
  certEarlyRenewalDays: number;
  /** Opaque token; changing it replaces every CA-signed certificate on the next `pulumi up`. */
  certRotation: string;
  revokedDevices: string[];
  // History of sensor readings and input events. parseSettings always fills them (KEYS defaults); a
  // Settings built by hand may leave them out and gets those defaults (historySettings).
  /** Days raw sensor readings and input events are kept. */
  historyRawDays?: number;
  /** Days 5-minute min/avg/max aggregates are kept. */
  historyAggregateDays?: number;
  /** Size limit of the history database in MiB. */
  historyMaxMegabytes?: number;
  // The history's own EBS volume (infra/history-storage.ts). parseSettings fills the first two; hand-built
  // Settings get the KEYS defaults (historyStorageSettings).
  /** Size of the history volume in GiB. */
  historyVolumeGiB?: number;
  /** Daily snapshots Data Lifecycle Manager keeps. */
  historySnapshotDays?: number;
  /** The snapshot the history volume is made from (a restore); a changed value replaces the volume. */
  historySnapshotId?: string;
  deviceSshPrivateKey?: pulumi.Output<string>;
  devices: DeviceSettings[];
  integrations: IntegrationSettings;
  tags: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------
// The keys: type, default, description, example. Pulumi.yaml's config schema mirrors this table
// (test/unit/config.test.ts checks that it does).
// ---------------------------------------------------------------------------------------------------------

export type KeyType = "string" | "integer" | "boolean" | "array" | "object";
export interface KeySpec {
  type: KeyType;
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
    default: 10,
    description: "Minutes a device may be offline before an alert mail is sent (1-1440).",
    example: "10",
  },
  alertRateLimitMinutes: {
    type: "integer",
    default: 60,
    description: "At most one alert mail per device and kind within this many minutes (1-10080).",
    example: "60",
  },
  certExpiryWarnDays: {
    type: "integer",
    default: 21,
    description: "Warn by mail this many days before a certificate expires (less than certValidityDays).",
    example: "21",
  },
  certValidityDays: {
    type: "integer",
    default: 397,
    description: "Validity of the server, web and device certificates in days (1-3650); the CA lives 10 years.",
    example: "397",
  },
  certEarlyRenewalDays: {
    type: "integer",
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
    default: 7,
    description: "Days the web app keeps raw sensor readings and input events (1-90).",
    example: "7",
  },
  historyAggregateDays: {
    type: "integer",
    default: 365,
    description: "Days the web app keeps 5-minute min/avg/max sensor aggregates (1-3650).",
    example: "365",
  },
  historyMaxMegabytes: {
    type: "integer",
    default: 1024,
    description: "Size limit of the history database in MiB (16-1000000); writes past it are dropped and logged.",
    example: "1024",
  },
  historyVolumeGiB: {
    type: "integer",
    default: 2,
    description:
      "Size in GiB of the server's encrypted EBS volume that holds the history (1-16384; can only grow); room for historyMaxMegabytes plus about 10 %.",
    example: "2",
  },
  historySnapshotDays: {
    type: "integer",
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

/** The history settings with the keys' defaults filled in. */
export function historySettings(s: Pick<Settings, "historyRawDays" | "historyAggregateDays" | "historyMaxMegabytes">): {
  rawDays: number;
  aggregateDays: number;
  maxMegabytes: number;
} {
  return {
    rawDays: s.historyRawDays ?? KEYS.historyRawDays.default,
    aggregateDays: s.historyAggregateDays ?? KEYS.historyAggregateDays.default,
    maxMegabytes: s.historyMaxMegabytes ?? KEYS.historyMaxMegabytes.default,
  };
}

/**
 * MiB of a history volume the database may fill: 90 % of it (ext4's inode tables and metadata), less 128 MiB
 * (mke2fs gives a 1-16 GiB file system a 64 MiB journal; the WAL, up to SQLite's journal_size_limit of 8 MiB
 * after a checkpoint, and lost+found share the rest).
 */
export function historyVolumeRoomMegabytes(gib: number): number {
  return Math.floor(gib * 1024 * 0.9) - 128;
}

/** The history volume's settings with the keys' defaults filled in. */
export function historyStorageSettings(
  s: Pick<Settings, "historyVolumeGiB" | "historySnapshotDays" | "historySnapshotId">,
): {
  volumeGiB: number;
  snapshotDays: number;
  snapshotId?: string;
} {
  return {
    volumeGiB: s.historyVolumeGiB ?? KEYS.historyVolumeGiB.default,
    snapshotDays: s.historySnapshotDays ?? KEYS.historySnapshotDays.default,
    ...(s.historySnapshotId ? { snapshotId: s.historySnapshotId } : {}),
  };
}
export type SecretKey = { [K in ConfigKey]: (typeof KEYS)[K] extends { secret: true } ? K : never }[ConfigKey];
export const SECRET_KEYS = (Object.keys(KEYS) as ConfigKey[]).filter(
  (k) => (KEYS[k] as KeySpec).secret === true,
) as SecretKey[];

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

export interface ConfigProblem {
  /** Top-level key, e.g. "devices". */
  key: ConfigKey | string;
  /** Path inside the key, e.g. "devices[1].port"; equals key for scalars. */
  path: string;
  /** What was wrong. */
  problem: string;
  /** A command that fixes it. */
  fix: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${NAMESPACE}:${p.path}: ${p.problem}\n    fix: ${p.fix}`);
    super(
      `Stack config has ${problems.length} problem${problems.length === 1 ? "" : "s"} (nothing was created):\n${lines.join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
  /** Keys named by the problems, in order, without duplicates. */
  get keys(): string[] {
    return [...new Set(this.problems.map((p) => p.key))];
  }
}

/** The command that sets `key`, runnable as printed in sh/bash/zsh (examples are shell-quoted where needed). */
export function fixFor(key: ConfigKey | string, path = key): string {
  const spec = (KEYS as Record<string, KeySpec>)[key];
  if (!spec) return `pulumi config rm ${NAMESPACE}:${key}`;
  if (path !== key)
    return `pulumi config set --path '${NAMESPACE}:${path}' <value>   (or fix the entry in Pulumi.<stack>.yaml)`;
  if (spec.fix) return spec.fix;
  const flags = spec.secret ? "--secret " : "";
  return `pulumi config set ${flags}${NAMESPACE}:${key} ${spec.example}`;
}

// ---------------------------------------------------------------------------------------------------------
// Value checks (pure)
// ---------------------------------------------------------------------------------------------------------

/** "10.0.0.0/8" -> canonical form or an explanation of what is wrong. */
export function checkCidr(value: string): { ok: true; family: 4 | 6; canonical: string } | { ok: false; why: string } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value.trim());
  if (!m) {
    if (net.isIP(value.trim())) {
      const bits = net.isIPv4(value.trim()) ? 32 : 128;
      return { ok: false, why: `${show(value)} is an address, not a CIDR; write ${value.trim()}/${bits} for one host` };
    }
    return { ok: false, why: `${show(value)} is not a CIDR (expected address/prefix, e.g. 198.51.100.7/32)` };
  }
  const [, addr = "", prefixText = ""] = m;
  const prefix = Number(prefixText);
  const family = net.isIP(addr);
  if (family === 0) return { ok: false, why: `${show(addr)} in ${show(value)} is not an IP address` };
  const max = family === 4 ? 32 : 128;
  if (prefix > max) return { ok: false, why: `prefix /${prefix} in ${show(value)} is longer than /${max}` };
  if (family === 4) {
    const n = addr.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(32 - prefix);
    const net4 = n & mask;
    if (net4 !== n) {
      const canon = [24n, 16n, 8n, 0n].map((s) => String((net4 >> s) & 255n)).join(".");
      return { ok: false, why: `${show(value)} has host bits set; the network is ${canon}/${prefix}` };
    }
    return { ok: true, family: 4, canonical: `${addr}/${prefix}` };
  }
  return { ok: true, family: 6, canonical: `${addr.toLowerCase()}/${prefix}` };
}

const HOSTNAME =
  /^(?=.{1,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const FQDN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const EMAIL = /^[^\s@"'<>()[\],;:\\]+@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SSH_HOST_KEY =
  /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}( .*)?$/;
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

export function isHost(v: string): boolean {
  return net.isIP(v) !== 0 || HOSTNAME.test(v);
}

// ---------------------------------------------------------------------------------------------------------
// Coercion: Pulumi hands every value to the program as a string (objects as JSON). Tests pass native values.
// ---------------------------------------------------------------------------------------------------------

type Coerced<T> = { ok: true; value: T } | { ok: false; why: string };

function asString(v: unknown): Coerced<string> {
  if (typeof v === "string") return { ok: true, value: v };
  if (typeof v === "number" || typeof v === "boolean") return { ok: true, value: String(v) };
  return { ok: false, why: `expected a string, got ${show(v)}` };
}

function asInteger(v: unknown): Coerced<number> {
  if (typeof v === "number" && Number.isInteger(v)) return { ok: true, value: v };
  if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return { ok: true, value: Number(v.trim()) };
  return { ok: false, why: `expected a whole number, got ${show(v)}` };
}

function asBoolean(v: unknown): Coerced<boolean> {
  if (typeof v === "boolean") return { ok: true, value: v };
  if (v === "true" || v === "false") return { ok: true, value: v === "true" };
  return { ok: false, why: `expected true or false, got ${show(v)}` };
}

function asJson(v: unknown, kind: "array" | "object"): Coerced<unknown> {
  let value = v;
  if (typeof v === "string") {
    try {
      value = JSON.parse(v);
    } catch {
      return { ok: false, why: `expected a JSON ${kind}, got ${show(v)} which is not JSON` };
    }
  }
  const isArray = Array.isArray(value);
  if (kind === "array" ? !isArray : isArray || value === null || typeof value !== "object") {
    return { ok: false, why: `expected a JSON ${kind}, got ${show(v)}` };
  }
  return { ok: true, value };
}

/** String lists may be given as JSON or, for convenience on the command line, comma-separated. */
function asStringList(v: unknown): Coerced<string[]> {
  if (typeof v === "string" && !/^[[{]/.test(v.trim())) {
    return {
      ok: true,
      value: v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    };
  }
  const j = asJson(v, "array");
  if (!j.ok) return j;
  const arr = j.value as unknown[];
  const bad = arr.findIndex((x) => typeof x !== "string");
  if (bad >= 0) return { ok: false, why: `item ${bad} is ${show(arr[bad])}, expected a string` };
  return { ok: true, value: arr as string[] };
}

// ---------------------------------------------------------------------------------------------------------
// Devices: zod schema with messages that say what is expected.
// ---------------------------------------------------------------------------------------------------------

/** "22" -> 22 so `pulumi config set --path devices[0].port 22` (stored as a string) works. */
const fromDigits = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v), schema);
/** "true" -> true, as for numbers. */
const fromBoolText = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), schema);
const intLike = (what: string, min: number, max: number) => fromDigits(wholeNumber(what, min, max));
const boolLike = (what: string) => fromBoolText(bool(what));
const ioName = (what: string) =>
  str(what).refine(isIoName, {
    error: (iss) => `${what} ${show(iss.input)} is not a valid name (lowercase letters, digits, - and _, 1-32 chars)`,
  });

// A backend as a stack entry gives it: the device config's own schemas (device/config.ts), taking the strings that
// `pulumi config set --path` stores, and gpiod/sysfs lines not inverted unless said. Kernel LED alternatives are the
// board profile's to add (infra/render/device-board.ts); an LED as an input is refused there, by name.
const backendSchema = z.discriminatedUnion(
  "type",
  [
    LedBackend.omit({ alternatives: true }).extend({
      activeLow: fromBoolText(LedBackend.shape.activeLow.unwrap()).optional(),
    }),
    GpiodBackend.extend({ activeLow: fromBoolText(GpiodBackend.shape.activeLow.unwrap()).default(false) }),
    SysfsBackend.extend({
      gpio: fromDigits(SysfsBackend.shape.gpio),
      activeLow: fromBoolText(SysfsBackend.shape.activeLow.unwrap()).default(false),
    }),
    SimulatedBackend,
  ],
  { error: unknownType("backend", ["led", "gpiod", "sysfs", "simulated"]) },
);

/** "0.5" -> 0.5 so `pulumi config set --path ... 0.5` (stored as a string) works. */
const numLike = (what: string) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v),
    z
      .number({ error: (iss) => `${what} must be a number, got ${show(iss.input)}` })
      .refine(Number.isFinite, { error: (iss) => `${what} must be a finite number, got ${show(iss.input)}` }),
  );

const sensorBackendSchema = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("cpu-thermal"), zone: intLike("zone", 0, 255).optional() }),
    z.strictObject({
      type: z.literal("ds18b20"),
      id: str("id")
        .regex(/^28-[0-9a-f]{12}$/, {
          error: (iss) => `id ${show(iss.input)} is not a DS18B20 id as under /sys/bus/w1/devices (28-0316a2792fff)`,
        })
        .optional(),
    }),
    z.strictObject({
      type: z.literal("file"),
      path: str("path").regex(/^\/sys\/(?!.*\/\.\.(\/|$))[A-Za-z0-9_:.+@/-]+$/, {
        error: (iss) =>
          `path ${show(iss.input)} must be a file under /sys without '..', e.g. /sys/bus/iio/devices/iio:device0/in_voltage0_raw`,
      }),
      scale: numLike("scale").optional(),
      offset: numLike("offset").optional(),
    }),
    z.strictObject({
      type: z.literal("simulated"),
      file: str("file")
        .regex(/^\/[A-Za-z0-9._/-]+$/, { error: (iss) => `file must be an absolute path, got ${show(iss.input)}` })
        .optional(),
      base: numLike("base").optional(),
      amplitude: numLike("amplitude").optional(),
      periodSeconds: intLike("periodSeconds", 10, 31_536_000).optional(),
      noise: numLike("noise").optional(),
    }),
  ],
  {
    error: (iss) =>
      `sensor backend type must be cpu-thermal, ds18b20, file or simulated, got ${show((iss.input as { type?: unknown } | undefined)?.type ?? iss.input)}`,
  },
);

const sensorSchema = z
  .strictObject({
    name: ioName("sensor name"),
    unit: str("unit")
      .regex(/^[^\p{Cc}<>&"']{1,16}$/u, {
        error: (iss) => `unit ${show(iss.input)} must be 1-16 printable characters, e.g. "°C" or "%"`,
      })
      .optional(),
    intervalSeconds: intLike("intervalSeconds", 1, 86_400).default(60),
    reportChange: numLike("reportChange")
      .refine((v) => v > 0, { error: "reportChange must be more than 0" })
      .optional(),
    backend: sensorBackendSchema,
    alert: z
      .strictObject({
        above: numLike("above").optional(),
        below: numLike("below").optional(),
        forMinutes: intLike("forMinutes", 1, 1440).default(5),
      })
      .refine((a) => a.above !== undefined || a.below !== undefined, {
        error: "alert needs above, below or both (e.g. { above: 70, forMinutes: 5 })",
      })
      .refine((a) => a.above === undefined || a.below === undefined || a.below < a.above, {
        error: "alert below must be less than above",
      })
      .optional(),
  })
  .refine((x) => x.unit !== undefined || x.backend.type !== "file", {
    error: 'a file sensor needs its unit, e.g. unit: "mV"',
    path: ["unit"],
  });

const outputSchema = z.strictObject({
  name: ioName("output name"),
  safeState: SafeState.default("off"),
  // Optional: the board profile's default (a Pi's LED on GPIO17, button on GPIO27) when left out.
  backend: backendSchema.optional(),
});
const inputSchema = z.strictObject({ name: ioName("input name"), backend: backendSchema.optional() });

const deviceId = (what: string) =>
  str(what).refine(isDeviceId, {
    error: (iss) =>
      RESERVED_IDS.includes(String(iss.input))
        ? `${what} ${show(iss.input)} is reserved (${RESERVED_IDS.join(", ")}); pick another`
        : `${what} ${show(iss.input)} is not a valid id: lowercase letters, digits and '-', 1-32 chars, no MQTT wildcards or '/'`,
  });

const bridgeSchema = z.strictObject({
  lanAddress: str("lanAddress").refine((v) => net.isIPv4(v), {
    error: (iss) => `lanAddress must be the bridge's IPv4 address on the LAN, got ${show(iss.input)}`,
  }),
  port: intLike("port", 1, 65535).default(1883),
  children: z
    .array(
      z.strictObject({
        id: deviceId("child id"),
        outputs: z.array(ioName("output name")).default([]),
        inputs: z.array(ioName("input name")).default([]),
      }),
      { error: (iss) => `children must be a list, got ${show(iss.input)}` },
    )
    .default([]),
});

const deviceSchema = z.strictObject({
  id: deviceId("id"),
  host: str("host").refine(isHost, { error: (iss) => `host ${show(iss.input)} is not a hostname or IP address` }),
  port: intLike("port", 1, 65535).default(22),
  user: str("user")
    .regex(UNIX_USER, { error: (iss) => `user ${show(iss.input)} is not a Linux user name` })
    .default("pi"),
  hostKey: str("hostKey")
    .regex(SSH_HOST_KEY, {
      error: (iss) => `hostKey must be a public host key line like "ssh-ed25519 AAAA...", got ${show(iss.input)}`,
    })
    // @pulumi/command offers only the pinned key's type as host key algorithm (remote/connection.go
    // HostKeyAlgorithms = [key.Type()]; x/crypto/ssh sends it as is): for RSA that is the SHA-1 "ssh-rsa"
    // signature, which OpenSSH 8.8+ (Debian 12, Raspberry Pi OS bookworm) no longer offers, so the install
    // could never connect.
    .refine((v) => !v.startsWith("ssh-rsa "), {
      error:
        "hostKey is an RSA key, which provisioning cannot pin (it would need the SHA-1 ssh-rsa signature that " +
        "OpenSSH 8.8+ refuses); use the board's ed25519 key: ssh-keyscan -t ed25519 <host>",
    })
    .optional(),
  board: Board,
  outputs: z.array(outputSchema, { error: (iss) => `outputs must be a list, got ${show(iss.input)}` }).default([]),
  inputs: z.array(inputSchema, { error: (iss) => `inputs must be a list, got ${show(iss.input)}` }).default([]),
  sensors: z.array(sensorSchema, { error: (iss) => `sensors must be a list, got ${show(iss.input)}` }).default([]),
  bridge: bridgeSchema.optional(),
  retainOnDelete: boolLike("retainOnDelete").optional(),
});

const integrationsSchema = z.strictObject({
  homeAssistant: z
    .strictObject({
      enabled: boolLike("enabled"),
    })
    .optional(),
});

/** The program adds a Name tag to every resource it tags, so one of EC2's 50 tags per resource is taken. */
export const MAX_USER_TAGS = TAGS_PER_RESOURCE_MAX - 1;

// Values must be strings; EC2's own rules (infra/aws-rules.ts) are applied per tag in parseSettings, because zod
// reports a refused record key only as "Invalid key in record".
const tagsSchema = z.record(z.string(), str("tag value"));

function zodPath(key: string, path: PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : `${acc}.${String(p)}`), key);
}

function zodProblems(key: ConfigKey, error: z.ZodError): ConfigProblem[] {
  return error.issues.map((iss) => {
    const path = zodPath(key, iss.path);
    let problem = iss.message;
    if (iss.code === "unrecognized_keys") {
      const field = `${path}.${iss.keys[0] ?? ""}`;
      problem = `unknown field${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => show(k)).join(", ")}`;
      return {
        key,
        path,
        problem,
        fix: `pulumi config rm --path '${NAMESPACE}:${field}'   (or fix the entry in Pulumi.<stack>.yaml)`,
      };
    } else if (iss.code === "invalid_type" && iss.input === undefined) {
      problem = `${String(iss.path[iss.path.length - 1] ?? key)} is required`;
    }
    return { key, path, problem, fix: fixFor(key, path) };
  });
}

// ---------------------------------------------------------------------------------------------------------
// parseSettings: pure; tests call it directly.
// ---------------------------------------------------------------------------------------------------------

/** Returns the secret value of a key as a Pulumi secret (config.requireSecret in the program). */
export type SecretReader = (key: SecretKey) => pulumi.Output<string>;

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * Validates raw stack config (short key -> value, as strings like Pulumi gives them or native values) and
 * returns Settings, or throws one ConfigError listing every problem. Empty strings count as unset, because
 * Pulumi.yaml gives optional string keys the default "".
 */
export function parseSettings(
  raw: Record<string, unknown>,
  secrets: SecretReader,
  opts: {
    /**
     * Whether Pulumi holds a secret key encrypted (it was set with --secret). The program passes the runtime's
     * answer; a pure caller that omits it skips the check.
     */
    isSecret?: (key: SecretKey) => boolean;
  } = {},
): Settings {
  const problems: ConfigProblem[] = [];
  const add = (key: ConfigKey | string, problem: string, path: string = key, fix = fixFor(key, path)) =>
    problems.push({ key, path, problem, fix });

  const known = Object.keys(KEYS) as ConfigKey[];
  for (const k of Object.keys(raw)) {
    if ((known as string[]).includes(k)) continue;
    const near = known.find((c) => distance(c.toLowerCase(), k.toLowerCase()) <= 2);
    problems.push({
      key: k,
      path: k,
      problem: `unknown key${near ? `; did you mean ${near}?` : ""}`,
      fix: near
        ? `pulumi config rm ${NAMESPACE}:${k} && pulumi config set ${NAMESPACE}:${near} <value>`
        : `pulumi config rm ${NAMESPACE}:${k}`,
    });
  }

  const present = (k: ConfigKey) => raw[k] !== undefined && raw[k] !== null && raw[k] !== "";
  const get = <T>(k: ConfigKey, coerce: (v: unknown) => Coerced<T>): T | undefined => {
    if (!present(k)) {
      const d = (KEYS[k] as KeySpec).default;
      return d === undefined ? undefined : (coerce(d) as { ok: true; value: T }).value;
    }
    const c = coerce(raw[k]);
    if (!c.ok) {
      add(k, c.why);
      return undefined;
    }
    return c.value;
  };
  const intIn = (k: ConfigKey, min: number, max: number): number => {
    const v = get(k, asInteger);
    const fallback = (KEYS[k] as KeySpec).default as number;
    if (v === undefined) return fallback;
    if (v < min || v > max) {
      add(k, `must be ${min}-${max}, got ${v}`);
      return fallback;
    }
    return v;
  };
  const optString = (k: ConfigKey, test: (v: string) => boolean, expected: string): string | undefined => {
    const v = get(k, asString);
    if (v === undefined) return undefined;
    if (!test(v.trim())) {
      add(k, `${show(v)} is not ${expected}`);
      return undefined;
    }
    return v.trim();
  };

  // Server
  const instanceType = get("instanceType", asString) ?? KEYS.instanceType.default;
  if (!(INSTANCE_TYPES as readonly string[]).includes(instanceType)) {
    add(
      "instanceType",
      `unknown or unsupported instance type ${show(instanceType)}; use one of ${INSTANCE_TYPES.join(", ")}`,
    );
  }
  const arch: Arch = instanceType.startsWith("t4g.") ? "arm64" : "x86_64";
  const osRaw = get("os", asString) ?? KEYS.os.default;
  let os: Os = KEYS.os.default;
  if ((OS_CHOICES as readonly string[]).includes(osRaw)) os = osRaw as Os;
  else add("os", `must be one of ${OS_CHOICES.join(", ")}, got ${show(osRaw)}`);

  // Network placement: EC2 ids are "subnet-" and 8 or 17 hex digits.
  const subnetId = optString(
    "subnetId",
    (v) => /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/.test(v),
    "a subnet id like subnet-0123456789abcdef0",
  );

  // SSH exposure
  const allowSshFromAnywhere = get("allowSshFromAnywhere", asBoolean) ?? false;
  const adminCidrs: string[] = [];
  if (!present("adminCidrs")) {
    add("adminCidrs", "is required: the CIDRs allowed to SSH to the server (your public IP with /32)");
  } else {
    const list = get("adminCidrs", asStringList);
    if (list && list.length === 0) add("adminCidrs", "must list at least one CIDR");
    for (const [i, c] of (list ?? []).entries()) {
      const r = checkCidr(c);
      if (!r.ok) {
        const suggestion = /write (\S+)|the network is (\S+)/.exec(r.why);
        const value = suggestion?.[1] ?? suggestion?.[2] ?? "198.51.100.7/32";
        add(
          "adminCidrs",
          `item ${i}: ${r.why}`,
          "adminCidrs",
          `pulumi config set --path '${NAMESPACE}:adminCidrs[${i}]' ${value}`,
        );
        continue;
      }
      if (r.canonical.endsWith("/0") && !allowSshFromAnywhere) {
        add(
          "adminCidrs",
          `${show(c)} opens SSH to the whole internet; use your own IP/32, or also set ${NAMESPACE}:allowSshFromAnywhere true to accept that risk`,
        );
        continue;
      }
      if (adminCidrs.includes(r.canonical)) {
        add("adminCidrs", `${show(c)} is listed twice`);
        continue;
      }
      adminCidrs.push(r.canonical);
    }
  }

  // Secrets: validated in plain text here, handed on only as Pulumi secrets.
  const secret = (k: SecretKey, test: (v: string) => string | undefined): pulumi.Output<string> | undefined => {
    if (!present(k)) return undefined;
    const v = raw[k];
    if (typeof v !== "string") {
      add(k, "must be a string");
      return undefined;
    }
    if (opts.isSecret && !opts.isSecret(k)) {
      add(
        k,
        "is stored in clear text in Pulumi.<stack>.yaml (it was set without --secret): anyone who can read the file or its git history has it. Change it where it is issued if the file was shared, then set it encrypted",
        k,
        fixFor(k),
      );
      return undefined;
    }
    const why = test(v);
    if (why) {
      add(k, why);
      return undefined;
    }
    return secrets(k);
  };
  const webPassword = secret("webPassword", (v) =>
    v.length < 12 ? `is ${v.length} characters long; use at least 12 (or unset it to get a generated one)` : undefined,
  );
  const ddnsUpdateUrl = secret("ddnsUpdateUrl", (v) => {
    try {
      const u = new URL(v);
      return u.protocol === "https:" ? undefined : "must be an https:// URL (it carries a token)";
    } catch {
      return "is not a URL";
    }
  });
  const smtpPassword = secret("smtpPassword", () => undefined);
  const deviceSshPrivateKey = secret("deviceSshPrivateKey", (v) => {
    if (privateKeyHasPassphrase(v))
      return `is protected by a passphrase, which nothing can type during \`pulumi up\`; make a dedicated key without one for the boards: ssh-keygen -t ed25519 -N '' -f ~/.ssh/diy-device -C diy-device-cloud, put ~/.ssh/diy-device.pub in each board's authorized_keys (ssh-copy-id -i ~/.ssh/diy-device.pub pi@<board>), then set it`;
    return PRIVATE_KEY.test(v) ? undefined : "is not a private key (expected -----BEGIN OPENSSH PRIVATE KEY----- ...)";
  });

  // DNS / TLS
  const domain = optString(
    "domain",
    (v) => FQDN.test(v),
    "a fully qualified lowercase domain name like iot.example.com",
  );
  const route53ZoneId = optString(
    "route53ZoneId",
    (v) => /^Z[A-Z0-9]{1,32}$/.test(v),
    "a Route 53 hosted zone id (Z...)",
  );
  if (route53ZoneId && !present("domain")) add("route53ZoneId", "needs domain: set the name to create in this zone");
  const alertEmail = optString("alertEmail", (v) => EMAIL.test(v), "an e-mail address");
  let letsEncryptEmail = optString("letsEncryptEmail", (v) => EMAIL.test(v), "an e-mail address");
  if (present("letsEncryptEmail") && !present("domain"))
    add("letsEncryptEmail", "needs domain: Let's Encrypt certifies a name, not an IP");
  if (domain && !present("letsEncryptEmail")) {
    if (alertEmail) letsEncryptEmail = alertEmail;
    else if (!present("alertEmail")) add("letsEncryptEmail", "is required when domain is set (or set alertEmail)");
  }

  // Mail
  const smtpHost = optString("smtpHost", isHost, "a host name or IP address");
  const smtpPort = intIn("smtpPort", 1, 65535);
  const smtpUser = optString("smtpUser", (v) => v.length <= 256 && !/\s/.test(v), "a user name without spaces");
  const smtpFrom = optString("smtpFrom", (v) => EMAIL.test(v), "an e-mail address");
  if (present("alertEmail") && !present("smtpHost"))
    add("smtpHost", "is required when alertEmail is set: postfix relays mail through it");
  if (present("smtpUser") && !present("smtpPassword")) add("smtpPassword", "is required when smtpUser is set");
  if (present("smtpPassword") && !present("smtpUser")) add("smtpUser", "is required when smtpPassword is set");

  // Alerts and certificates
  const offlineAlertMinutes = intIn("offlineAlertMinutes", 1, 1440);
  const alertRateLimitMinutes = intIn("alertRateLimitMinutes", 1, 10080);
  const certValidityDays = intIn("certValidityDays", 1, 3650);
  const certExpiryWarnDays = intIn("certExpiryWarnDays", 1, 3650);
  const certEarlyRenewalDays = intIn("certEarlyRenewalDays", 0, 3650);
  if (present("certExpiryWarnDays") || present("certValidityDays")) {
    if (certExpiryWarnDays >= certValidityDays) {
      add("certExpiryWarnDays", `(${certExpiryWarnDays}) must be less than certValidityDays (${certValidityDays})`);
    }
  }
  if (certEarlyRenewalDays >= certValidityDays) {
    add("certEarlyRenewalDays", `(${certEarlyRenewalDays}) must be less than certValidityDays (${certValidityDays})`);
  }
  const certRotation = get("certRotation", asString) ?? "0";
  if (present("certRotation") && !/^[A-Za-z0-9._-]{1,64}$/.test(certRotation)) {
    add(
      "certRotation",
      `${show(certRotation)} must be a short token (letters, digits, . _ -), e.g. a date or a counter`,
    );
  }

  // History
  const historyRawDays = intIn("historyRawDays", 1, 90);
  const historyAggregateDays = intIn("historyAggregateDays", 1, 3650);
  const historyMaxMegabytes = intIn("historyMaxMegabytes", 16, 1_000_000);
  if (historyAggregateDays < historyRawDays)
    add("historyAggregateDays", `(${historyAggregateDays}) must be at least historyRawDays (${historyRawDays})`);
  // gp3 volumes are 1-16,384 GiB (EC2 API Reference, CreateVolume Size); DLM keeps 1-1000 snapshots per
  // schedule (DLM API Reference, RetainRule Count).
  const historyVolumeGiB = intIn("historyVolumeGiB", 1, 16384);
  const historySnapshotDays = intIn("historySnapshotDays", 1, 1000);
  const historySnapshotId = optString(
    "historySnapshotId",
    (v) => /^snap-([0-9a-f]{8}|[0-9a-f]{17})$/.test(v),
    "a snapshot id like snap-0123456789abcdef0",
  );
  if (historyMaxMegabytes > historyVolumeRoomMegabytes(historyVolumeGiB)) {
    const need = Math.ceil((historyMaxMegabytes + 128) / 1024 / 0.9);
    add(
      "historyVolumeGiB",
      `(${historyVolumeGiB} GiB) leaves room for ${historyVolumeRoomMegabytes(historyVolumeGiB)} MiB of history, less than historyMaxMegabytes (${historyMaxMegabytes}); use at least ${need} GiB or a smaller historyMaxMegabytes`,
      "historyVolumeGiB",
      `pulumi config set ${NAMESPACE}:historyVolumeGiB ${need}`,
    );
  }

  // Devices
  let devices: DeviceSettings[] = [];
  const devicesJson = present("devices") ? get("devices", (v) => asJson(v, "array")) : [];
  if (devicesJson !== undefined) {
    const r = z.array(deviceSchema).safeParse(devicesJson, { reportInput: true });
    if (!r.success) problems.push(...zodProblems("devices", r.error));
    else {
      // Every line gets a backend here, the board profile's where the entry names none: the rest of the
      // program (and a preview) sees exactly what the board will run.
      devices = r.data.map((d, i) => {
        const resolved = resolveBackends(d.board, d.outputs, d.inputs);
        for (const p of resolved.problems) {
          const list = p.kind === "output" ? "outputs" : "inputs";
          const name = (p.kind === "output" ? d.outputs : d.inputs)[p.index]?.name;
          add("devices", `${p.kind} ${show(name)} ${p.problem}`, `devices[${i}].${list}[${p.index}].backend`);
        }
        return {
          ...d,
          outputs: d.outputs.map((o, j) => ({ ...o, backend: resolved.outputs[j] ?? { type: "simulated" } })),
          inputs: d.inputs.map((o, j) => ({ ...o, backend: resolved.inputs[j] ?? { type: "simulated" } })),
        } as DeviceSettings;
      });
    }
  }
  const seen = new Map<string, string>();
  const claim = (id: string, path: string) => {
    const prior = seen.get(id);
    if (prior)
      add(
        "devices",
        `id ${show(id)} is already used by ${prior}; every device and bridge child needs its own id`,
        path,
      );
    else seen.set(id, path);
  };
  for (const [i, d] of devices.entries()) {
    claim(d.id, `devices[${i}].id`);
    const names = new Set<string>();
    for (const [j, io] of [...d.outputs, ...d.inputs].entries()) {
      if (names.has(io.name))
        add(
          "devices",
          `name ${show(io.name)} is used twice on device ${show(d.id)}`,
          `devices[${i}].${j < d.outputs.length ? `outputs[${j}]` : `inputs[${j - d.outputs.length}]`}.name`,
        );
      names.add(io.name);
    }
    const sensorNames = new Set<string>();
    for (const [j, sensor] of (d.sensors ?? []).entries()) {
      if (sensorNames.has(sensor.name))
        add(
          "devices",
          `sensor ${show(sensor.name)} is listed twice on device ${show(d.id)}`,
          `devices[${i}].sensors[${j}].name`,
        );
      sensorNames.add(sensor.name);
    }
    for (const [j, c] of (d.bridge?.children ?? []).entries()) {
      claim(c.id, `devices[${i}].bridge.children[${j}].id`);
      const dup =
        c.outputs.find((n, k) => c.outputs.indexOf(n) !== k) ?? c.inputs.find((n, k) => c.inputs.indexOf(n) !== k);
      if (dup)
        add("devices", `name ${show(dup)} is listed twice on ${show(c.id)}`, `devices[${i}].bridge.children[${j}]`);
    }
  }
  if (devices.length > 0 && !present("deviceSshPrivateKey")) {
    add(
      "deviceSshPrivateKey",
      `is required when devices are listed (${devices.length}): the key that logs in to them over SSH`,
    );
  }

  const revokedDevices: string[] = [];
  for (const [i, id] of (get("revokedDevices", asStringList) ?? []).entries()) {
    if (!isDeviceId(id)) add("revokedDevices", `item ${i}: ${show(id)} is not a device id`);
    else if (revokedDevices.includes(id)) add("revokedDevices", `${show(id)} is listed twice`);
    else if (
      devicesJson !== undefined &&
      !devices.some((d) => d.id === id) &&
      problems.every((p) => p.key !== "devices")
    ) {
      add(
        "revokedDevices",
        `${show(id)} is not in devices; keep a revoked device's entry in devices so its certificate (and serial) stays known`,
      );
    } else revokedDevices.push(id);
  }

  let integrations: IntegrationSettings = { homeAssistant: false };
  const integrationsJson = present("integrations") ? get("integrations", (v) => asJson(v, "object")) : {};
  if (integrationsJson !== undefined) {
    const r = integrationsSchema.safeParse(integrationsJson, { reportInput: true });
    if (!r.success) problems.push(...zodProblems("integrations", r.error));
    else integrations = { homeAssistant: r.data.homeAssistant?.enabled === true };
  }

  let tags: Record<string, string> = {};
  const tagsJson = present("tags") ? get("tags", (v) => asJson(v, "object")) : {};
  if (tagsJson !== undefined) {
    const r = tagsSchema.safeParse(tagsJson, { reportInput: true });
    if (!r.success) problems.push(...zodProblems("tags", r.error));
    else {
      const before = problems.length;
      for (const [k, v] of Object.entries(r.data))
        for (const p of tagProblems(k, v))
          add(
            "tags",
            p,
            `tags.${k}`,
            `pulumi config set --path '${NAMESPACE}:tags.<key>' <value>   (or fix the entry in Pulumi.<stack>.yaml)`,
          );
      if (Object.keys(r.data).length > MAX_USER_TAGS)
        add(
          "tags",
          `has ${Object.keys(r.data).length} tags; EC2 takes ${TAGS_PER_RESOURCE_MAX} per resource and the program adds Name, so at most ${MAX_USER_TAGS}`,
        );
      if (problems.length === before) tags = r.data;
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    instanceType,
    arch,
    os,
    adminUser: OS_ADMIN_USER[os],
    subnetId,
    adminCidrs,
    allowSshFromAnywhere,
    webPassword,
    domain,
    route53ZoneId,
    letsEncryptEmail,
    ddnsUpdateUrl,
    alertEmail,
    smtpHost,
    smtpPort,
    smtpUser,
    smtpPassword,
    smtpFrom: smtpFrom ?? alertEmail,
    offlineAlertMinutes,
    alertRateLimitMinutes,
    certExpiryWarnDays,
    certValidityDays,
    certEarlyRenewalDays,
    certRotation,
    revokedDevices,
    historyRawDays,
    historyAggregateDays,
    historyMaxMegabytes,
    historyVolumeGiB,
    historySnapshotDays,
    historySnapshotId,
    deviceSshPrivateKey,
    devices,
    integrations,
    tags,
  };
}

// ---------------------------------------------------------------------------------------------------------
// loadSettings: the program's entry; reads the stack config once.
// ---------------------------------------------------------------------------------------------------------

/** Raw stack config of this project's namespace, short key -> string value as Pulumi passes it. */
export function readStackConfig(): Record<string, unknown> {
  const prefix = `${NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pulumi.runtime.allConfig())) {
    if (k.startsWith(prefix)) raw[k.slice(prefix.length)] = v;
  }
  return raw;
}

/**
 * Reads and validates the stack config. `read` supplies the raw values (default: the running stack's config);
 * secret keys are re-read through `config.requireSecret` so they stay secret wherever they flow.
 */
/**
 * Whether the running stack holds a config key (with namespace) encrypted. The Node language host passes the keys
 * that were set with --secret in PULUMI_CONFIG_SECRET_KEYS (pulumi/pulumi sdk/nodejs/cmd/pulumi-language-nodejs),
 * which the SDK reads into its store; runtime.isConfigSecret answers from there (also under setMocks /
 * setAllConfig). It is exported by @pulumi/pulumi but not in its typings, hence the lookup.
 */
export function isConfigKeySecret(fullKey: string): boolean {
  const fromRuntime = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  if (typeof fromRuntime === "function") return fromRuntime(fullKey);
  const listed = JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS || "[]") as unknown;
  return Array.isArray(listed) && listed.includes(fullKey);
}

export function loadSettings(
  read: () => Record<string, unknown> = readStackConfig,
  secrets: SecretReader = (key) => new pulumi.Config(NAMESPACE).requireSecret(key),
  isSecret: (key: SecretKey) => boolean = (key) => isConfigKeySecret(`${NAMESPACE}:${key}`),
): Settings {
  return parseSettings(read(), secrets, { isSecret });
}

// ---------------------------------------------------------------------------------------------------------
// The aws provider's own config, as far as the server host key lookup (infra/server-host-key.ts) uses it: that
// lookup calls EC2 with the AWS SDK from the engine's dynamic provider, not through the aws provider.
// ---------------------------------------------------------------------------------------------------------

/** aws:* keys the lookup does not follow: it uses the SDK's default credential chain (plus aws:profile). */
export const AWS_KEYS_NOT_FOLLOWED = [
  "aws:accessKey",
  "aws:secretKey",
  "aws:token",
  "aws:assumeRole",
  "aws:assumeRoles",
  "aws:assumeRoleWithWebIdentity",
  "aws:sharedCredentialsFiles",
  "aws:sharedConfigFiles",
  "aws:endpoints",
] as const;

export interface AwsLookupSettings {
  /** aws:profile: the named profile of ~/.aws/config and ~/.aws/credentials. */
  profile?: string;
  /** Which of AWS_KEYS_NOT_FOLLOWED the stack sets (the preview warns about them). */
  notFollowed: string[];
}

export function awsLookupSettings(all: Record<string, string> = pulumi.runtime.allConfig()): AwsLookupSettings {
  const profile = all["aws:profile"];
  return {
    ...(profile ? { profile } : {}),
    notFollowed: AWS_KEYS_NOT_FOLLOWED.filter((k) => all[k] !== undefined && all[k] !== ""),
  };
}

export function awsLookupWarning(s: AwsLookupSettings): string | undefined {
  if (s.notFollowed.length === 0) return undefined;
  return (
    `The server host key lookup (ec2:GetConsoleOutput through the AWS SDK) does not use ${s.notFollowed.join(", ")} ` +
    "from the stack config: it takes credentials from the AWS_* environment variables, aws:profile or AWS_PROFILE " +
    "(shared config, SSO), or a role of the machine. Give pulumi credentials one of those ways, or the first up " +
    "stops at the lookup with a credentials error."
  );
}
