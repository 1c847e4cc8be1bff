// Settings from a raw stack config the way the program reads them (infra/index.ts): parseSettings with each
// secret key's value handed over as a Pulumi secret.
import * as pulumi from "@pulumi/pulumi";
import { type SecretKey, type Settings, parseSettings } from "../../infra/config";

/** The secret wrapper parseSettings takes: the raw value of that key, as a secret. */
export const secretsOf = (raw: Record<string, unknown>) => (k: SecretKey) => pulumi.secret(String(raw[k]));

/** parseSettings(raw) as `pulumi up` runs it; throws its ConfigError for a bad config. */
export function settingsFrom(raw: Record<string, unknown>): Settings {
  return parseSettings(raw, secretsOf(raw));
}
