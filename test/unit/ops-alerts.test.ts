import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  type AlertMail,
  type AlertTimers,
  createMailTransport,
  createOfflineAlerter,
  formatMail,
} from "../../apps/web/alerts";

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements AlertTimers {
  t = Date.UTC(2026, 0, 1);
  private next = 1;
  private pending = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.pending.delete(h as number);
  };
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
  get pendingCount() {
    return this.pending.size;
  }
}

const MIN = 60_000;

function setup() {
  const clock = new FakeClock();
  const mails: AlertMail[] = [];
  const alerter = createOfflineAlerter({
    offlineAfterMs: 10 * MIN,
    rateLimitMs: 60 * MIN,
    send: (m) => {
      mails.push(m);
    },
    now: clock.now,
    timers: clock,
  });
  return { clock, mails, alerter };
}

test("a device offline for longer than the threshold produces exactly one mail", () => {
  const { clock, mails, alerter } = setup();
  alerter.status("pi1", "online");
  alerter.status("pi1", "offline");
  clock.advance(10 * MIN - 1);
  assert.equal(mails.length, 0, "no mail before the threshold");
  clock.advance(1);
  assert.equal(mails.length, 1);
  assert.match(mails[0]?.subject ?? "", /pi1 is offline/);
  assert.match(mails[0]?.text ?? "", /since 2026-01-01T00:00:00\.000Z/);
  alerter.status("pi1", "offline"); // repeated Last Will / retained re-delivery
  clock.advance(5 * 60 * MIN);
  assert.equal(mails.length, 1, "staying offline never produces a second mail");
});

test("a device back before the threshold produces no mail at all", () => {
  const { clock, mails, alerter } = setup();
  alerter.status("pi1", "offline");
  clock.advance(9 * MIN);
  alerter.status("pi1", "online");
  clock.advance(60 * MIN);
  assert.deepEqual(mails, []);
  assert.equal(clock.pendingCount, 0, "the pending alert was cancelled");
});

test("a device coming back after an offline mail produces one recovery mail", () => {
  const { clock, mails, alerter } = setup();
  alerter.status("pi1", "offline");
  clock.advance(25 * MIN);
  alerter.status("pi1", "online");
  alerter.status("pi1", "online");
  assert.equal(mails.length, 2);
  assert.match(mails[1]?.subject ?? "", /pi1 is back online/);
  assert.match(mails[1]?.text ?? "", /after 25 minutes offline/);
});

test("a flapping device gets at most one offline mail per rate-limit window", () => {
  const { clock, mails, alerter } = setup();
  for (let i = 0; i < 5; i++) {
    alerter.status("pi1", "offline");
    clock.advance(11 * MIN);
    alerter.status("pi1", "online");
    clock.advance(1 * MIN);
  }
  // 5 outages within 60 minutes: one offline mail + its recovery, the other four suppressed
  assert.deepEqual(
    mails.map((m) => m.subject),
    ["device pi1 is offline", "device pi1 is back online"],
  );
  clock.advance(60 * MIN);
  alerter.status("pi1", "offline");
  clock.advance(10 * MIN);
  assert.equal(mails.length, 3, "after the window the next outage is mailed again");
  assert.match(mails[2]?.text ?? "", /4 earlier outage\(s\) of this device were not mailed/);
});

test("the rate limit is per device: another device is still mailed", () => {
  const { clock, mails, alerter } = setup();
  alerter.status("pi1", "offline");
  alerter.status("bbb", "offline");
  clock.advance(10 * MIN);
  assert.deepEqual(mails.map((m) => m.subject).sort(), ["device bbb is offline", "device pi1 is offline"]);
});

test("stop cancels pending alerts and ignores later statuses; bad ids are ignored", () => {
  const { clock, mails, alerter } = setup();
  alerter.status("Not A Device/#", "offline");
  assert.equal(clock.pendingCount, 0);
  alerter.status("pi1", "offline");
  alerter.stop();
  assert.equal(clock.pendingCount, 0);
  alerter.status("pi2", "offline");
  clock.advance(100 * MIN);
  assert.deepEqual(mails, []);
});

test("a failing send is reported and does not break later alerts", async () => {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  let calls = 0;
  const alerter = createOfflineAlerter({
    offlineAfterMs: MIN,
    rateLimitMs: 0,
    send: async () => {
      calls++;
      throw new Error("relay down");
    },
    now: clock.now,
    timers: clock,
    onError: (e) => errors.push(e),
  });
  alerter.status("pi1", "offline");
  clock.advance(MIN);
  alerter.status("pi2", "offline");
  clock.advance(MIN);
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 2);
  assert.equal(errors.length, 2);
});

test("rejects a non-positive threshold", () => {
  assert.throws(() => createOfflineAlerter({ offlineAfterMs: 0, rateLimitMs: 0, send: () => {} }), /offlineAfterMs/);
});

test("formatMail writes single-line headers so a subject cannot inject headers", () => {
  const text = formatMail(
    "me@example.com",
    { subject: "x\nBcc: evil@example.com", text: "body\n" },
    "[diy]",
    new Date(0),
  );
  const [head, body] = text.split("\n\n");
  assert.ok(head);
  assert.doesNotMatch(head, /^Bcc:/m);
  assert.match(head, /^Subject: \[diy\] x Bcc: evil@example.com$/m);
  assert.match(head, /^To: me@example.com$/m);
  assert.match(head, /^Date: Thu, 01 Jan 1970 00:00:00 \+0000$/m);
  assert.equal(body, "body\n");
});

test("without an alert address mails are only logged", async () => {
  const lines: string[] = [];
  const send = createMailTransport({ log: (l) => lines.push(l) });
  await send({ subject: "device pi1 is offline", text: "x" });
  assert.deepEqual(lines, ["alert (no alertEmail configured, not mailed): device pi1 is offline"]);
});

test("with an alert address the message is piped to sendmail with the recipient after --", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ops-sendmail-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fake = join(dir, "sendmail");
  writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/argv"\ncat > "${dir}/msg"\n`);
  chmodSync(fake, 0o755);
  const send = createMailTransport({ to: "me@example.com", sendmailPath: fake, log: () => {} });
  await send({ subject: "device pi1 is offline", text: "Device pi1 has been offline.\n" });
  assert.deepEqual(readFileSync(join(dir, "argv"), "utf8").split("\n").filter(Boolean), ["-i", "--", "me@example.com"]);
  const msg = readFileSync(join(dir, "msg"), "utf8");
  assert.match(msg, /^To: me@example.com$/m);
  assert.match(msg, /^Subject: \[diy-cloud\] device pi1 is offline$/m);
  assert.match(msg, /\n\nDevice pi1 has been offline.\n$/);
});

test("a sendmail failure rejects with its exit code and message", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ops-sendmail-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fake = join(dir, "sendmail");
  writeFileSync(fake, "#!/bin/sh\ncat >/dev/null\necho 'queue full' >&2\nexit 75\n");
  chmodSync(fake, 0o755);
  const send = createMailTransport({ to: "me@example.com", sendmailPath: fake, log: () => {} });
  await assert.rejects(Promise.resolve(send({ subject: "s", text: "t" })), /exited with 75: queue full/);
});

test("refuses an alert address that is not a plain address", () => {
  assert.throws(() => createMailTransport({ to: "me@example.com, other@example.com" }), /not a plain email address/);
});
