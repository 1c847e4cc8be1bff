// The only module that reads the stack config. It reads it once, checks every key with one schema
// (config/schema.ts, built on the key table config/keys.ts), and hands the rest of the program one typed `Settings`
// object. All problems are collected and thrown together (config/errors.ts), before any resource exists, so a user
// fixes their config in one pass instead of one `up` per typo.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, fixFor, inKeyOrder, unknownKeyProblems, zodProblems } from "./config/errors";
import { NAMESPACE, SECRET_KEYS, type SecretKey } from "./config/keys";
import { type Settings, settingsSchema } from "./config/schema";

export * from "./config/aws";
export { type ConfigProblem, ConfigError, fixFor } from "./config/errors";
export { historySettings, historyStorageSettings } from "./config/history";
export {
  type ConfigKey,
  INSTANCE_TYPES,
  type IntegerKeySpec,
  type KeySpec,
  type KeyType,
  KEYS,
  NAMESPACE,
  OS_ADMIN_USER,
  OS_CHOICES,
  type Os,
  SECRET_KEYS,
  type SecretKey,
} from "./config/keys";
export {
  type Arch,
  type Backend,
  type Board,
  type BridgeChildSettings,
  type BridgeSettings,
  type DeviceSettings,
  historyVolumeRoomMegabytes,
  type InputSettings,
  type IntegrationSettings,
  MAX_USER_TAGS,
  type OutputSettings,
  privateKeyHasPassphrase,
  type SafeState,
  type SensorBackendSettings,
  type SensorSettings,
  type Settings,
} from "./config/schema";
export { checkCidr, isHost } from "./net";

/** Returns the secret value of a key as a Pulumi secret (config.requireSecret in the program). */
export type SecretReader = (key: SecretKey) => pulumi.Output<string>;

const CLEAR_TEXT =
  "is stored in clear text in Pulumi.<stack>.yaml (it was set without --secret): anyone who can read the file or its git history has it. Change it where it is issued if the file was shared, then set it encrypted";

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
  const result = settingsSchema.safeParse(raw, { reportInput: true });
  let problems = result.success ? [] : zodProblems(result.error);
  // A secret in clear text is that key's one problem: what else is wrong with the value can wait for the new one.
  for (const k of SECRET_KEYS) {
    if (typeof raw[k] !== "string" || raw[k] === "" || !opts.isSecret || opts.isSecret(k)) continue;
    problems = [...problems.filter((p) => p.key !== k), { key: k, path: k, problem: CLEAR_TEXT, fix: fixFor(k) }];
  }
  problems = [...unknownKeyProblems(raw), ...problems];
  if (!result.success || problems.length > 0) throw new ConfigError(inKeyOrder(problems));
  const s = result.data;
  const secret = (k: SecretKey) => (s[k] === undefined ? undefined : secrets(k));
  return {
    ...s,
    webPassword: secret("webPassword"),
    ddnsUpdateUrl: secret("ddnsUpdateUrl"),
    smtpPassword: secret("smtpPassword"),
    deviceSshPrivateKey: secret("deviceSshPrivateKey"),
  };
}

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

/**
 * Reads and validates the stack config. `read` supplies the raw values (default: the running stack's config);
 * secret keys are re-read through `config.requireSecret` so they stay secret wherever they flow.
 */
export function loadSettings(
  read: () => Record<string, unknown> = readStackConfig,
  secrets: SecretReader = (key) => new pulumi.Config(NAMESPACE).requireSecret(key),
  isSecret: (key: SecretKey) => boolean = (key) => isConfigKeySecret(`${NAMESPACE}:${key}`),
): Settings {
  return parseSettings(read(), secrets, { isSecret });
}
