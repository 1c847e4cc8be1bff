import assert from "node:assert/strict";
import { test } from "node:test";
import { renderPostfixMainCf, renderSaslPasswd } from "../../infra/render/postfix";

const settings = (text: string): Map<string, string> =>
  new Map(
    text
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => {
        const [k, ...v] = l.split(" = ");
        return [k?.replace(/ =$/, "") ?? "", v.join(" = ")] as [string, string];
      }),
  );

const relayed = renderPostfixMainCf({
  source: 'stack "prod"',
  hostname: "iot",
  relay: { host: "smtp.example.com", user: "apikey" },
  smtpFrom: "iot@example.com",
});

test("main.cf opens with a header naming the renderer and the stack", () => {
  assert.match(relayed.split("\n")[0] ?? "", /infra\/render\/postfix\.ts/);
  assert.match(relayed, /^# Source: stack "prod"$/m);
});

test("main.cf listens on loopback only and relays only for this host", () => {
  const s = settings(relayed);
  assert.equal(s.get("inet_interfaces"), "loopback-only");
  assert.equal(s.get("mynetworks"), "127.0.0.1/32 [::1]/128");
  assert.equal(s.get("smtpd_relay_restrictions"), "permit_mynetworks, reject");
});

test("main.cf delivers nothing locally", () => {
  const s = settings(relayed);
  assert.equal(s.get("mydestination"), "");
  assert.match(s.get("local_transport") ?? "", /^error:/);
});

test("main.cf relays to [host]:587 with SASL from the hashed password map and mandatory TLS", () => {
  const s = settings(relayed);
  assert.equal(s.get("relayhost"), "[smtp.example.com]:587");
  assert.equal(s.get("smtp_sasl_auth_enable"), "yes");
  assert.equal(s.get("smtp_sasl_password_maps"), "hash:/etc/postfix/sasl_passwd");
  assert.equal(s.get("smtp_tls_security_level"), "encrypt");
  assert.equal(s.get("smtp_sasl_security_options"), "noanonymous");
});

test("main.cf rewrites every sender to smtpFrom", () => {
  assert.equal(settings(relayed).get("sender_canonical_maps"), "static:iot@example.com");
});

test("main.cf without a relay refuses mail with a logged reason instead of trying direct delivery", () => {
  const s = settings(renderPostfixMainCf({ hostname: "diy-dev" }));
  assert.equal(s.get("relayhost"), "");
  assert.match(s.get("default_transport") ?? "", /^error:no SMTP relay configured/);
  assert.ok(!s.has("smtp_sasl_auth_enable"));
});

test("main.cf for a relay without login sets no SASL", () => {
  const s = settings(renderPostfixMainCf({ hostname: "lab", relay: { host: "mail.lab.internal", port: 25 } }));
  assert.equal(s.get("relayhost"), "[mail.lab.internal]:25");
  assert.ok(!s.has("smtp_sasl_auth_enable"));
});

test("sasl_passwd pairs the bracketed relay with user:password", () => {
  const text = renderSaslPasswd({ relay: { host: "smtp.example.com", user: "apikey" }, password: "p4ss" });
  assert.match(text, /^\[smtp\.example\.com\]:587 apikey:p4ss$/m);
});

test("postfix renderers refuse values that would inject settings", () => {
  assert.throws(() => renderPostfixMainCf({ hostname: "a\nrelayhost = evil" }), /hostname/);
  assert.throws(() => renderPostfixMainCf({ hostname: "a", relay: { host: "x]:25 y" } }), /relay\.host/);
  assert.throws(() => renderPostfixMainCf({ hostname: "a", smtpFrom: "a@b, c@d" }), /smtpFrom/);
  assert.throws(() => renderSaslPasswd({ relay: { host: "h", user: "u" }, password: "a b" }), /whitespace/);
});
