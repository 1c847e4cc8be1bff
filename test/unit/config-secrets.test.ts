// Secret keys (deviceSshPrivateKey, ddnsUpdateUrl, smtpPassword, webPassword) set without --secret sit in clear text
// in Pulumi.<stack>.yaml, which the README says to commit. The program refuses them unless Pulumi reports them secret,
// with the `pulumi config set --secret` fix. Pulumi's Node language host lists the encrypted keys in the environment
// variable PULUMI_CONFIG_SECRET_KEYS (beside the values in PULUMI_CONFIG); the SDK reads both into its store.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadSettings, NAMESPACE, SECRET_KEYS } from "../../infra/config";
import { installMocks, setConfig, TEST_SSH_KEY } from "./program-harness";

const root = path.resolve(__dirname, "../..");
const ns = (k: string) => `${NAMESPACE}:${k}`;

/** One valid value per secret key, with what else it needs. */
const SECRET_VALUES: Record<string, Record<string, string>> = {
  deviceSshPrivateKey: {
    deviceSshPrivateKey: TEST_SSH_KEY,
    devices: JSON.stringify([{ id: "pi1", host: "192.0.2.21", board: "raspberrypi" }]),
  },
  ddnsUpdateUrl: { ddnsUpdateUrl: "https://dyn.example.net/update?token=abc" },
  smtpPassword: { smtpPassword: "relay-password", smtpUser: "you@example.com", smtpHost: "smtp.example.com" },
  webPassword: { webPassword: "a-long-web-password" },
};

function configOf(key: string): Record<string, string> {
  const all: Record<string, string> = { [ns("adminCidrs")]: '["198.51.100.7/32"]' };
  for (const [k, v] of Object.entries(SECRET_VALUES[key] ?? {})) all[ns(k)] = v;
  return all;
}

describe("secret keys must be set with --secret (the runtime's secret keys, under setMocks)", () => {
  test("covers every key the config marks secret", () => {
    assert.deepEqual(Object.keys(SECRET_VALUES).sort(), [...SECRET_KEYS].sort());
  });

  for (const key of SECRET_KEYS) {
    test(`${key} in clear text is refused with the --secret fix; encrypted it is accepted`, () => {
      installMocks();
      setConfig(configOf(key), []);
      assert.throws(
        () => loadSettings(),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          const p = e.problems.find((x) => x.key === key);
          assert.ok(p, e.message);
          assert.match(p.problem, /clear text in Pulumi\.<stack>\.yaml .*set without --secret/);
          assert.match(p.fix, new RegExp(`^pulumi config set --secret ${NAMESPACE}:${key} `));
          return true;
        },
      );
      setConfig(configOf(key), [ns(key)]);
      const s = loadSettings();
      const value = (s as unknown as Record<string, unknown>)[key];
      assert.ok(pulumi.Output.isInstance(value), `${key} is handed on as an Output`);
    });
  }
});

test("the language host's way: PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS in the environment of a fresh program", () => {
  const child = String.raw`
    const { loadSettings } = require("./infra/config");
    try { loadSettings(); console.log("ACCEPTED"); } catch (e) { console.log("REFUSED " + e.message.split("\n").slice(1, 3).join(" | ")); }
  `;
  const run = (secretKeys: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "-e", child], {
      cwd: root,
      encoding: "utf8",
      env: {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(configOf("smtpPassword")),
        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys),
      },
    }).stdout.trim();
  const refused = run([]);
  assert.match(refused, /^REFUSED .*diy-device-cloud:smtpPassword: is stored in clear text/);
  assert.match(refused, /fix: pulumi config set --secret diy-device-cloud:smtpPassword '<relay password>'/);
  assert.equal(run([ns("smtpPassword")]), "ACCEPTED");
});
