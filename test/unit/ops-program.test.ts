// The operations wiring of DeviceCloud under mocks: Route53 record, Let's Encrypt and dynamic DNS
// appear only when configured, the update URL stays secret, and certRotation changes exactly the
// CA-signed certificates and what carries them (server push, device installs).
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployCloud, type Harness, fullExampleRaw, MOCK_IP, type MockWorld, SECRET_MARKER } from "./program-harness";

const devRaw = fullExampleRaw;
const minimal = (): Record<string, unknown> => ({ adminCidrs: '["198.51.100.7/32"]' });

const build = async (name: string, raw: Record<string, unknown>, world: MockWorld = {}) =>
  (await deployCloud(raw, { name, world })).h;

const pushScript = (h: Harness): string => {
  const push = h.ofType("command:remote:Command").find((r) => r.name.endsWith("-push"));
  assert.ok(push, "a server push");
  return String(push.inputs.stdin ?? push.inputs.create);
};
const records = (h: Harness) => h.ofType("aws:route53/record:Record");
const puts = (script: string, p: string) => new RegExp(`^  put ${p.replace(/[.]/g, "\\.")} `, "m").test(script);

test("with domain + route53ZoneId: an A record for the Elastic IP, and certbot in the push", async () => {
  const h = await build("ops-r53", {
    ...minimal(),
    domain: "iot.example.com",
    route53ZoneId: "Z0123456789ABC",
    letsEncryptEmail: "me@example.com",
  });
  const [rec] = records(h);
  assert.equal(records(h).length, 1);
  assert.equal(rec?.inputs.name, "iot.example.com");
  assert.equal(rec?.inputs.type, "A");
  assert.equal(rec?.inputs.zoneId, "Z0123456789ABC");
  assert.deepEqual(rec?.inputs.records, [MOCK_IP]);
  const script = pushScript(h);
  assert.ok(puts(script, "/usr/local/sbin/diy-certbot"));
  assert.ok(puts(script, "/usr/local/sbin/diy-certbot-deploy"));
  assert.match(script, /if ! \( \/usr\/local\/sbin\/diy-certbot \)/);
  assert.ok(!puts(script, "/etc/diy-ddns/env"), "Route53 keeps the name: no dynamic DNS");
});

test("without a domain: no Route53 record, no certbot, no dynamic DNS; alerts and the expiry timer still ship", async () => {
  const h = await build("ops-plain", minimal());
  assert.equal(records(h).length, 0);
  const script = pushScript(h);
  assert.ok(!puts(script, "/usr/local/sbin/diy-certbot"));
  assert.ok(!puts(script, "/etc/diy-ddns/env"));
  assert.ok(puts(script, "/usr/local/sbin/diy-alert"));
  assert.ok(puts(script, "/etc/fail2ban/action.d/sendmail.local"));
  assert.ok(puts(script, "/etc/systemd/system/diy-cert-check.timer"));
});

test("with ddnsUpdateUrl (no Route53): the ddns timer and a 0600 root EnvironmentFile; the URL only in secret inputs", async () => {
  const url = `https://dyn.example.net/update?token=${SECRET_MARKER}-ddns`;
  const h = await build("ops-ddns", { ...minimal(), ddnsUpdateUrl: url });
  assert.equal(records(h).length, 0);
  const script = pushScript(h);
  assert.match(script, /^ {2}put \/etc\/diy-ddns\/env 0600 root root /m);
  assert.ok(puts(script, "/etc/systemd/system/diy-ddns.timer"));
  const push = h.ofType("command:remote:Command").find((r) => r.name.endsWith("-push"));
  for (const r of h.resources) {
    const plain = Object.fromEntries(
      Object.entries(r.inputs).filter(([k]) => !(r === push && r.secretInputs.includes(k))),
    );
    assert.doesNotMatch(
      JSON.stringify(plain),
      new RegExp(`${SECRET_MARKER}-ddns`),
      `${r.type} ${r.name} shows the update URL`,
    );
  }
  const instance = h.ofType("aws:ec2/instance:Instance")[0];
  assert.doesNotMatch(String(instance?.inputs.userData), /dyn\.example\.net/);
});

test("certRotation changes every CA-signed certificate and what carries them, nothing else", async () => {
  const snapshot = (h: Harness, prefix: string) =>
    new Map(
      h.resources.map((r) => [
        `${r.type} ${r.name.replace(prefix, "X")}`,
        // Local copies are named by their content's SHA-256, which includes the component's name in file headers.
        JSON.stringify(r.inputs)
          .replaceAll(prefix, "X")
          .replace(/-[0-9a-f]{64}\.(js|sh)\b/g, "-<sha256>.$1"),
      ]),
    );
  // The second run sees the first one's state: what the rotation does not touch keeps its keys and certificates.
  const first = await build("rot", { ...devRaw(), certRotation: "1" });
  const a = snapshot(first, "rot");
  const b = snapshot(await build("rot", { ...devRaw(), certRotation: "2" }, { previous: first.resources }), "rot");
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), "same resources");
  const changed = [...a.keys()].filter((k) => a.get(k) !== b.get(k)).sort();
  const expectedTypes = new Set([
    "tls:index/certRequest:CertRequest",
    "tls:index/locallySignedCert:LocallySignedCert",
    "command:remote:Command",
  ]);
  // The serial ledger (infra/serial-ledger.ts) records every serial the stack issued, so a rotation adds to it.
  const isLedger = (k: string) => k.startsWith("command:local:Command ") && k.endsWith("-issued-serials");
  for (const k of changed)
    assert.ok(expectedTypes.has(k.split(" ")[0] ?? "") || isLedger(k), `unexpected change: ${k}`);
  assert.ok(changed.some(isLedger), "the serial ledger records the new serials");
  const certs = [...a.keys()].filter((k) => k.startsWith("tls:index/locallySignedCert:LocallySignedCert "));
  assert.ok(certs.length >= 3);
  for (const c of certs) assert.ok(changed.includes(c), `${c} was not re-issued`);
  assert.ok(
    changed.some((k) => k.startsWith("command:remote:Command ") && k.endsWith("-push")),
    "the push re-runs",
  );
  assert.ok(!changed.some((k) => k.startsWith("tls:index/selfSignedCert")), "the CA stays");
});
