// infra/aws-rules.ts: EC2's documented limits for names, descriptions and tags, checked on their own and on
// every name, description and tag the program sends (the same rules refuse resources in the Pulumi mocks).
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { awsRefusals, EC2_TEXT_CHARS, ec2TextProblem, tagProblems } from "../../infra/aws-rules";
import { PUBLIC_PORTS } from "../../infra/network";

test("security group texts: only a-zA-Z0-9. _-:/()#,@[]+=&;{}!$* and at most 255 characters", () => {
  assert.equal(ec2TextProblem("HTTPS: package mirrors, ACME (Lets Encrypt), dynamic DNS"), undefined);
  assert.equal(ec2TextProblem(EC2_TEXT_CHARS), undefined);
  assert.match(ec2TextProblem("Let's Encrypt") ?? "", /"'"/);
  assert.match(ec2TextProblem("HTTP → HTTPS") ?? "", /"→"/);
  assert.match(ec2TextProblem('quote " and <tag>') ?? "", /"\\"".*"<".*">"/);
  assert.equal(ec2TextProblem("x".repeat(255)), undefined);
  assert.match(ec2TextProblem("x".repeat(256)) ?? "", /256 characters long; at most 255/);
});

test("property: a text is accepted exactly when every character is in EC2's set and it fits 255", () => {
  const allowed = new Set(EC2_TEXT_CHARS.replace("a-zA-Z0-9", ""));
  const ok = (c: string) => /[a-zA-Z0-9]/.test(c) || allowed.has(c);
  fc.assert(
    fc.property(fc.string({ maxLength: 300, unit: "binary" }), (s) => {
      const expected = [...s].length <= 255 && [...s].every(ok);
      assert.equal(ec2TextProblem(s) === undefined, expected, JSON.stringify(s));
    }),
  );
});

test("tags: key 1-127 characters without aws:, value up to 256 (EC2 API Reference, Tag)", () => {
  assert.deepEqual(tagProblems("project", "diy-device-cloud"), []);
  assert.deepEqual(tagProblems("k".repeat(127), "v".repeat(256)), []);
  assert.match(tagProblems("k".repeat(128), "v").join(), /longer than 127/);
  assert.match(tagProblems("k", "v".repeat(257)).join(), /longer than 256/);
  assert.match(tagProblems("AWS:owner", "me").join(), /reserved aws: prefix/);
  assert.match(tagProblems("", "v").join(), /empty/);
  // Unicode characters, not UTF-16 units: 127 emoji are 254 code units and still a valid key.
  assert.deepEqual(tagProblems("🙂".repeat(127), ""), []);
});

test("the refusals name EC2's error code: a rule description with an apostrophe, 51 tags, a group named sg-", () => {
  const rule = awsRefusals("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {
    description: "HTTP: Let's Encrypt",
  });
  assert.equal(rule.length, 1);
  assert.equal(rule[0]?.code, "InvalidParameterValue");
  assert.match(rule[0]?.message ?? "", /^Invalid rule description\. Valid descriptions are strings less than 256/);
  const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, "v"]));
  assert.deepEqual(
    awsRefusals("aws:ec2/eip:Eip", { tags }).map((r) => r.code),
    ["TagLimitExceeded"],
  );
  const sg = awsRefusals("aws:ec2/securityGroup:SecurityGroup", { name: "sg-web", description: "ok" });
  assert.deepEqual(
    sg.map((r) => r.code),
    ["InvalidGroup.Reserved"],
  );
  assert.match(
    awsRefusals("aws:ec2/securityGroup:SecurityGroup", { description: "Bob's group" })[0]?.message ?? "",
    /^Invalid security group description/,
  );
  assert.match(
    awsRefusals("aws:ec2/instance:Instance", { userData: "x".repeat(16 * 1024 + 1) })[0]?.message ?? "",
    /User data is limited to 16384 bytes/,
  );
  assert.deepEqual(awsRefusals("aws:ec2/keyPair:KeyPair", { keyName: "admin-é" })[0]?.code, "InvalidParameterValue");
});

test("every public port description infra/network.ts sends is one EC2 accepts", () => {
  for (const { what } of PUBLIC_PORTS) assert.equal(ec2TextProblem(what), undefined, what);
});

test("EBS: a gp3 volume of 1-16384 GiB, attached as /dev/sd[f-p] (CreateVolume Size; device names on Linux)", () => {
  const volume = (size: number) => awsRefusals("aws:ebs/volume:Volume", { type: "gp3", size });
  assert.deepEqual(volume(1), []);
  assert.deepEqual(volume(16384), []);
  assert.match(volume(0)[0]?.message ?? "", /outside the range of gp3 volumes \(1-16384 GiB\)/);
  assert.equal(volume(16385)[0]?.code, "InvalidParameterValue");
  const attach = (deviceName: string) =>
    awsRefusals("aws:ec2/volumeAttachment:VolumeAttachment", { deviceName, volumeId: "vol-1", instanceId: "i-1" });
  assert.deepEqual(attach("/dev/sdf"), []);
  assert.deepEqual(attach("/dev/sdp"), []);
  for (const bad of ["/dev/sda1", "/dev/sdq", "/dev/nvme1n1", "sdf"])
    assert.match(attach(bad)[0]?.message ?? "", /use \/dev\/sd\[f-p\] for EBS volumes/, bad);
});

test("DLM: description and schedule name [0-9A-Za-z _-]+, 1-1000 kept, 24 h at one hh:mm (CreateLifecyclePolicy)", () => {
  const policy = (over: { description?: string; name?: string; count?: number; interval?: number; times?: string }) =>
    awsRefusals("aws:dlm/lifecyclePolicy:LifecyclePolicy", {
      description: over.description ?? "DIY Device Cloud history volume daily snapshots",
      policyDetails: {
        schedules: [
          {
            name: over.name ?? "daily history snapshot",
            createRule: { interval: over.interval ?? 24, intervalUnit: "HOURS", times: over.times ?? "03:00" },
            retainRule: { count: over.count ?? 7 },
          },
        ],
      },
    });
  assert.deepEqual(policy({}), []);
  const codes = (r: ReturnType<typeof policy>) => r.map((x) => `${x.code} ${x.property}`);
  assert.deepEqual(codes(policy({ description: "history: daily (UTC)" })), ["ValidationException description"]);
  assert.deepEqual(codes(policy({ description: "x".repeat(501) })), ["ValidationException description"]);
  assert.deepEqual(codes(policy({ name: "Let's snapshot" })), ["ValidationException policyDetails.schedules[0].name"]);
  assert.deepEqual(codes(policy({ count: 0 })), ["ValidationException policyDetails.schedules[0].retainRule.count"]);
  assert.deepEqual(codes(policy({ count: 1001 })), ["ValidationException policyDetails.schedules[0].retainRule.count"]);
  assert.deepEqual(codes(policy({ interval: 5 })), [
    "ValidationException policyDetails.schedules[0].createRule.interval",
  ]);
  assert.deepEqual(codes(policy({ times: "3:00" })), [
    "ValidationException policyDetails.schedules[0].createRule.times",
  ]);
  assert.deepEqual(codes(policy({ times: "24:00" })), [
    "ValidationException policyDetails.schedules[0].createRule.times",
  ]);
});

test("AWS IoT names: thing [a-zA-Z0-9:_-]{1,128}, policy [\\w+=,.@-]{1,128} (no ':'), principal type (API Reference)", () => {
  const codes = (type: string, inputs: Record<string, unknown>) => awsRefusals(type, inputs).map((r) => r.property);
  assert.deepEqual(codes("aws:iot/thing:Thing", { name: "diy-device-cloud-dev:gw1:bridge" }), []);
  assert.deepEqual(codes("aws:iot/thing:Thing", { name: "pi.1" }), ["name"]);
  assert.deepEqual(codes("aws:iot/thing:Thing", { name: "x".repeat(129) }), ["name"]);
  const doc = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["iot:Connect"], Resource: ["*"] }],
  });
  assert.deepEqual(codes("aws:iot/policy:Policy", { name: "diy-device-cloud-dev.gw1.bridge.0", policy: doc }), []);
  assert.deepEqual(codes("aws:iot/policy:Policy", { name: "diy-device-cloud-dev:gw1.0", policy: doc }), ["name"]);
  assert.deepEqual(codes("aws:iot/policy:Policy", { name: "p", policy: doc.replace("*", "x".repeat(2048)) }), [
    "policy",
  ]);
  // White space does not count toward the 2,048 characters.
  assert.deepEqual(codes("aws:iot/policy:Policy", { name: "p", policy: `${doc}${" ".repeat(4000)}` }), []);
  assert.deepEqual(codes("aws:iot/policy:Policy", { name: "p", policy: '{"Statement":[]}' }), ["policy"]);
  const tpa = "aws:iot/thingPrincipalAttachment:ThingPrincipalAttachment";
  assert.deepEqual(codes(tpa, { thingPrincipalType: "EXCLUSIVE_THING" }), []);
  assert.deepEqual(codes(tpa, { thingPrincipalType: "EXCLUSIVE" }), ["thingPrincipalType"]);
});
