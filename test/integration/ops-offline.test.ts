// Offline alerts end to end: a device client with its Last Will on a real mosquitto, the web app's
// store fed by the broker (startWeb), the alerter attached to it as server.ts does, and sendmail
// replaced by a recorder. The alerter's clock is a fake one so minutes pass without waiting.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { MqttClient } from "mqtt";
import { type AlertTimers, startOfflineAlerts } from "../../apps/web/alerts";
import { startWeb } from "../../apps/web/server";
import { topics } from "../../protocol";
import { waitUntil } from "../support/wait";
import { startTestBroker } from "../support/broker";

class FakeClock implements AlertTimers {
  t = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.pending.set(this.next, { at: this.t + ms, fn });
    return this.next++;
  };
  clearTimeout = (h: unknown) => {
    this.pending.delete(h as number);
  };
  advance(ms: number) {
    this.t += ms;
    for (const [id, p] of [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)) {
      if (p.at <= this.t) {
        this.pending.delete(id);
        p.fn();
      }
    }
  }
}

const MIN = 60_000;
const silent = { info() {}, warn() {}, error() {}, debug() {} };

test("a stopped device gives one offline mail after the threshold, none more within the rate limit, and a recovery mail", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ops-offline-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const recorder = join(dir, "sendmail");
  writeFileSync(recorder, `#!/bin/sh\n{ cat; printf '\\n--END--\\n'; } >> '${dir}/mails'\n`);
  chmodSync(recorder, 0o755);
  const mails = () =>
    existsSync(join(dir, "mails")) ? readFileSync(join(dir, "mails"), "utf8").split("--END--\n").slice(0, -1) : [];

  const broker = await startTestBroker("ops-offline", { devices: [{ id: "pi1", outputs: ["led"], inputs: [] }] });
  t.after(() => broker.cleanup());
  const webCert = await broker.client("web");
  const web = await startWeb(
    {
      listen: { host: "127.0.0.1", port: 0 },
      broker: { url: broker.url, ca: broker.caFile, cert: webCert.cert, key: webCert.key },
      devices: [{ id: "pi1", outputs: ["led"] }],
      cookieSecure: false,
      // server.ts starts its own alerter from this (real clock); the test attaches a fake-clock one below
      alerts: { offlineAfterMinutes: 10, rateLimitMinutes: 60, email: "me@example.com" },
    },
    {
      password: "test-password-123",
      sessionSecret: "s".repeat(48),
      logger: silent as never,
      reconnectMinMs: 100,
      sendmailPath: recorder,
    },
  );
  t.after(() => web.close());
  const clock = new FakeClock();
  const lines: string[] = [];
  const alerter = startOfflineAlerts(
    web.store,
    { offlineAfterMinutes: 10, rateLimitMinutes: 60, email: "me@example.com" },
    { log: (l) => lines.push(l), sendmailPath: recorder, now: clock.now, timers: clock },
  );
  t.after(() => alerter.stop());

  const device = async (): Promise<MqttClient> => {
    const c = await broker.connect("pi1", {
      will: { topic: topics.status("pi1"), payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    await c.publishAsync(topics.status("pi1"), "online", { qos: 1, retain: true });
    return c;
  };
  const online = () => web.store.get("pi1")?.online;

  let pi1 = await device();
  await waitUntil(() => online() === true, "pi1 online in the web app");
  pi1.stream.destroy(); // the board loses power: the broker publishes its Last Will
  await waitUntil(() => online() === false, "pi1 offline (Last Will)");
  clock.advance(10 * MIN - 1);
  assert.deepEqual(mails(), [], "nothing before the threshold");
  clock.advance(1);
  await waitUntil(() => mails().length === 1 || undefined, "the offline mail");
  assert.match(mails()[0] ?? "", /^Subject: \[diy-cloud\] device pi1 is offline$/m);
  assert.match(mails()[0] ?? "", /^To: me@example.com$/m);

  pi1 = await device();
  await waitUntil(() => online() === true, "pi1 back online");
  await waitUntil(() => mails().length === 2 || undefined, "the recovery mail");
  assert.match(mails()[1] ?? "", /^Subject: \[diy-cloud\] device pi1 is back online$/m);

  // it fails again within the rate-limit window: no third mail
  pi1.stream.destroy();
  await waitUntil(() => online() === false, "pi1 offline again");
  clock.advance(30 * MIN);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(mails().length, 2, "no second offline mail within the rate limit");
  pi1 = await device();
  await waitUntil(() => online() === true, "pi1 online again");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(mails().length, 2, "no recovery mail for an outage that was not mailed");
  pi1.end(true);
});
