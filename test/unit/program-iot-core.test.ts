// The DeviceCloud with `broker: iot-core` under mocks (AWS IoT's rules: aws-iot-double.ts, infra/aws-rules.ts): one
// thing, certificate, policy set and exclusive attachment per identity, the policies exactly renderIotPolicies',
// a revoked device's certificate inactive, the web app's instance role with only the retained-message reads, no
// MQTT port on the security group, the endpoint and Amazon's roots in what the server and the boards receive, and no
// private key in a plain input or output. The same stack with mosquitto has none of it.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { bridgeIdentity, iotNamePrefix, iotThingName } from "../../protocol";
import { iotCoreCaBundle } from "../../infra/amazon-root-ca";
import { LONGEST_IOT_ARN } from "../../infra/config/iot-core";
import { iotIdentities, renderIotPolicies } from "../../infra/render/iot-policy";
import { RETIRE_MOSQUITTO_SERVICE } from "../../infra/render/server-files";
import { stackAclModel } from "../../infra/stack-acl";
import { MOCK_ACCOUNT, MOCK_ENDPOINT_ID } from "./aws-iot-double";
import { planSteps } from "./program-replacement";
import {
  type Deployment,
  deployCloud,
  fullExampleRaw,
  MOCK_REGION,
  type Recorded,
  secretLeaks,
  value,
} from "./program-harness";

const PREFIX = iotNamePrefix("diy-device-cloud", "dev");
const ENDPOINT = `${MOCK_ENDPOINT_ID}-ats.iot.${MOCK_REGION}.amazonaws.com`;
const CTX = { partition: "aws", region: MOCK_REGION, accountId: MOCK_ACCOUNT };

/**
 * The full example (a Pi, a BeagleBone, a bridge with a child) with one board revoked, Home Assistant off: with
 * broker iot-core the config refuses it (config-broker.test.ts).
 */
const iotRaw = () => {
  const raw = fullExampleRaw();
  const ids = (JSON.parse(String(raw.devices)) as { id: string }[]).map((d) => d.id);
  return {
    ...raw,
    broker: "iot-core",
    integrations: '{"homeAssistant":{"enabled":false}}',
    revokedDevices: JSON.stringify([ids[1]]),
  };
};

const IOT_TYPES = [
  "aws:iot/thing:Thing",
  "aws:iot/certificate:Certificate",
  "aws:iot/policy:Policy",
  "aws:iot/policyAttachment:PolicyAttachment",
  "aws:iot/thingPrincipalAttachment:ThingPrincipalAttachment",
  "aws:iam/instanceProfile:InstanceProfile",
];

/** Resources under one diy:iot:Identity, by the component's name (its children carry it as prefix). */
const under = (d: Deployment, type: string, component: string) =>
  d.h.ofType(type).filter((r) => r.name === component || r.name.startsWith(`${component}-`));

/** The text with every run of base64 lines (the payload's and the push's files) decoded beside it. */
const readable = (text: string) =>
  [
    text,
    ...(text.match(/(?:^[A-Za-z0-9+/]+={0,2}\n)+/gm) ?? []).map((run) => Buffer.from(run, "base64").toString()),
  ].join("\n");

/** The statements of a policy set, one (effect, action, resource) line each: what it grants, however it is split. */
const grants = (docs: { Statement: { Effect: string; Action: string[]; Resource: string[] }[] }[]) =>
  [
    ...new Set(
      docs.flatMap((doc) =>
        doc.Statement.flatMap((st) => st.Action.flatMap((a) => st.Resource.map((r) => `${st.Effect} ${a} ${r}`))),
      ),
    ),
  ].sort();

const ingressPorts = (d: Deployment) =>
  d.h.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => r.inputs.fromPort as number);
const egressPorts = (d: Deployment) =>
  d.h.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((r) => r.inputs.fromPort as number);

describe("DeviceCloud with broker iot-core (the full example, one board revoked)", () => {
  let d: Deployment;
  let revoked: string;
  let expected: ReturnType<typeof iotIdentities>;
  before(async () => {
    d = await deployCloud(iotRaw());
    revoked = d.settings.revokedDevices[0] as string;
    expected = iotIdentities(stackAclModel(d.settings), PREFIX);
  });

  test("one thing per identity (web, each board, the bridge connection), named <prefix>:<identity>", () => {
    const identities = [
      "web",
      ...d.settings.devices.map((x) => x.id),
      ...d.settings.devices.filter((x) => x.bridge).map((x) => bridgeIdentity(x.id)),
    ];
    assert.deepEqual(
      d.h
        .ofType("aws:iot/thing:Thing")
        .map((r) => r.inputs.name)
        .sort(),
      identities.map((i) => iotThingName(PREFIX, i)).sort(),
    );
    assert.equal(d.h.ofType("diy:iot:Identity").length, identities.length);
  });

  test("each identity: one certificate from its own P-256 CSR, attached exclusively to its thing", () => {
    for (const c of d.h.ofType("diy:iot:Identity")) {
      const [cert, ...moreCerts] = under(d, "aws:iot/certificate:Certificate", c.name);
      const [csr] = under(d, "tls:index/certRequest:CertRequest", c.name);
      const [key] = under(d, "tls:index/privateKey:PrivateKey", c.name);
      const [thing] = under(d, "aws:iot/thing:Thing", c.name);
      const [tpa, ...moreTpa] = under(d, "aws:iot/thingPrincipalAttachment:ThingPrincipalAttachment", c.name);
      assert.ok(cert && csr && key && thing && tpa, c.name);
      assert.equal(moreCerts.length + moreTpa.length, 0, c.name);
      assert.equal(key.inputs.ecdsaCurve, "P256");
      assert.equal(cert.inputs.csr, csr.state.certRequestPem);
      assert.equal(tpa.inputs.thing, thing.inputs.name);
      assert.equal(tpa.inputs.principal, cert.state.arn);
      assert.equal(tpa.inputs.thingPrincipalType, "EXCLUSIVE_THING");
    }
  });

  test("the policies attached to each certificate are renderIotPolicies' documents for that identity", () => {
    const byThing = new Map(expected.map((x) => [x.thingName, x]));
    for (const c of d.h.ofType("diy:iot:Identity")) {
      const [thing] = under(d, "aws:iot/thing:Thing", c.name);
      const [cert] = under(d, "aws:iot/certificate:Certificate", c.name);
      const id = byThing.get(thing?.inputs.name);
      assert.ok(id && cert, c.name);
      const policies = under(d, "aws:iot/policy:Policy", c.name);
      const docs = policies.map((p) => JSON.parse(p.inputs.policy));
      // Split as at the longest ARN prefix (the count is fixed before the account is known), granting the same.
      assert.deepEqual(docs, renderIotPolicies(CTX, id, { packAs: LONGEST_IOT_ARN }), id.identity);
      assert.deepEqual(grants(docs), grants(renderIotPolicies(CTX, id)), id.identity);
      const attached = under(d, "aws:iot/policyAttachment:PolicyAttachment", c.name);
      assert.deepEqual(
        attached.map((a) => [a.inputs.policy, a.inputs.target]),
        policies.map((p) => [p.inputs.name, cert.state.arn]),
      );
    }
  });

  test("a revoked board's certificate is inactive (and its policy denies everything); every other one is active", () => {
    for (const cert of d.h.ofType("aws:iot/certificate:Certificate")) {
      const isRevoked = cert.name.endsWith(`-client-${revoked}`) || cert.name.endsWith(`-bridge-${revoked}`);
      assert.equal(cert.inputs.active, !isRevoked, cert.name);
    }
    const policies = d.h.ofType("aws:iot/policy:Policy").filter((p) => p.name.includes(`-client-${revoked}-`));
    assert.deepEqual(
      policies.map((p) => JSON.parse(p.inputs.policy).Statement),
      [[{ Effect: "Deny", Action: ["iot:*"], Resource: ["*"] }]],
    );
  });

  test("the web app's instance role may only list and get retained messages, GetRetainedMessage on the device topics", () => {
    const [role] = d.h.ofType("aws:iam/role:Role").filter((r) => r.name.endsWith("-iot-web"));
    assert.ok(role);
    assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "ec2.amazonaws.com" });
    const policies = d.h.ofType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === role.state.name);
    assert.equal(policies.length, 1);
    const attachments = d.h
      .ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
      .filter((a) => a.inputs.role === role.state.name);
    assert.equal(attachments.length, 0, "no managed policy on the web role");
    const doc = JSON.parse(policies[0]?.inputs.policy);
    const topic = (t: string) => `arn:aws:iot:${MOCK_REGION}:${MOCK_ACCOUNT}:topic/${t}`;
    assert.deepEqual(doc.Statement, [
      {
        Effect: "Allow",
        Action: ["iot:GetRetainedMessage"],
        Resource: [topic("devices/*/out/*/state"), topic("devices/*/status"), topic("devices/*/sensor/*")],
      },
      { Effect: "Allow", Action: ["iot:ListRetainedMessages"], Resource: ["*"] },
    ]);
    const [profile] = d.h.ofType("aws:iam/instanceProfile:InstanceProfile");
    assert.equal(profile?.inputs.role, role.state.name);
    const [instance] = d.h.ofType("aws:ec2/instance:Instance");
    assert.equal(instance?.inputs.iamInstanceProfile, profile?.state.name);
  });

  test("the security group opens no MQTT port; the web app may dial the endpoint's 8883 out", () => {
    assert.deepEqual([...new Set(ingressPorts(d))].sort(), [22, 443, 80].sort());
    assert.ok(egressPorts(d).includes(8883));
    const [sg] = d.h.ofType("aws:ec2/securityGroup:SecurityGroup");
    assert.doesNotMatch(sg?.inputs.description, /MQTT/);
  });

  test("the stack outputs name the ATS endpoint; boards get it, Amazon's roots and their thing's certificate", async () => {
    assert.equal(await value(d.cloud.brokerEndpoint), `${ENDPOINT}:8883`);
    // What npm run verify reads to check the endpoint instead of the server's 8883 (scripts/verify/outputs.ts).
    assert.equal(d.cloud.broker, "iot-core");
    const certs = new Map(
      d.h.ofType("aws:iot/certificate:Certificate").map((c) => [c.name, c.state.certificatePem as string]),
    );
    for (const dev of d.cloud.devices) {
      const install = d.h.ofType("command:remote:Command").find((r) => r.name === `iot-device-${dev.deviceId}-install`);
      const stdin = readable(String(install?.inputs.stdin));
      assert.ok(stdin.includes(ENDPOINT), dev.deviceId);
      assert.ok(stdin.includes(iotThingName(PREFIX, dev.deviceId)), dev.deviceId);
      const ca = iotCoreCaBundle().split("-----END CERTIFICATE-----")[0] as string;
      assert.ok(stdin.includes(ca.trim().split("\n")[1] as string), `${dev.deviceId}: Amazon Root CA`);
      const own = certs.get(`iot-iot-client-${dev.deviceId}`) as string;
      assert.ok(stdin.includes(own.split("\n")[1] as string), `${dev.deviceId}: its AWS IoT certificate`);
    }
  });

  test("the server's push installs nothing of mosquitto, and the web app's config names the endpoint and prefix", () => {
    const push = d.h.ofType("command:remote:Command").find((r) => r.name.endsWith("-push"));
    const stdin = String(push?.inputs.stdin ?? "");
    // mosquitto is named only where the push retires what a mosquitto push left on a switched server.
    const named = stdin.split("\n").filter((l) => /mosquitto/i.test(l));
    assert.ok(named.length > 0);
    for (const l of named) assert.ok(l.startsWith("  remove ") || l.includes(RETIRE_MOSQUITTO_SERVICE), l);
    const script = readable(String(push?.inputs.create ?? "") + stdin);
    assert.doesNotMatch(script, /acl_file|crlfile|require_certificate/);
    assert.ok(script.includes(ENDPOINT));
    assert.ok(script.includes(PREFIX));
  });

  test("no stack-CA client certificate, serial ledger or CRL is made for MQTT identities", () => {
    const cns = d.h.ofType("tls:index/certRequest:CertRequest").map((r) => r.inputs.subject.commonName as string);
    const ca = d.h.ofType("tls:index/locallySignedCert:LocallySignedCert").map((r) => r.name);
    assert.ok(!ca.some((n) => /-client-(?!web$)|-bridge-/.test(n)), ca.join());
    assert.ok(cns.length > 0);
    assert.equal(d.h.ofType("pulumi:index:Stash").filter((r) => r.name.includes("ledger")).length, 0);
  });

  test("no private key or secret in any plain input (state, preview), user data or plain output", async () => {
    const plain = d.h.resources.map((r: Recorded) => JSON.stringify(r.plainInputs)).join("\n");
    assert.deepEqual(secretLeaks(plain), []);
    const [instance] = d.h.ofType("aws:ec2/instance:Instance");
    assert.deepEqual(secretLeaks(String(instance?.inputs.userData)), []);
    assert.doesNotMatch(String(instance?.inputs.userData), /mosquitto/);
    for (const o of [d.cloud.webUrl, d.cloud.brokerEndpoint, d.cloud.caCertPem, d.cloud.homeAssistant?.certPem])
      assert.deepEqual(secretLeaks(String(await value(o))), []);
  });
});

describe("the same stack with broker mosquitto", () => {
  let d: Deployment;
  before(async () => {
    d = await deployCloud({ ...iotRaw(), broker: "mosquitto" });
  });

  test("creates no AWS IoT resource, no instance role, and keeps 8883 open", () => {
    for (const t of IOT_TYPES) assert.equal(d.h.ofType(t).length, 0, t);
    assert.equal(d.h.ofType("diy:iot:Identity").length, 0);
    const [instance] = d.h.ofType("aws:ec2/instance:Instance");
    assert.equal(instance?.inputs.iamInstanceProfile, undefined);
    assert.ok(ingressPorts(d).includes(8883));
    assert.ok(!egressPorts(d).includes(8883));
    assert.equal(d.cloud.broker, "mosquitto");
  });
});

describe("switching a deployed stack between the brokers (README: Two brokers)", () => {
  // cloud-init installs the user data's packages once, at the first boot, and the user data installs mosquitto only
  // with broker mosquitto: a switch launches a fresh server (infra/server.ts serverImageKey), in both directions,
  // on the same Elastic IP and history volume, and updates every board's install in place.
  const switching = async (from: string, to: string) => {
    const raw = { ...iotRaw(), broker: from };
    const before = await deployCloud(raw);
    const after = await deployCloud({ ...raw, broker: to }, { world: { previous: before.h.resources } });
    const steps = planSteps(before.h.resources, after.h.resources);
    const op = (type: string) => steps.filter((x) => x.type === type).map((x) => `${x.name} ${x.op}`);
    const launch = after.h.ofType("pulumi:index:Stash")[0];
    return { before, after, steps, op, userData: String(launch?.inputs.input?.userData ?? "") };
  };

  for (const [from, to] of [
    ["mosquitto", "iot-core"],
    ["iot-core", "mosquitto"],
  ] as const) {
    test(`${from} -> ${to}: a fresh server on the same address and history volume; every board's install updated in place`, async () => {
      const { before, steps, op, userData } = await switching(from, to);
      const [server] = steps.filter((x) => x.type === "aws:ec2/instance:Instance");
      assert.equal(server?.op, "replace", JSON.stringify(server));
      assert.ok(server?.replaceBecause.includes("replacementTrigger"), "the preview names the trigger");
      assert.deepEqual(op("pulumi:index:Stash"), ["iot-server-launch replace"]);
      // The fresh server's user data installs mosquitto exactly when the stack now runs it.
      assert.equal(/^ {2}- mosquitto$/m.test(userData), to === "mosquitto", userData);
      for (const t of ["aws:ec2/eip:Eip", "aws:ebs/volume:Volume", "tls:index/selfSignedCert:SelfSignedCert"])
        assert.ok(
          op(t).every((x) => x.endsWith(" same")),
          `${t}: ${op(t).join()}`,
        );
      // No uninstall on a board: its install is updated (new endpoint, roots, certificate), never replaced.
      const installs = steps.filter((x) => x.type === "command:remote:Command" && x.name.endsWith("-install"));
      assert.equal(installs.length, before.cloud.devices.length);
      for (const x of installs) assert.equal(x.op, "update", x.name);
      const things = op("aws:iot/thing:Thing");
      assert.ok(things.length > 0);
      assert.ok(
        things.every((x) => x.endsWith(to === "iot-core" ? " create" : " delete")),
        things.join(),
      );
    });
  }
});
