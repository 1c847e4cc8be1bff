import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Settings } from "../../infra/config";
import { configErrorOf, settingsFrom } from "../support/settings";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const minimal = { adminCidrs: '["198.51.100.7/32"]' };
const parse = (raw: Record<string, unknown>): Settings => settingsFrom(raw);

const problemsOf = configErrorOf;

describe("stack config: integrations", () => {
  test("is off unless homeAssistant.enabled is true (JSON as Pulumi passes it, or native)", () => {
    assert.deepEqual(parse(minimal).integrations, { homeAssistant: false });
    assert.deepEqual(parse({ ...minimal, integrations: '{"homeAssistant":{"enabled":true}}' }).integrations, {
      homeAssistant: true,
    });
    assert.deepEqual(parse({ ...minimal, integrations: { homeAssistant: { enabled: "false" } } }).integrations, {
      homeAssistant: false,
    });
    // `pulumi config set --path ...enabled true` stores the string "true".
    assert.equal(
      parse({ ...minimal, integrations: { homeAssistant: { enabled: "true" } } }).integrations.homeAssistant,
      true,
    );
  });

  test("names the key and the fix for every bad value", () => {
    const cases: [unknown, RegExp, RegExp][] = [
      [
        { homeAssistant: {} },
        /integrations\.homeAssistant\.enabled: enabled is required/,
        /--path 'diy-device-cloud:integrations\.homeAssistant\.enabled' <value>/,
      ],
      [
        { homeAssistant: { enabled: "yes" } },
        /integrations\.homeAssistant\.enabled: enabled must be true or false, got "yes"/,
        /--path/,
      ],
      [
        { homeassistant: { enabled: true } },
        /integrations: unknown field "homeassistant"/,
        /pulumi config rm --path 'diy-device-cloud:integrations\.homeassistant'/,
      ],
      [
        { homeAssistant: { enabled: true, prefix: "ha" } },
        /integrations\.homeAssistant: unknown field "prefix"/,
        /config rm/,
      ],
      ["[1]", /integrations: expected a JSON object/, /integrations\.homeAssistant\.enabled' true/],
    ];
    for (const [value, problem, fix] of cases) {
      const e = problemsOf({ ...minimal, integrations: typeof value === "string" ? value : JSON.stringify(value) });
      assert.deepEqual(e.keys, ["integrations"], e.message);
      assert.match(e.message, problem);
      assert.match(e.message, fix);
    }
  });

  test("keeps the Home Assistant identity's name out of the device ids", () => {
    const e = problemsOf({
      ...minimal,
      deviceSshPrivateKey: KEY,
      devices: JSON.stringify([{ id: "homeassistant", host: "192.0.2.21", board: "generic" }]),
    });
    assert.match(e.message, /devices\[0\]\.id: id "homeassistant" is reserved/);
  });
});
