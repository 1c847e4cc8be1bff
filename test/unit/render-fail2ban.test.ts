import assert from "node:assert/strict";
import { test } from "node:test";
import { renderFail2banJail } from "../../infra/render/fail2ban";

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
