// The DeviceCloud component under mocks with several stack configs: resource graph and security invariants.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bridgeIdentity } from "../../protocol";
import { LEDGER_SCRIPT } from "../../infra/render/serial-ledger";
import { OS_CHOICES } from "../../infra/config";
import { AMI_OWNERS, amiNamePattern } from "../../infra/server";
import { parse as parseYaml } from "yaml";
import {
  deployCloud,
  type Harness,
  fullExampleRaw,
  isSecret,
  MOCK_IP,
  SECRET_MARKER,
  secretLeaks,
  settle,
  TEST_SSH_KEY,
  value,
} from "./program-harness";

const devRaw = fullExampleRaw;

/** Three stacks: the dev example, a minimal one, and an arm64 Ubuntu one with a domain and a given password. */
const STACKS: Record<string, () => Record<string, unknown>> = {
  dev: devRaw,
  minimal: () => ({ adminCidrs: '["198.51.100.7/32"]' }),
  "arm-ubuntu-domain": () => ({
    adminCidrs: '["198.51.100.0/24","2001:db8::/48"]',
    instanceType: "t4g.small",
    os: "ubuntu2404",
    domain: "iot.example.com",
    letsEncryptEmail: "you@example.com",
    webPassword: `${SECRET_MARKER}-given-password`,
    ddnsUpdateUrl: `https://dyn.example.net/update?token=${SECRET_MARKER}`,
    certRotation: "2026-11",
    deviceSshPrivateKey: TEST_SSH_KEY,
    devices: JSON.stringify([
      {
        id: "bbb7",
        host: "bbb7.lan",
        board: "beaglebone",
        outputs: [{ name: "led", backend: { type: "led", led: "beaglebone:green:usr3" } }],
      },
    ]),
    tags: '{"owner":"me"}',
  }),
};

const build = (name: string, raw: Record<string, unknown>) => deployCloud(raw, { name });

const one = (h: Harness, type: string) => {
  const rs = h.ofType(type);
  assert.equal(rs.length, 1, `expected one ${type}, got ${rs.length}`);
  return rs[0] as NonNullable<(typeof rs)[0]>;
};

// The server push; the other remote commands are the devices' installs (infra/devices.ts).
const pushes = (h: Harness) => h.ofType("command:remote:Command").filter((r) => r.name.endsWith("-push"));

for (const [stack, raw] of Object.entries(STACKS)) {
  describe(`DeviceCloud with the ${stack} stack config`, () => {
    let ctx: Awaited<ReturnType<typeof build>>;
    test("builds without errors", async () => {
      ctx = await build(`t-${stack}`, raw());
    });

    test("registers the component type diy:index:DeviceCloud", () => {
      assert.equal(ctx.h.ofType("diy:index:DeviceCloud").length, 1);
    });

    test("has one EIP, instance, association, security group and push", () => {
      for (const t of [
        "aws:ec2/eip:Eip",
        "aws:ec2/instance:Instance",
        "aws:ec2/eipAssociation:EipAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
      ])
        one(ctx.h, t);
      assert.equal(pushes(ctx.h).length, 1);
    });

    test("the admin key reaches the login user through cloud-init, not an EC2 key pair the instance names", async () => {
      assert.equal(ctx.h.ofType("aws:ec2/keyPair:KeyPair").length, 0);
      const inst = one(ctx.h, "aws:ec2/instance:Instance");
      assert.equal(inst.inputs.keyName, undefined);
      const adminKey = ctx.h.ofType("tls:index/privateKey:PrivateKey").find((k) => k.name.endsWith("admin-ssh"));
      assert.ok(adminKey);
      const doc = parseYaml(String(inst.inputs.userData)) as { ssh_authorized_keys?: string[] };
      assert.deepEqual(doc.ssh_authorized_keys, [adminKey.state.publicKeyOpenssh.trim()]);
    });

    test("the instance and the push wait for every security group rule (egress before apt, 22 before SSH)", () => {
      const rules = [
        ...ctx.h.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
        ...ctx.h.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
      ];
      assert.ok(rules.length >= 8);
      for (const r of [one(ctx.h, "aws:ec2/instance:Instance"), ...pushes(ctx.h)]) {
        const deps = r.options.dependencies;
        for (const rule of rules)
          assert.ok(
            deps.some((u) => u.endsWith(`::${rule.name}`)),
            `${r.name} does not wait for ${rule.name}`,
          );
      }
    });

    test("remembers every issued client serial in a local command handed its previous stdout (no triggers: a replace would forget)", () => {
      const ledgers = ctx.h.ofType("command:local:Command").filter((r) => r.name.endsWith("-issued-serials"));
      if (ctx.settings.devices.length === 0) return assert.deepEqual(ledgers, []);
      assert.equal(ledgers.length, 1);
      const l = ledgers[0];
      assert.ok(l);
      assert.deepEqual(l.inputs.interpreter, ["node", "-e"]);
      assert.equal(l.inputs.create, LEDGER_SCRIPT);
      assert.equal(l.inputs.update, LEDGER_SCRIPT);
      assert.equal(l.inputs.addPreviousOutputInEnv, true);
      assert.equal(l.inputs.triggers, undefined);
      assert.equal(typeof l.inputs.stdin, "string");
    });

    test("issues one client certificate per device and per bridge connection, plus server and web (and Home Assistant when on)", () => {
      const certs = ctx.h.ofType("tls:index/locallySignedCert:LocallySignedCert");
      const bridges = ctx.settings.devices.filter((d) => d.bridge);
      const ha = ctx.settings.integrations.homeAssistant;
      assert.equal(certs.length, ctx.settings.devices.length + bridges.length + 2 + (ha ? 1 : 0));
      const cns = ctx.h.ofType("tls:index/certRequest:CertRequest").map((r) => r.inputs.subject.commonName as string);
      for (const d of ctx.settings.devices) assert.ok(cns.includes(d.id), `no certificate for ${d.id}`);
      for (const b of bridges) assert.ok(cns.includes(bridgeIdentity(b.id)), `no bridge certificate for ${b.id}`);
      assert.ok(cns.includes("web"));
      assert.equal(cns.includes("homeassistant"), ha);
      assert.equal(ctx.cloud.homeAssistant !== undefined, ha);
      // Bridge children talk plain MQTT to their bridge: no certificate of their own.
      for (const d of ctx.settings.devices) for (const c of d.bridge?.children ?? []) assert.ok(!cns.includes(c.id));
    });

    test("makes every key ECDSA P-256 (not the provider's P-224 default), the admin key ED25519", () => {
      for (const k of ctx.h.ofType("tls:index/privateKey:PrivateKey")) {
        if (k.name.endsWith("admin-ssh")) assert.equal(k.inputs.algorithm, "ED25519");
        else assert.deepEqual([k.inputs.algorithm, k.inputs.ecdsaCurve], ["ECDSA", "P256"], k.name);
      }
    });

    test("puts the Elastic IP, localhost and 127.0.0.1 into the server certificate", () => {
      const csr = ctx.h.ofType("tls:index/certRequest:CertRequest").find((r) => r.name.endsWith("-server"));
      assert.ok(csr);
      assert.ok(csr.inputs.ipAddresses.includes(MOCK_IP));
      assert.ok(csr.inputs.ipAddresses.includes("127.0.0.1"));
      assert.ok(csr.inputs.dnsNames.includes("localhost"));
      if (ctx.settings.domain) assert.ok(csr.inputs.dnsNames.includes(ctx.settings.domain));
    });

    test("carries the certRotation token in every certificate request and the configured validity", () => {
      for (const r of ctx.h.ofType("tls:index/certRequest:CertRequest")) {
        assert.equal(r.inputs.subject.organizationalUnit, `rotation ${ctx.settings.certRotation}`);
      }
      for (const c of ctx.h.ofType("tls:index/locallySignedCert:LocallySignedCert")) {
        assert.equal(c.inputs.validityPeriodHours, ctx.settings.certValidityDays * 24);
        assert.equal(c.inputs.earlyRenewalHours, ctx.settings.certEarlyRenewalDays * 24);
      }
      const server = ctx.h
        .ofType("tls:index/locallySignedCert:LocallySignedCert")
        .find((r) => r.name.endsWith("-server"));
      assert.deepEqual(server?.inputs.allowedUses, ["digital_signature", "server_auth"]);
    });

    test("attaches the security group to the instance and the EIP to the instance", () => {
      const sg = one(ctx.h, "aws:ec2/securityGroup:SecurityGroup");
      const inst = one(ctx.h, "aws:ec2/instance:Instance");
      assert.deepEqual(inst.inputs.vpcSecurityGroupIds, [`${sg.name}-id`]);
      const assoc = one(ctx.h, "aws:ec2/eipAssociation:EipAssociation");
      assert.equal(assoc.inputs.instanceId, `${inst.name}-id`);
      assert.equal(assoc.inputs.allocationId, `eipalloc-${one(ctx.h, "aws:ec2/eip:Eip").name}`);
    });

    test("opens only 22 (admin CIDRs), 80, 443 and 8883; 22 never to the world", () => {
      const rules = ctx.h.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
      const ports = new Set(rules.map((r) => r.inputs.fromPort));
      assert.deepEqual(
        [...ports].sort((a, b) => a - b),
        [22, 80, 443, 8883],
      );
      for (const r of rules) assert.equal(r.inputs.fromPort, r.inputs.toPort);
      const ssh = rules.filter((r) => r.inputs.fromPort === 22);
      assert.deepEqual(
        ssh.map((r) => r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6).sort(),
        [...ctx.settings.adminCidrs].sort(),
      );
      for (const r of ssh) assert.ok(!["0.0.0.0/0", "::/0"].includes(r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6));
      assert.equal(ctx.h.ofType("aws:ec2/securityGroup:SecurityGroup")[0]?.inputs.ingress, undefined);
    });

    test("allows only HTTP(S) and the SMTP relay port out", () => {
      const ports = new Set(
        ctx.h.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((r) => r.inputs.fromPort),
      );
      const expected = [80, 443, ...(ctx.settings.smtpHost ? [ctx.settings.smtpPort] : [])];
      assert.deepEqual(
        [...ports].sort((a, b) => a - b),
        expected.sort((a, b) => a - b),
      );
    });

    test("requires IMDSv2, encrypts the root volume, ignores AMI changes", () => {
      const inst = one(ctx.h, "aws:ec2/instance:Instance");
      assert.equal(inst.inputs.metadataOptions.httpTokens, "required");
      assert.equal(inst.inputs.rootBlockDevice.encrypted, true);
      assert.equal(inst.inputs.instanceType, ctx.settings.instanceType);
    });

    test("looks the AMI up with the official owner and the instance type's architecture", () => {
      const call = ctx.h.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
      assert.ok(call);
      assert.deepEqual(call.inputs.owners, [ctx.settings.os.startsWith("debian") ? "136693071363" : "099720109477"]);
      const arch = call.inputs.filters.find((f: { name: string }) => f.name === "architecture").values;
      assert.deepEqual(arch, [ctx.settings.instanceType.startsWith("t4g") ? "arm64" : "x86_64"]);
      const name = call.inputs.filters.find((f: { name: string }) => f.name === "name").values[0] as string;
      const pattern = { debian13: /^debian-13-/, debian12: /^debian-12-/, ubuntu2404: /ubuntu-noble-24\.04/ };
      assert.match(name, pattern[ctx.settings.os]);
    });

    test("keeps user data free of secrets and under EC2's 16 KB", () => {
      const userData = one(ctx.h, "aws:ec2/instance:Instance").inputs.userData as string;
      assert.match(userData, /^#cloud-config/);
      assert.ok(Buffer.byteLength(userData) <= 16 * 1024, `${Buffer.byteLength(userData)} bytes`);
      assert.deepEqual(secretLeaks(userData), []);
    });

    test("pushes over SSH to the EIP as the AMI's admin user, script on stdin, nothing logged", async () => {
      const push = pushes(ctx.h)[0];
      assert.ok(push);
      assert.equal(push.inputs.connection.host, MOCK_IP);
      assert.equal(push.inputs.connection.user, ctx.settings.adminUser);
      assert.match(push.inputs.connection.privateKey, /OPENSSH PRIVATE KEY/);
      assert.equal(push.inputs.logging, "none");
      assert.doesNotMatch(push.inputs.create, /PRIVATE/);
      assert.deepEqual(secretLeaks(push.inputs.create), []);
      assert.match(push.inputs.stdin, /cloud-init/);
      assert.match(push.inputs.stdin, /\/etc\/mosquitto\/certs\/server\.key/);
      // Only a new instance replaces the push; content changes reach it through stdin (an update).
      assert.deepEqual(push.inputs.triggers, [`t-${stack}-server-id`], "the instance id (mock ids are <name>-id)");
      assert.ok(push.secretInputs.includes("stdin"), "stdin is not a secret");
      assert.ok(push.secretInputs.includes("connection"), "the connection (private key) is not a secret");
    });

    test("exposes plain outputs without secrets, and the admin key and password only as secrets", async () => {
      for (const o of [
        ctx.cloud.webUrl,
        ctx.cloud.brokerEndpoint,
        ctx.cloud.publicIp,
        ctx.cloud.sshCommand,
        ctx.cloud.caCertPem,
      ]) {
        assert.equal(await isSecret(o), false);
        assert.deepEqual(secretLeaks(await value(o)), []);
      }
      assert.equal(await isSecret(ctx.cloud.adminPrivateKey), true);
      assert.equal(await isSecret(ctx.cloud.webPassword), true);
      const host = ctx.settings.domain ?? MOCK_IP;
      assert.equal(await value(ctx.cloud.webUrl), `https://${host}`);
      assert.equal(await value(ctx.cloud.brokerEndpoint), `${host}:8883`);
      assert.equal(await value(ctx.cloud.sshCommand), `ssh -i admin.key ${ctx.settings.adminUser}@${MOCK_IP}`);
    });

    test("generates a web password only when none is configured", () => {
      const generated = ctx.h
        .ofType("random:index/randomPassword:RandomPassword")
        .filter((r) => r.name.endsWith("web-password"));
      assert.equal(generated.length, ctx.settings.webPassword ? 0 : 1);
      assert.equal(ctx.cloud.webPasswordGenerated, !ctx.settings.webPassword);
    });

    test("parents every resource under the component (tagged where AWS takes tags)", () => {
      for (const t of ["aws:ec2/instance:Instance", "aws:ec2/eip:Eip", "aws:ec2/securityGroup:SecurityGroup"]) {
        const r = one(ctx.h, t);
        for (const [k, v] of Object.entries(ctx.settings.tags)) assert.equal(r.inputs.tags[k], v, `${t} tag ${k}`);
      }
    });
  });
}

describe("certificate rotation", () => {
  test("a new certRotation changes every certificate request (so every CA-signed certificate is replaced)", async () => {
    const subjects = async (rotation: string) => {
      const { h } = await build(`rot-${rotation}`, { ...devRaw(), certRotation: rotation });
      return h.ofType("tls:index/certRequest:CertRequest").map((r) => JSON.stringify(r.inputs.subject));
    };
    const a = await subjects("1");
    const b = await subjects("2");
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) assert.notEqual(a[i], b[i]);
  });
});

// Integration of infra/devices.ts (provisioning): one device component per configured board.
describe("DeviceCloud provisions every configured device", () => {
  test("one diy:device:Device per device, installed after the push, with secrets only in secret inputs", async () => {
    const { h, cloud, settings } = await build("t-devices", devRaw());
    await Promise.all(cloud.devices.map((d) => value(d.install.urn)));
    await settle();
    assert.deepEqual(
      h.ofType("diy:device:Device").map((r) => r.name),
      settings.devices.map((d) => `t-devices-device-${d.id}`),
    );
    const installs = h.ofType("command:remote:Command").filter((r) => r.name.endsWith("-install"));
    assert.equal(installs.length, settings.devices.length);
    for (const cmd of installs) {
      assert.ok(cmd.secretInputs.includes("stdin") && cmd.secretInputs.includes("connection"), cmd.name);
      assert.match(cmd.inputs.stdin, /^#diy-device-payload v1$/m);
      const { stdin: _s, connection: _c, ...plain } = cmd.inputs;
      assert.deepEqual(secretLeaks(JSON.stringify(plain)), [], cmd.name);
    }
    const passwords = await value(cloud.bridgeLanPasswords);
    assert.deepEqual(Object.keys(passwords), ["bridge1"]);
    assert.deepEqual(Object.keys(passwords.bridge1 ?? {}), ["arduino1"]);
    assert.equal(await isSecret(cloud.bridgeLanPasswords), true);
  });
});

describe("server images", () => {
  test("Debian 13 (default), Debian 12 and Ubuntu 24.04 from their official owners, per architecture", () => {
    assert.deepEqual(
      OS_CHOICES.flatMap((os) =>
        (["x86_64", "arm64"] as const).map((arch) => `${AMI_OWNERS[os]} ${amiNamePattern(os, arch)}`),
      ),
      [
        "136693071363 debian-13-amd64-*",
        "136693071363 debian-13-arm64-*",
        "136693071363 debian-12-amd64-*",
        "136693071363 debian-12-arm64-*",
        "099720109477 ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
        "099720109477 ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*",
      ],
    );
  });
});
