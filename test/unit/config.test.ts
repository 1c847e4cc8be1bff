import assert from "node:assert/strict";
import * as path from "node:path";
import * as fs from "node:fs";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { checkCidr, ConfigError, KEYS, type KeySpec, NAMESPACE, SECRET_KEYS } from "../../infra/config";
import type { IntegerKeySpec } from "../../infra/config";
import { readStackFile } from "../../infra/stack-file";
import { FULL_EXAMPLE } from "./program-harness";
import { configErrorOf, settingsFrom } from "../support/settings";

const root = path.resolve(__dirname, "../..");
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

const parse_ = settingsFrom;

/** Smallest valid config: only the required key. */
const minimal = { adminCidrs: '["198.51.100.7/32"]' };

const pi = (over: Record<string, unknown> = {}) => ({
  id: "pi1",
  host: "192.0.2.21",
  board: "raspberrypi",
  outputs: [{ name: "led", backend: { type: "led", led: "ACT" } }],
  ...over,
});

function withDevices(devices: unknown[], extra: Record<string, unknown> = {}) {
  return { ...minimal, deviceSshPrivateKey: KEY, devices: JSON.stringify(devices), ...extra };
}

const problemsOf = configErrorOf;

describe("parseSettings accepts good config", () => {
  test("applies the documented defaults to a config with only adminCidrs", () => {
    const s = parse_(minimal);
    assert.equal(s.instanceType, "t3.micro");
    assert.equal(s.arch, "x86_64");
    assert.equal(s.os, "debian13");
    assert.equal(s.adminUser, "admin");
    assert.deepEqual(s.adminCidrs, ["198.51.100.7/32"]);
    assert.equal(s.allowSshFromAnywhere, false);
    assert.equal(s.smtpPort, 587);
    assert.equal(s.offlineAlertMinutes, 10);
    assert.equal(s.alertRateLimitMinutes, 60);
    assert.equal(s.certExpiryWarnDays, 21);
    assert.equal(s.certValidityDays, 397);
    assert.equal(s.certEarlyRenewalDays, 30);
    assert.equal(s.certRotation, "0");
    assert.deepEqual(s.devices, []);
    assert.deepEqual(s.revokedDevices, []);
    assert.deepEqual(s.tags, {});
    assert.equal(s.webPassword, undefined);
  });

  test("offers debian13 (default), debian12 and ubuntu2404, each with its image's login user", () => {
    assert.equal(parse_({ ...minimal, os: "debian12" }).adminUser, "admin");
    assert.equal(parse_({ ...minimal, os: "debian13" }).adminUser, "admin");
    assert.equal(parse_({ ...minimal, os: "ubuntu2404" }).adminUser, "ubuntu");
  });

  test("derives arm64 and the ubuntu login from a t4g type and ubuntu2404", () => {
    const s = parse_({ ...minimal, instanceType: "t4g.micro", os: "ubuntu2404" });
    assert.equal(s.arch, "arm64");
    assert.equal(s.adminUser, "ubuntu");
  });

  test("accepts native values as well as the strings Pulumi passes", () => {
    const s = parse_({ adminCidrs: ["198.51.100.0/24", "2001:db8::/32"], smtpPort: 2525, allowSshFromAnywhere: false });
    assert.deepEqual(s.adminCidrs, ["198.51.100.0/24", "2001:db8::/32"]);
    assert.equal(s.smtpPort, 2525);
  });

  test("gives a Raspberry Pi entry without backends its LED on GPIO17 and its button on GPIO27 (libgpiod)", () => {
    const s = parse_(withDevices([pi({ outputs: [{ name: "led" }], inputs: [{ name: "button" }] })]));
    assert.deepEqual(s.devices[0]?.outputs, [
      { name: "led", safeState: "off", backend: { type: "gpiod", line: "GPIO17" } },
    ]);
    assert.deepEqual(s.devices[0]?.inputs, [
      { name: "button", backend: { type: "gpiod", line: "GPIO27", activeLow: true, bias: "pull-up" } },
    ]);
  });

  test("looks for the Pi's ACT LED as led0 too (and the other way round), and keeps an explicit activeLow", () => {
    const led = (backend: Record<string, unknown>) =>
      parse_(withDevices([pi({ outputs: [{ name: "led", backend }] })])).devices[0]?.outputs[0]?.backend;
    assert.deepEqual(led({ type: "led", led: "ACT" }), { type: "led", led: "ACT", alternatives: ["led0"] });
    assert.deepEqual(led({ type: "led", led: "led0" }), { type: "led", led: "led0", alternatives: ["ACT"] });
    assert.deepEqual(led({ type: "led", led: "PWR", activeLow: "false" }), {
      type: "led",
      led: "PWR",
      activeLow: false,
      alternatives: ["led1"],
    });
    // Only the Pi's own LEDs have other names; a gpio-led overlay LED is what it is called.
    assert.deepEqual(led({ type: "led", led: "led" }), { type: "led", led: "led" });
    const bbb = parse_(
      withDevices([pi({ board: "beaglebone", outputs: [{ name: "led", backend: { type: "led", led: "ACT" } }] })]),
    );
    assert.deepEqual(bbb.devices[0]?.outputs[0]?.backend, { type: "led", led: "ACT" });
  });

  test("treats empty strings (Pulumi.yaml's defaults for optional keys) as unset", () => {
    const s = parse_({ ...minimal, domain: "", webPassword: "", smtpHost: "", deviceSshPrivateKey: "" });
    assert.equal(s.domain, undefined);
    assert.equal(s.webPassword, undefined);
  });

  test("allows 0.0.0.0/0 for SSH only with the explicit opt-in", () => {
    const s = parse_({ adminCidrs: '["0.0.0.0/0"]', allowSshFromAnywhere: "true" });
    assert.deepEqual(s.adminCidrs, ["0.0.0.0/0"]);
  });

  test("fills device defaults: port 22, user pi, safeState off, activeLow false", () => {
    const s = parse_(withDevices([pi({ inputs: [{ name: "button", backend: { type: "gpiod", line: "GPIO17" } }] })]));
    const d = s.devices[0];
    assert.ok(d);
    assert.equal(d.port, 22);
    assert.equal(d.user, "pi");
    assert.equal(d.outputs[0]?.safeState, "off");
    assert.deepEqual(d.inputs[0]?.backend, { type: "gpiod", line: "GPIO17", activeLow: false });
  });

  test("keeps secrets as Pulumi secrets", async () => {
    const s = parse_({
      ...minimal,
      webPassword: "correct horse battery",
      smtpHost: "smtp.example.com",
      smtpUser: "u",
      smtpPassword: "pw",
    });
    assert.ok(s.webPassword && s.smtpPassword);
    assert.equal(await (s.webPassword as unknown as { isSecret: Promise<boolean> }).isSecret, true);
    assert.equal(await (s.smtpPassword as unknown as { isSecret: Promise<boolean> }).isSecret, true);
  });

  test("the full example stack file is valid once its secrets are set", () => {
    const { raw } = readStackFile(path.join(root, FULL_EXAMPLE));
    const s = parse_({ ...raw, deviceSshPrivateKey: KEY, smtpPassword: "relay-password" });
    assert.deepEqual(
      s.devices.map((d) => d.id),
      ["pi1", "bbb1", "bridge1"],
    );
    assert.deepEqual(
      s.devices[2]?.bridge?.children.map((c) => c.id),
      ["arduino1"],
    );
    for (const cidr of s.adminCidrs) assert.ok(!cidr.endsWith("/0"));
  });
});

// Each case: a config, the key the error must name, and a fragment of what it must say.
const bad: [string, Record<string, unknown>, string, RegExp][] = [
  ["missing adminCidrs", {}, "adminCidrs", /required/],
  ["empty adminCidrs", { adminCidrs: "[]" }, "adminCidrs", /at least one/],
  ["adminCidrs not a CIDR", { adminCidrs: '["hello"]' }, "adminCidrs", /not a CIDR/],
  ["adminCidrs bare address", { adminCidrs: '["198.51.100.7"]' }, "adminCidrs", /198\.51\.100\.7\/32/],
  ["adminCidrs host bits set", { adminCidrs: '["198.51.100.7/24"]' }, "adminCidrs", /198\.51\.100\.0\/24/],
  ["adminCidrs prefix too long", { adminCidrs: '["198.51.100.7/33"]' }, "adminCidrs", /longer than \/32/],
  ["adminCidrs bad octet", { adminCidrs: '["300.1.1.1/32"]' }, "adminCidrs", /not an IP address/],
  ["adminCidrs world without opt-in", { adminCidrs: '["0.0.0.0/0"]' }, "adminCidrs", /allowSshFromAnywhere/],
  ["adminCidrs IPv6 world without opt-in", { adminCidrs: '["::/0"]' }, "adminCidrs", /whole internet/],
  ["adminCidrs not a list", { adminCidrs: '{"a":1}' }, "adminCidrs", /JSON array/],
  ["adminCidrs duplicate", { adminCidrs: '["198.51.100.7/32","198.51.100.7/32"]' }, "adminCidrs", /twice/],
  [
    "allowSshFromAnywhere not boolean",
    { ...minimal, allowSshFromAnywhere: "yes" },
    "allowSshFromAnywhere",
    /true or false/,
  ],
  ["unknown instance type", { ...minimal, instanceType: "m5.24xlarge" }, "instanceType", /unsupported instance type/],
  ["misspelt instance type", { ...minimal, instanceType: "t3.mirco" }, "instanceType", /t3\.micro/],
  ["unknown os", { ...minimal, os: "debian11" }, "os", /one of debian13, debian12, ubuntu2404/],
  ["short web password", { ...minimal, webPassword: "hunter2" }, "webPassword", /at least 12/],
  [
    "domain not a name",
    { ...minimal, domain: "not a domain", alertEmail: "a@example.com", smtpHost: "smtp.example.com" },
    "domain",
    /domain name/,
  ],
  ["zone without domain", { ...minimal, route53ZoneId: "Z0123456789ABC" }, "route53ZoneId", /needs domain/],
  [
    "bad zone id",
    { ...minimal, domain: "iot.example.com", letsEncryptEmail: "a@example.com", route53ZoneId: "zone-1" },
    "route53ZoneId",
    /hosted zone id/,
  ],
  ["domain without any e-mail", { ...minimal, domain: "iot.example.com" }, "letsEncryptEmail", /required when domain/],
  [
    "letsEncryptEmail without domain",
    { ...minimal, letsEncryptEmail: "a@example.com" },
    "letsEncryptEmail",
    /needs domain/,
  ],
  [
    "letsEncryptEmail not an address",
    { ...minimal, domain: "iot.example.com", letsEncryptEmail: "me" },
    "letsEncryptEmail",
    /e-mail/,
  ],
  ["ddns url over http", { ...minimal, ddnsUpdateUrl: "http://dyn.example.net/u?t=1" }, "ddnsUpdateUrl", /https/],
  ["ddns not a url", { ...minimal, ddnsUpdateUrl: "dyn" }, "ddnsUpdateUrl", /not a URL/],
  [
    "alertEmail not an address",
    { ...minimal, alertEmail: "you at example", smtpHost: "smtp.example.com" },
    "alertEmail",
    /e-mail/,
  ],
  [
    "alertEmail without smtpHost",
    { ...minimal, alertEmail: "you@example.com" },
    "smtpHost",
    /required when alertEmail/,
  ],
  ["smtpHost not a host", { ...minimal, smtpHost: "smtp example com" }, "smtpHost", /host name/],
  ["smtpPort out of range", { ...minimal, smtpPort: "70000" }, "smtpPort", /1-65535/],
  ["smtpPort not a number", { ...minimal, smtpPort: "submission" }, "smtpPort", /whole number/],
  [
    "smtpUser without password",
    { ...minimal, smtpHost: "smtp.example.com", smtpUser: "me" },
    "smtpPassword",
    /required when smtpUser/,
  ],
  [
    "smtpPassword without user",
    { ...minimal, smtpHost: "smtp.example.com", smtpPassword: "pw" },
    "smtpUser",
    /required when smtpPassword/,
  ],
  ["smtpFrom not an address", { ...minimal, smtpFrom: "alerts" }, "smtpFrom", /e-mail/],
  ["offlineAlertMinutes zero", { ...minimal, offlineAlertMinutes: "0" }, "offlineAlertMinutes", /1-1440/],
  [
    "alertRateLimitMinutes fractional",
    { ...minimal, alertRateLimitMinutes: "1.5" },
    "alertRateLimitMinutes",
    /whole number/,
  ],
  ["certValidityDays too long", { ...minimal, certValidityDays: "5000" }, "certValidityDays", /1-3650/],
  [
    "warn days not below validity",
    { ...minimal, certValidityDays: "30", certEarlyRenewalDays: "5", certExpiryWarnDays: "30" },
    "certExpiryWarnDays",
    /less than certValidityDays/,
  ],
  [
    "early renewal not below validity",
    { ...minimal, certValidityDays: "20", certExpiryWarnDays: "5" },
    "certEarlyRenewalDays",
    /less than certValidityDays/,
  ],
  ["certRotation with spaces", { ...minimal, certRotation: "next week" }, "certRotation", /short token/],
  ["revoked id invalid", { ...minimal, revokedDevices: '["Pi#1"]' }, "revokedDevices", /not a device id/],
  [
    "revoked id not in devices",
    { ...withDevices([pi()]), revokedDevices: '["pi9"]' },
    "revokedDevices",
    /not in devices/,
  ],
  ["devices not JSON", { ...minimal, deviceSshPrivateKey: KEY, devices: "[{id: pi1}" }, "devices", /not JSON/],
  ["device id with a wildcard", withDevices([pi({ id: "pi+1" })]), "devices", /not a valid id/],
  ["device id with a slash", withDevices([pi({ id: "a/b" })]), "devices", /not a valid id/],
  ["device id reserved", withDevices([pi({ id: "web" })]), "devices", /reserved/],
  ["duplicate device ids", withDevices([pi(), pi({ host: "192.0.2.22" })]), "devices", /already used/],
  [
    "bridge child reuses a device id",
    withDevices([pi(), pi({ id: "br1", bridge: { lanAddress: "192.0.2.30", children: [{ id: "pi1" }] } })]),
    "devices",
    /already used/,
  ],
  ["device port out of range", withDevices([pi({ port: 0 })]), "devices", /1-65535/],
  ["device port not a number", withDevices([pi({ port: "ssh" })]), "devices", /whole number/],
  ["device host invalid", withDevices([pi({ host: "my pi" })]), "devices", /not a hostname/],
  ["device missing host", withDevices([pi({ host: undefined })]), "devices", /host is required/],
  ["device unknown board", withDevices([pi({ board: "arduino" })]), "devices", /raspberrypi, beaglebone or generic/],
  ["device unknown field", withDevices([pi({ hostname: "x" })]), "devices", /unknown field "hostname"/],
  ["device bad user", withDevices([pi({ user: "Root User" })]), "devices", /Linux user name/],
  ["device bad host key", withDevices([pi({ hostKey: "AAAA" })]), "devices", /host key/],
  [
    "device RSA host key (pinning it would offer only SHA-1 ssh-rsa)",
    withDevices([pi({ hostKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC7 root@pi" })]),
    "devices",
    /RSA key, which provisioning cannot pin .*ssh-keyscan -t ed25519/,
  ],
  [
    "unknown backend type",
    withDevices([pi({ outputs: [{ name: "led", backend: { type: "pwm" } }] })]),
    "devices",
    /led, gpiod, sysfs or simulated/,
  ],
  [
    "bad safeState",
    withDevices([pi({ outputs: [{ name: "led", safeState: "dim", backend: { type: "led", led: "led0" } }] })]),
    "devices",
    /safeState/,
  ],
  [
    "bad output name",
    withDevices([pi({ outputs: [{ name: "LED 1", backend: { type: "led", led: "led0" } }] })]),
    "devices",
    /not a valid name/,
  ],
  [
    "duplicate io names",
    withDevices([pi({ inputs: [{ name: "led", backend: { type: "gpiod", line: "GPIO4" } }] })]),
    "devices",
    /used twice/,
  ],
  [
    "sysfs gpio negative",
    withDevices([pi({ outputs: [{ name: "led", backend: { type: "sysfs", gpio: -1 } }] })]),
    "devices",
    /gpio/,
  ],
  [
    "bridge lanAddress not IPv4",
    withDevices([pi({ bridge: { lanAddress: "lan", children: [] } })]),
    "devices",
    /lanAddress/,
  ],
  [
    "devices without the SSH key",
    { ...minimal, devices: JSON.stringify([pi()]) },
    "deviceSshPrivateKey",
    /required when devices/,
  ],
  [
    "device key not a key",
    { ...withDevices([pi()]), deviceSshPrivateKey: "ssh-ed25519 AAAA" },
    "deviceSshPrivateKey",
    /not a private key/,
  ],
  [
    "an output the board has no default for",
    withDevices([pi({ board: "beaglebone", outputs: ["a", "b", "c", "d", "e"].map((name) => ({ name })) })]),
    "devices",
    /^devices\[0\]\.outputs\[4\]\.backend: output "e" needs a backend \(BeagleBone Black .* has no default for output #5\)/,
  ],
  [
    "a BeagleBone input without a backend",
    withDevices([pi({ board: "beaglebone", inputs: [{ name: "button" }] })]),
    "devices",
    /^devices\[0\]\.inputs\[0\]\.backend: input "button" needs a backend/,
  ],
  [
    "a kernel LED as an input",
    withDevices([pi({ inputs: [{ name: "button", backend: { type: "led", led: "ACT" } }] })]),
    "devices",
    /^devices\[0\]\.inputs\[0\]\.backend: input "button" uses a kernel LED, which is output only/,
  ],
  [
    "led activeLow not a boolean",
    withDevices([pi({ outputs: [{ name: "led", backend: { type: "led", led: "ACT", activeLow: "maybe" } }] })]),
    "devices",
    /activeLow must be true or false/,
  ],
  ["tags with aws: prefix", { ...minimal, tags: '{"aws:owner":"me"}' }, "tags", /aws:/],
  ["tags not an object", { ...minimal, tags: '["a"]' }, "tags", /JSON object/],
  // EC2 API Reference, Tag: keys up to 127 characters (not 128, the limit of some other services).
  ["tag key of 128 characters", { ...minimal, tags: JSON.stringify({ ["k".repeat(128)]: "v" }) }, "tags", /127/],
  [
    "50 tags (the program adds Name: EC2 takes 50)",
    { ...minimal, tags: JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, "v"]))) },
    "tags",
    /at most 49/,
  ],
  ["misspelt key", { ...minimal, adminCidr: '["198.51.100.7/32"]' }, "adminCidr", /did you mean adminCidrs/],
];

describe("parseSettings refuses bad config, naming the key and the fix", () => {
  for (const [name, raw, key, what] of bad) {
    test(`${name} -> names ${key}`, () => {
      const err = problemsOf(raw);
      const p = err.problems.find((x) => x.key === key);
      assert.ok(p, `expected a problem for ${key}, got: ${err.message}`);
      assert.match(`${p.path}: ${p.problem}`, what);
      assert.match(err.message, new RegExp(`${NAMESPACE}:${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      assert.match(p.fix, /^pulumi config (set|rm) /);
    });
  }
  test(`there are at least 30 cases (${bad.length})`, () => assert.ok(bad.length >= 30));
});

describe("ConfigError", () => {
  test("collects every problem of a config in one error", () => {
    const err = problemsOf({ adminCidrs: '["0.0.0.0/0"]', instanceType: "x1.32xlarge", smtpPort: "0", os: "arch" });
    assert.deepEqual(err.keys.sort(), ["adminCidrs", "instanceType", "os", "smtpPort"]);
    assert.match(err.message, /4 problems/);
  });

  test("lists the problems in the key table's order, unknown keys first", () => {
    const err = problemsOf({ tags: "[]", smtpPort: "0", adminCidrs: '["0.0.0.0/0"]', os: "x", adminCidr: "1" });
    assert.deepEqual(err.keys, ["adminCidr", "os", "adminCidrs", "smtpPort", "tags"]);
  });

  test("names the nested path of a device field", () => {
    const err = problemsOf(withDevices([pi(), pi({ id: "pi2", port: 99999 })]));
    assert.equal(err.problems[0]?.path, "devices[1].port");
    assert.match(err.problems[0]?.fix ?? "", /--path 'diy-device-cloud:devices\[1\]\.port'/);
  });

  test("says how to set a secret with --secret", () => {
    const err = problemsOf({ ...minimal, webPassword: "short" });
    assert.match(err.problems[0]?.fix ?? "", /pulumi config set --secret diy-device-cloud:webPassword/);
  });

  test("never echoes a secret value", () => {
    const err = problemsOf({
      ...minimal,
      webPassword: "s3cr3t",
      ddnsUpdateUrl: "http://dyn.example.net/?token=TOPSECRET",
    });
    assert.doesNotMatch(err.message, /s3cr3t|TOPSECRET/);
  });
});

describe("checkCidr", () => {
  test("accepts canonical IPv4 and IPv6 networks", () => {
    assert.deepEqual(checkCidr("10.0.0.0/8"), { ok: true, family: 4, canonical: "10.0.0.0/8" });
    assert.equal(checkCidr("2001:db8::/32").ok, true);
  });
});

describe("integer keys: the range in their row of KEYS", () => {
  const integers = Object.entries(KEYS as Record<string, KeySpec>).filter(
    (e): e is [string, IntegerKeySpec] => e[1].type === "integer",
  );
  /** The key's own range problem for this value, if any (rules between keys may add others). */
  const rangeProblem = (k: string, v: number): string | undefined => {
    try {
      parse_({ ...minimal, [k]: String(v) });
      return undefined;
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.problems.find((p) => p.path === k && /^must be -?\d+-\d+, got/.test(p.problem))?.problem;
    }
  };

  test("each refuses one below its min and one above its max, naming min-max, and accepts both ends", () => {
    assert.ok(integers.length >= 11, `only ${integers.length} integer keys`);
    for (const [k, { min, max }] of integers) {
      for (const v of [min - 1, max + 1]) assert.equal(rangeProblem(k, v), `must be ${min}-${max}, got ${v}`, k);
      for (const v of [min, max]) assert.equal(rangeProblem(k, v), undefined, `${k} ${v}`);
    }
  });

  test("a description that names a range names the row's", () => {
    for (const [k, spec] of integers) {
      const named = /\((\d+)-(\d+)/.exec(spec.description);
      if (named) assert.equal(`${named[1]}-${named[2]}`, `${spec.min}-${spec.max}`, k);
    }
  });
});

describe("Pulumi.yaml config schema", () => {
  const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
    name: string;
    config: Record<string, { type?: string; description?: string; default?: unknown; items?: { type: string } }>;
  };

  test("the project name is the config namespace", () => assert.equal(project.name, NAMESPACE));

  test("declares exactly the keys infra/config.ts reads, each with a description", () => {
    assert.deepEqual(Object.keys(project.config).sort(), Object.keys(KEYS).sort());
    for (const [k, decl] of Object.entries(project.config)) assert.ok(decl.description, `${k} has no description`);
  });

  test("uses only the types Pulumi supports, with items for arrays", () => {
    for (const [k, decl] of Object.entries(project.config)) {
      const spec = (KEYS as Record<string, KeySpec>)[k] as KeySpec;
      if (spec.type === "object") assert.equal(decl.type, undefined, `${k}: Pulumi has no object type`);
      else assert.equal(decl.type, spec.type, k);
      if (decl.type === "array") assert.deepEqual(decl.items, { type: "string" }, k);
    }
  });

  test("gives every optional key the same default as the program (required ones none)", () => {
    for (const [k, decl] of Object.entries(project.config)) {
      const spec = (KEYS as Record<string, KeySpec>)[k] as KeySpec;
      if (spec.required) assert.equal("default" in decl, false, `${k} is required: a default would hide it`);
      else assert.deepEqual(decl.default, spec.default ?? "", k);
    }
  });

  test("does not mark optional secrets secret: Pulumi would refuse their unset default", () => {
    for (const k of SECRET_KEYS) assert.notEqual((project.config[k] as { secret?: boolean }).secret, true, k);
  });
});

describe("README Configuration section", () => {
  test("documents every config key with an example", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Stack outputs"));
    for (const k of Object.keys(KEYS)) assert.match(section, new RegExp(`\\| \`${k}\` \\|`), `README lacks ${k}`);
  });
});
