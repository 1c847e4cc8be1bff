import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FAIL2BAN_MAIL_ACTION,
  renderAlertScript,
  renderCertCheckScript,
  renderCertCheckTimer,
  renderFail2banMailAction,
} from "../../infra/render/alerts";

test("alert script names its renderer and embeds the address, window and sendmail", () => {
  const s = renderAlertScript({ alertEmail: "me@example.com", rateLimitMinutes: 60, source: "stack dev" });
  assert.match(s, /^#!\/bin\/sh\n# Rendered by diy-device-cloud infra\/render\/alerts\.ts/);
  assert.match(s, /^# Source: stack dev$/m);
  assert.match(s, /^TO='me@example.com'$/m);
  assert.match(s, /^WINDOW=3600$/m);
  assert.match(s, /^SENDMAIL=\/usr\/sbin\/sendmail$/m);
  assert.match(s, /"\$SENDMAIL" -i -- "\$TO"/);
});

test("alert script without an address renders an empty TO (log only)", () => {
  assert.match(renderAlertScript({ rateLimitMinutes: 60 }), /^TO=''$/m);
});

test("alert script refuses an address that could break out of the shell quoting", () => {
  for (const bad of ["a'b@example.com", "me@example.com\nrm -rf /", "two@x.com three@y.com", "$(id)@x.com"]) {
    assert.throws(() => renderAlertScript({ alertEmail: bad, rateLimitMinutes: 1 }), /alertEmail/);
  }
});

test("fail2ban action doubles % for ConfigParser, skips restored bans and does no whois", () => {
  const a = renderFail2banMailAction();
  assert.equal(FAIL2BAN_MAIL_ACTION, "sendmail");
  assert.match(a, /^actionstart =$/m);
  assert.match(a, /^actionstop =$/m);
  assert.match(a, /^\[Definition\]$/m);
  assert.match(a, /^norestored = 1$/m);
  assert.match(a, /^actionban = printf %%s ".*<ip>.*<failures>.*" \| \/usr\/local\/sbin\/diy-alert "fail2ban-<name>"/m);
  assert.doesNotMatch(a, /whois|<matches>/);
  assert.match(a, /^actionunban =$/m);
});

test("cert check lists every certificate, checks the CRL and uses openssl -checkend", () => {
  const s = renderCertCheckScript({ warnDays: 21, certs: ["/a.pem", "/b.pem"], crl: "/etc/mosquitto/certs/crl.pem" });
  assert.match(s, /^WARN_DAYS=21$/m);
  assert.match(s, /^set -- \/a\.pem \/b\.pem$/m);
  assert.match(s, /openssl x509 -checkend "\$window"/);
  assert.match(s, /^crl=\/etc\/mosquitto\/certs\/crl\.pem$/m);
  assert.doesNotMatch(renderCertCheckScript({ warnDays: 21, certs: ["/a.pem"] }), /openssl crl/);
  assert.throws(() => renderCertCheckScript({ warnDays: 0, certs: ["/a.pem"] }), /certExpiryWarnDays/);
  assert.throws(() => renderCertCheckScript({ warnDays: 5, certs: ["relative.pem"] }), /absolute/);
});

test("cert check timer runs daily and catches up after downtime", () => {
  const t = renderCertCheckTimer();
  assert.match(t, /^OnCalendar=daily$/m);
  assert.match(t, /^Persistent=true$/m);
  assert.match(t, /^WantedBy=timers.target$/m);
});
