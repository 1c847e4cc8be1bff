import assert from "node:assert/strict";
import { test } from "node:test";
import { renderAlertScript } from "../../infra/render/alerts";
import { renderFail2banJail } from "../../infra/render/fail2ban";
import { type MosquittoConfInput, renderMosquittoConf } from "../../infra/render/mosquitto";
import { positiveInt } from "../../infra/render/text";

test("positiveInt takes whole numbers from 1 and refuses 0, negatives and fractions, naming the value", () => {
  assert.equal(positiveInt("maxretry", 1), 1);
  assert.equal(positiveInt("maxretry", 1000), 1000);
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => positiveInt("maxretry", bad), /^Error: maxretry must be a whole number >= 1, got /);
});

test("a zero count never reaches a rendered file (mosquitto reads max_queued_messages 0 as no limit)", () => {
  const broker: MosquittoConfInput = {
    listener: { port: 8883 },
    tls: { cafile: "/c/ca.pem", certfile: "/c/server.pem", keyfile: "/c/server.key" },
    aclFile: "/etc/mosquitto/acl",
    persistenceDir: "/var/lib/mosquitto",
    log: { to: "stderr" },
  };
  assert.throws(() => renderMosquittoConf({ ...broker, limits: { maxQueuedMessages: 0 } }), /maxQueuedMessages/);
  assert.throws(() => renderFail2banJail({ maxretry: 0 }), /maxretry/);
  assert.throws(() => renderAlertScript({ alertEmail: "me@example.com", rateLimitMinutes: 0 }), /rateLimitMinutes/);
});
