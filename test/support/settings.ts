// Settings from a raw stack config the way the program reads them (infra/index.ts): parseSettings with each
// secret key's value handed over as a Pulumi secret.
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, type SecretKey, type Settings, parseSettings } from "../../infra/config";

/** The secret wrapper parseSettings takes: the raw value of that key, as a secret. */
export const secretsOf = (raw: Record<string, unknown>) => (k: SecretKey) => pulumi.secret(String(raw[k]));

/** parseSettings(raw) as `pulumi up` runs it; throws its ConfigError for a bad config. */
export function settingsFrom(raw: Record<string, unknown>): Settings {
  return parseSettings(raw, secretsOf(raw));
}

/** The ConfigError parseSettings(raw) throws; fails the test when the config is accepted or fails otherwise. */
export function configErrorOf(raw: Record<string, unknown>): ConfigError {
  try {
    settingsFrom(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the config to be refused");
}
