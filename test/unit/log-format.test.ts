// One structured log format for the programs we ship: the web app's and the device service's lines carry the
// same keys in the same places (fail2ban's login filter and `journalctl -o cat | jq` read them), and a field
// whose name looks secret never reaches either log.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger as createWebLogger } from "../../apps/web/log";
import { createLogger as createDeviceLogger } from "../../device/log";

const SECRETS = {
  password: "hunter2-password",
  sessionSecret: "s3ssion-secret-value",
  keyPem: "-----BEGIN PRIVATE KEY-----MIIB",
  token: "bearer-token-value",
  authorization: "Basic dXNlcjpwYXNz",
  cookie: "diy_session=abc123cookie",
};

function lines(create: typeof createDeviceLogger): string[] {
  const out: string[] = [];
  const log = create({ write: (l) => out.push(l), level: "debug" });
  log.info("started", { outputs: 1 });
  log.warn("tls files", { ...SECRETS, err: new Error("EACCES") });
  log.child({ deviceId: "pi1", brokerPassword: "child-secret-value" }).error("broker refused", { code: 5 });
  return out;
}

describe("log format", () => {
  it("web app and device service write the same line shape: time, level, event first, then the fields", () => {
    for (const create of [createWebLogger, createDeviceLogger]) {
      const [first, , third] = lines(create).map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(Object.keys(first ?? {}), ["time", "level", "event", "outputs"]);
      assert.match(String(first?.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.equal(first?.event, "started");
      assert.deepEqual(Object.keys(third ?? {}), ["time", "level", "event", "deviceId", "brokerPassword", "code"]);
      assert.equal(third?.level, "error");
    }
  });

  it("a secret-looking field never reaches the device log, nor the web app's", () => {
    for (const create of [createDeviceLogger, createWebLogger]) {
      const text = lines(create).join("\n");
      for (const [name, value] of Object.entries({ ...SECRETS, brokerPassword: "child-secret-value" })) {
        assert.ok(!text.includes(value), `${name}'s value reached the log:\n${text}`);
        assert.match(text, new RegExp(`"${name}":"\\[redacted\\]"`));
      }
      assert.match(text, /"err":"EACCES"/, "an error is logged by its message");
    }
  });

  it("a field cannot pass for the event, level or time of a line", () => {
    const out: string[] = [];
    createDeviceLogger({ write: (l) => out.push(l) }).info("input event", {
      event: "forged",
      level: "error",
      time: "x",
    });
    const entry = JSON.parse(out[0] ?? "{}") as Record<string, unknown>;
    assert.equal(entry.event, "input event");
    assert.equal(entry.level, "info");
    assert.notEqual(entry.time, "x");
  });
});
