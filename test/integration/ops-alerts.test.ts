// Server-side alerts run for real: fail2ban bans an IP and the rendered action mails it through the
// rendered diy-alert script (sendmail replaced by a recorder); the rate limit and the cert/CRL
// expiry check run as the shell scripts that ship.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  renderAlertScript,
  renderCertCheckScript,
  renderCertCheckService,
  renderCertCheckTimer,
  renderFail2banMailAction,
} from "../../infra/render/alerts";
import { createCa, issueCert, renderCrl } from "../../infra/render/x509";
import { privateFail2banDefinition } from "./daemons-support";
import { waitUntil } from "../support/wait";

const DAY = 86_400_000;

/** A temp dir with diy-alert rendered into it and a sendmail recorder on its path. */
function alertKit(opts: { alertEmail?: string; rateLimitMinutes?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "ops-alerts-"));
  const recorder = join(dir, "sendmail");
  const mails = join(dir, "mails");
  writeFileSync(recorder, `#!/bin/sh\n{ printf 'ARGV: %s\\n' "$*"; cat; printf '\\n--END--\\n'; } >> '${mails}'\n`);
  chmodSync(recorder, 0o755);
  const script = join(dir, "diy-alert");
  writeFileSync(
    script,
    renderAlertScript({
      alertEmail: "alertEmail" in opts ? opts.alertEmail : "me@example.com",
      rateLimitMinutes: opts.rateLimitMinutes ?? 60,
      sendmailPath: recorder,
      stateDir: join(dir, "state"),
      source: "test",
    }),
  );
  chmodSync(script, 0o755);
  const readMails = () =>
    existsSync(mails)
      ? readFileSync(mails, "utf8").split("--END--\n").slice(0, -1) // only complete mails: the recorder may still be writing the last one
      : [];
  return { dir, script, readMails, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function runAlert(script: string, key: string, subject: string, body: string) {
  const r = spawnSync(script, [key, subject], { input: body, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

test("diy-alert mails once per key per window and reports what it held back", (t) => {
  const kit = alertKit();
  t.after(kit.cleanup);
  runAlert(kit.script, "fail2ban-sshd", "fail2ban: sshd banned 192.0.2.1", "first");
  runAlert(kit.script, "fail2ban-sshd", "fail2ban: sshd banned 192.0.2.2", "second");
  runAlert(kit.script, "fail2ban-sshd", "fail2ban: sshd banned 192.0.2.3", "third");
  runAlert(kit.script, "cert-expiry", "certificates end soon", "other key");
  const mails = kit.readMails();
  assert.equal(mails.length, 2, "one per key");
  assert.match(mails[0] ?? "", /^ARGV: -i -- me@example.com$/m);
  assert.match(mails[0] ?? "", /^Subject: \[diy-cloud\] fail2ban: sshd banned 192.0.2.1$/m);
  assert.match(mails[0] ?? "", /^To: me@example.com$/m);
  assert.match(mails[0] ?? "", /\n\nfirst\n/);
  assert.equal(readFileSync(join(kit.dir, "state", "fail2ban-sshd.held"), "utf8").trim(), "2");
  // the window passes: pretend the last mail is old, the next alert mails and counts the held ones
  writeFileSync(join(kit.dir, "state", "fail2ban-sshd.last"), "0\n");
  runAlert(kit.script, "fail2ban-sshd", "fail2ban: sshd banned 192.0.2.4", "fourth");
  const third = kit.readMails()[2] ?? "";
  assert.match(third, /fourth\n\n2 similar alert\(s\) since the last mail were held back/);
  assert.equal(existsSync(join(kit.dir, "state", "fail2ban-sshd.held")), false);
});

test("diy-alert without an alert address logs and never calls sendmail", (t) => {
  const kit = alertKit({ alertEmail: undefined });
  t.after(kit.cleanup);
  runAlert(kit.script, "k", "device offline", "body");
  assert.deepEqual(kit.readMails(), []);
});

test("diy-alert keeps a hostile key inside its state dir", (t) => {
  const kit = alertKit();
  t.after(kit.cleanup);
  runAlert(kit.script, "../../etc/x", "s", "b");
  assert.ok(existsSync(join(kit.dir, "state", ".._.._etc_x.last")));
});

test("rendered scripts pass shellcheck and units pass systemd-analyze verify", (t) => {
  const kit = alertKit();
  t.after(kit.cleanup);
  const check = join(kit.dir, "diy-cert-check");
  writeFileSync(
    check,
    renderCertCheckScript({
      warnDays: 21,
      certs: ["/etc/mosquitto/certs/server.pem"],
      crl: "/etc/mosquitto/certs/crl.pem",
    }),
  );
  chmodSync(check, 0o755);
  execFileSync("shellcheck", ["-s", "sh", kit.script, check]);
  const units = join(kit.dir, "units");
  mkdirSync(units);
  writeFileSync(join(units, "diy-cert-check.service"), renderCertCheckService({ script: check }));
  writeFileSync(join(units, "diy-cert-check.timer"), renderCertCheckTimer());
  const r = spawnSync(
    "systemd-analyze",
    ["verify", join(units, "diy-cert-check.service"), join(units, "diy-cert-check.timer")],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
});

test("the expiry check mails for a certificate and a CRL ending within the warning window, and is silent otherwise", async (t) => {
  const kit = alertKit();
  t.after(kit.cleanup);
  const ca = await createCa({ commonName: "test ca", days: 3650 });
  const longCert = await issueCert(ca, { commonName: "broker", kind: "server", days: 397 });
  const shortCert = await issueCert(ca, { commonName: "web", kind: "client", days: 10 });
  const longCrl = await renderCrl({ ca, revoked: [], nextUpdate: new Date(Date.now() + 3000 * DAY) });
  const shortCrl = await renderCrl({ ca, revoked: [], nextUpdate: new Date(Date.now() + 5 * DAY) });
  const file = (name: string, text: string) => {
    writeFileSync(join(kit.dir, name), text);
    return join(kit.dir, name);
  };
  const run = (certs: string[], crl: string) => {
    const script = file("check.sh", renderCertCheckScript({ warnDays: 21, certs, crl, alertScript: kit.script }));
    chmodSync(script, 0o755);
    return spawnSync(script, [], { encoding: "utf8" });
  };
  const ok = run(
    [file("ca.pem", ca.certPem), file("long.pem", longCert.certPem), join(kit.dir, "missing.pem")],
    file("crl-long.pem", longCrl),
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(kit.readMails(), []);

  const warn = run(
    [file("long.pem", longCert.certPem), file("short.pem", shortCert.certPem)],
    file("crl-short.pem", shortCrl),
  );
  assert.equal(warn.status, 1);
  const [mail] = kit.readMails();
  assert.match(mail ?? "", /^Subject: \[diy-cloud\] certificates end within 21 days on /m);
  assert.match(mail ?? "", /short\.pem expires /);
  assert.doesNotMatch(mail ?? "", /long\.pem/);
  assert.match(mail ?? "", /crl-short\.pem nextUpdate .* every device is refused/);
});

test("a real fail2ban ban produces one short mail through the rendered sendmail override, without whois or start/stop mails", async (t) => {
  const kit = alertKit();
  t.after(kit.cleanup);
  const conf = join(kit.dir, "f2b");
  for (const d of ["action.d", "filter.d", "jail.d", "fail2ban.d"]) mkdirSync(join(conf, d), { recursive: true });
  const authLog = join(kit.dir, "auth.log");
  writeFileSync(authLog, "");
  writeFileSync(join(conf, "fail2ban.conf"), privateFail2banDefinition(kit.dir));
  writeFileSync(
    join(conf, "filter.d", "diy-test.conf"),
    "[Definition]\nfailregex = ^Failed password for \\S+ from <HOST>\ndatepattern = {NONE}\n",
  );
  // Debian's stock actions, plus our override of the sendmail action that jail.local names
  cpSync("/etc/fail2ban/action.d", join(conf, "action.d"), { recursive: true });
  writeFileSync(
    join(conf, "action.d", "sendmail.local"),
    renderFail2banMailAction({ alertScript: kit.script, source: "test" }),
  );
  writeFileSync(
    join(conf, "jail.conf"),
    [
      "[DEFAULT]",
      "bantime = 600",
      "findtime = 600",
      "maxretry = 2",
      "",
      "[diy-test]",
      "enabled = true",
      "backend = polling",
      `logpath = ${authLog}`,
      "filter = diy-test",
      // only the mail action: the test must not touch this machine's firewall
      'action = sendmail[sender="cloud@example.net", dest="me@example.com"]',
      "",
    ].join("\n"),
  );
  const client = (...args: string[]) => spawnSync("fail2ban-client", ["-c", conf, ...args], { encoding: "utf8" });
  const test = client("-t");
  assert.equal(test.status, 0, test.stderr + test.stdout);

  const server: ChildProcess = spawn("fail2ban-client", ["-c", conf, "-x", "-f", "start"], { stdio: "ignore" });
  t.after(() => {
    client("stop");
    server.kill("SIGKILL");
  });
  await waitUntil(() => (client("status", "diy-test").status === 0 ? true : undefined), "fail2ban to start the jail", {
    timeoutMs: 30_000,
    intervalMs: 200,
  });

  appendFileSync(authLog, "Failed password for root from 192.0.2.7 port 4242 ssh2\n");
  appendFileSync(authLog, "Failed password for root from 192.0.2.7 port 4243 ssh2\n");
  const [mail] = await waitUntil(
    () => {
      const m = kit.readMails();
      return m.length > 0 ? m : undefined;
    },
    "the ban mail",
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  assert.match(mail ?? "", /^Subject: \[diy-cloud\] fail2ban: diy-test banned 192\.0\.2\.7$/m);
  assert.match(mail ?? "", /\n\nfail2ban jail diy-test banned 192\.0\.2\.7 after 2 failures\.\n/);
  assert.ok((mail ?? "").length < 600, "a short mail");
  assert.doesNotMatch(mail ?? "", /whois|Failed password/i);
  assert.match(client("status", "diy-test").stdout, /Banned IP list:\s+192\.0\.2\.7/);
  assert.equal(kit.readMails().length, 1, "no 'jail started' mail from the stock action");

  // a second ban inside the rate-limit window is held back, not mailed
  appendFileSync(
    authLog,
    "Failed password for root from 192.0.2.8 port 1 ssh2\nFailed password for root from 192.0.2.8 port 2 ssh2\n",
  );
  await waitUntil(
    () => (/192\.0\.2\.8/.test(client("status", "diy-test").stdout) ? true : undefined),
    "the second ban",
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  await waitUntil(
    () => (existsSync(join(kit.dir, "state", "fail2ban-diy-test.held")) ? true : undefined),
    "the held-back count",
    { timeoutMs: 10_000, intervalMs: 200 },
  );
  assert.equal(kit.readMails().length, 1);
});
