import assert from "node:assert/strict";
import { test } from "node:test";
import { WEB_LOGIN_JAIL, renderFail2banJail, renderFail2banWebLoginFilter } from "../../infra/render/fail2ban";

const section = (text: string, name: string): string => {
  const m = new RegExp(`^\\[${name}\\]\\n([\\s\\S]*?)(?=^\\[|$(?![\\s\\S]))`, "m").exec(text);
  assert.ok(m, `no [${name}] section`);
  return m[1] ?? "";
};

test("jail.local enables the sshd jail on the systemd journal (Debian 12 has no auth.log)", () => {
  const text = renderFail2banJail({ source: 'stack "dev"' });
  assert.match(text.split("\n")[0] ?? "", /infra\/render\/fail2ban\.ts/);
  const sshd = section(text, "sshd");
  assert.match(sshd, /^enabled = true$/m);
  assert.match(sshd, /^backend = systemd$/m);
  assert.match(sshd, /^port = 22$/m);
  assert.doesNotMatch(text, /backend = auto[\s\S]*\[sshd\]/);
});

test("jail.local bans with nftables and never bans loopback or the given admin networks", () => {
  const d = section(renderFail2banJail({ ignoreIps: ["203.0.113.0/24", "2001:db8::/32"] }), "DEFAULT");
  assert.match(d, /^banaction = nftables-multiport$/m);
  assert.match(d, /^ignoreip = 127\.0\.0\.1\/8 ::1 203\.0\.113\.0\/24 2001:db8::\/32$/m);
});

test("jail.local mails each ban through sendmail only when an address is configured", () => {
  assert.doesNotMatch(renderFail2banJail({}), /destemail|mta/);
  const d = section(
    renderFail2banJail({ mail: { destemail: "ops@example.com", sender: "iot@example.com" } }),
    "DEFAULT",
  );
  assert.match(d, /^destemail = ops@example\.com$/m);
  assert.match(d, /^sender = iot@example\.com$/m);
  assert.match(d, /^mta = sendmail$/m);
  assert.match(d, /^action = %\(action_\)s\n\s+%\(mta\)s\[sender="%\(sender\)s", dest="%\(destemail\)s"\]$/m);
});

test("jail.local adds the nginx limit_req jail on nginx's error log only when asked", () => {
  assert.doesNotMatch(renderFail2banJail({}), /nginx-limit-req/);
  const j = section(renderFail2banJail({ nginxLimitReq: {} }), "nginx-limit-req");
  assert.match(j, /^logpath = \/var\/log\/nginx\/error\.log$/m);
  assert.match(j, /^backend = auto$/m);
});

test("jail.local refuses values that would inject settings", () => {
  assert.throws(
    () => renderFail2banJail({ mail: { destemail: "a@b.c\nenabled = false", sender: "x@y.z" } }),
    /destemail/,
  );
  assert.throws(() => renderFail2banJail({ ignoreIps: ["0.0.0.0/0 ; x"] }), /ignoreIps/);
  assert.throws(() => renderFail2banJail({ bantime: "forever" }), /bantime/);
  assert.throws(() => renderFail2banJail({ sshPort: 0 }), /sshPort/);
});

test("jail.local bans repeated web login failures from the web app's journal on http and https", () => {
  const j = section(renderFail2banJail({}), WEB_LOGIN_JAIL);
  assert.match(j, /^enabled = true$/m);
  assert.match(j, /^backend = systemd$/m);
  assert.match(j, new RegExp(`^filter = ${WEB_LOGIN_JAIL}$`, "m"));
  assert.match(j, /^port = http,https$/m);
});

test("the web login filter reads only diy-web.service and matches only the ip of a login_failed event", () => {
  const text = renderFail2banWebLoginFilter({ source: 'stack "dev"' });
  assert.match(text.split("\n")[0] ?? "", /infra\/render\/fail2ban\.ts/);
  assert.match(text, /^journalmatch = _SYSTEMD_UNIT=diy-web\.service$/m);
  assert.match(text, /^datepattern = \{NONE\}$/m);
  const failregex = /^failregex = \^%\(__prefix_line\)s(.*)$/m.exec(text)?.[1];
  assert.ok(failregex);
  // fail2ban's <ADDR> is an address; as a plain group here, to run the regex under JavaScript too.
  const re = new RegExp(`^srv1 node\\[812\\]: ${failregex.replace("<ADDR>", "([0-9a-f.:]+)")}`);
  const line = (fields: Record<string, unknown>) =>
    `srv1 node[812]: ${JSON.stringify({ time: "2026-11-30T00:00:00.000Z", level: "warn", ...fields })}`;
  assert.equal(re.exec(line({ event: "login_failed", ip: "192.0.2.7" }))?.[1], "192.0.2.7");
  assert.equal(re.exec(line({ event: "login_failed", via: "nginx", ip: "2001:db8::7", n: 3 }))?.[1], "2001:db8::7");
  for (const other of [
    line({ event: "login", ip: "192.0.2.7" }),
    line({ event: "login_rate_limited", ip: "192.0.2.7" }),
    // text an attacker controls, posing as a login_failed event for someone else's address
    line({ event: "http", path: '/","event":"login_failed","ip":"192.0.2.66"}', ip: "192.0.2.9" }),
    line({ event: "origin_refused", origin: 'x","event":"login_failed","ip":"192.0.2.67', ip: "192.0.2.9" }),
    line({ event: "login_failed", ip: "192.0.2.7", note: 'a"b' }),
  ])
    assert.equal(re.exec(other), null, other);
});
