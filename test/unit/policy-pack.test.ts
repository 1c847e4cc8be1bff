import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "../../policy/common";
import { DEFAULT_ALLOWED_INSTANCE_TYPES, secretsIn } from "../../policy/instance";
import { ingressProblems, isWorld } from "../../policy/network";
import {
  allowedInstanceType,
  elasticIpPresent,
  encryptedVolumes,
  imdsv2Required,
  noSecretsInUserData,
  policies,
  securityGroupIngress,
  tagsPresent,
} from "../../policy/policies";
import { resourceViolations, stackResource, stackViolations } from "./policy-args";

// The policies are called the way the policy server calls them (./policy-args.ts): no Pulumi CLI is needed.
const violations = (policy: ResourceValidationPolicy, type: string, props: Record<string, unknown>, config?: object) =>
  resourceViolations(policy, { type, props }, config);

const goodInstance = {
  instanceType: "t3.micro",
  metadataOptions: { httpTokens: "required", httpEndpoint: "enabled" },
  rootBlockDevice: { encrypted: true, volumeSize: 8 },
  userData:
    "#cloud-config\npackages: [mosquitto]\nssh_pwauth: false\nwrite_files:\n- path: /etc/ssh/sshd_config.d/10-diy.conf\n  content: PasswordAuthentication no\n",
  tags: { Project: "diy-device-cloud" },
};

describe("policy pack", () => {
  it("is mandatory for every rule except the stack-wide advisories", () => {
    for (const p of policies) {
      const expected = p === elasticIpPresent || p === tagsPresent ? "advisory" : "mandatory";
      assert.equal(p.enforcementLevel, expected, p.name);
    }
    assert.equal(new Set(policies.map((p) => p.name)).size, policies.length, "policy names are unique");
  });

  describe("security-group ingress", () => {
    const sg = (ingress: object[]) => violations(securityGroupIngress, TYPES.securityGroup, { ingress });
    it("passes 80/443/8883 from anywhere and 22 from an admin CIDR", async () => {
      assert.deepEqual(
        await sg([
          { protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
          { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
          { protocol: "tcp", fromPort: 8883, toPort: 8883, cidrBlocks: ["0.0.0.0/0"] },
          { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["198.51.100.7/32"] },
        ]),
        [],
      );
    });
    it("rejects SSH from the world, other ports, port ranges and all-protocol rules", async () => {
      assert.equal((await sg([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }])).length, 1);
      assert.equal((await sg([{ protocol: "tcp", fromPort: 22, toPort: 22, ipv6CidrBlocks: ["::/0"] }])).length, 1);
      assert.equal(
        (await sg([{ protocol: "tcp", fromPort: 1883, toPort: 1883, cidrBlocks: ["0.0.0.0/0"] }])).length,
        1,
      );
      assert.equal((await sg([{ protocol: "tcp", fromPort: 0, toPort: 65535, cidrBlocks: ["10.0.0.0/8"] }])).length, 1);
      assert.equal((await sg([{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }])).length, 1);
      assert.equal((await sg([{ protocol: "udp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }])).length, 1);
    });
    it("checks aws.vpc.SecurityGroupIngressRule the same way", async () => {
      const rule = (props: object) =>
        violations(securityGroupIngress, TYPES.ingressRule, props as Record<string, unknown>);
      assert.deepEqual(await rule({ ipProtocol: "tcp", fromPort: 8883, toPort: 8883, cidrIpv4: "0.0.0.0/0" }), []);
      assert.deepEqual(await rule({ ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "203.0.113.0/24" }), []);
      const [problem] = await rule({ ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "0.0.0.0/0" });
      assert.match(problem ?? "", /SSH \(22\) open to 0\.0\.0\.0\/0.*adminCidrs/);
      assert.equal((await rule({ ipProtocol: "-1", cidrIpv6: "::/0" })).length, 1);
    });
    it("checks ingress aws.ec2.SecurityGroupRule and ignores egress rules", async () => {
      const rule = (props: object) =>
        violations(securityGroupIngress, TYPES.securityGroupRule, props as Record<string, unknown>);
      assert.equal(
        (await rule({ type: "ingress", protocol: "tcp", fromPort: 3000, toPort: 3000, cidrBlocks: ["0.0.0.0/0"] }))
          .length,
        1,
      );
      assert.deepEqual(
        await rule({ type: "egress", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }),
        [],
      );
    });
    it("treats only /0 prefixes as the world", () => {
      assert.ok(isWorld("0.0.0.0/0") && isWorld("::/0"));
      assert.ok(!isWorld("0.0.0.0/1") && !isWorld("192.0.2.0/24") && !isWorld("2001:db8::/32"));
      assert.deepEqual(
        ingressProblems({ protocol: "6", fromPort: 443, toPort: 443, cidrs: ["0.0.0.0/0"], hasNonCidrSource: false }),
        [],
      );
    });
  });

  describe("instance", () => {
    it("passes the instance the program is meant to create", async () => {
      for (const p of [imdsv2Required, encryptedVolumes, allowedInstanceType, noSecretsInUserData]) {
        assert.deepEqual(await violations(p, TYPES.instance, goodInstance), [], p.name);
      }
    });
    it("ignores resources of other types", async () => {
      assert.deepEqual(await violations(imdsv2Required, TYPES.securityGroup, {}), []);
    });
    it("requires IMDSv2", async () => {
      assert.equal(
        (await violations(imdsv2Required, TYPES.instance, { ...goodInstance, metadataOptions: undefined })).length,
        1,
      );
      const [problem] = await violations(imdsv2Required, TYPES.instance, {
        ...goodInstance,
        metadataOptions: { httpTokens: "optional" },
      });
      assert.match(problem ?? "", /httpTokens is "optional"/);
    });
    it("requires an encrypted root volume and encrypted EBS volumes", async () => {
      assert.equal(
        (await violations(encryptedVolumes, TYPES.instance, { ...goodInstance, rootBlockDevice: { volumeSize: 8 } }))
          .length,
        1,
      );
      assert.equal(
        (await violations(encryptedVolumes, TYPES.instance, { ...goodInstance, rootBlockDevice: undefined })).length,
        1,
      );
      const ebs = { ...goodInstance, ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }] };
      assert.deepEqual(await violations(encryptedVolumes, TYPES.instance, ebs), [
        "EBS volume /dev/sdf is not encrypted",
      ]);
    });
    it("allows the micro and small types from the config's list and rejects larger ones", async () => {
      assert.ok(
        DEFAULT_ALLOWED_INSTANCE_TYPES.includes("t3.micro") && DEFAULT_ALLOWED_INSTANCE_TYPES.includes("t4g.small"),
      );
      assert.ok(!DEFAULT_ALLOWED_INSTANCE_TYPES.some((t) => /medium|large/.test(t)));
      assert.deepEqual(
        await violations(allowedInstanceType, TYPES.instance, { ...goodInstance, instanceType: "t4g.small" }),
        [],
      );
      assert.equal(
        (await violations(allowedInstanceType, TYPES.instance, { ...goodInstance, instanceType: "m5.large" })).length,
        1,
      );
      assert.equal(
        (await violations(allowedInstanceType, TYPES.instance, { ...goodInstance, instanceType: "t3.medium" })).length,
        1,
      );
    });
    it("lets the pack's config widen the instance type list", async () => {
      const config = { allowedInstanceTypes: ["t3.medium"] };
      assert.deepEqual(
        await violations(allowedInstanceType, TYPES.instance, { ...goodInstance, instanceType: "t3.medium" }, config),
        [],
      );
    });
    it("rejects user data holding a private key, a password or an AWS key", async () => {
      const key =
        "write_files:\n- content: |\n    -----BEGIN EC PRIVATE KEY-----\n    MHcCAQEE\n    -----END EC PRIVATE KEY-----\n";
      assert.equal(
        (await violations(noSecretsInUserData, TYPES.instance, { ...goodInstance, userData: key })).length,
        1,
      );
      const password = "#cloud-config\nruncmd:\n- echo 'smtp_password = hunter22' >> /etc/x\n";
      assert.equal(
        (await violations(noSecretsInUserData, TYPES.instance, { ...goodInstance, userData: password })).length,
        1,
      );
      const b64 = Buffer.from("-----BEGIN OPENSSH PRIVATE KEY-----\n").toString("base64");
      assert.equal(
        (
          await violations(noSecretsInUserData, TYPES.instance, {
            ...goodInstance,
            userData: undefined,
            userDataBase64: b64,
          })
        ).length,
        1,
      );
      assert.deepEqual(secretsIn('{"password": "s3cret!"}'), ["a password or secret assignment"]);
      assert.deepEqual(secretsIn("aws_access_key_id=AKIAIOSFODNN7EXAMPLE"), ["an AWS access key id"]);
    });
    it("does not mistake hardening settings and public certificates for secrets", () => {
      const clean = [
        "PasswordAuthentication no",
        "ssh_pwauth: false",
        "lock_passwd: true",
        "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd",
        "EnvironmentFile=/etc/diy-web/secrets.env",
        "-----BEGIN CERTIFICATE-----",
      ].join("\n");
      assert.deepEqual(secretsIn(clean), []);
    });
  });

  describe("stack advisories", () => {
    it("expects an Elastic IP beside an instance", async () => {
      const instance = stackResource({ type: TYPES.instance, name: "server", props: goodInstance });
      assert.deepEqual(
        await stackViolations(elasticIpPresent, [instance, stackResource({ type: TYPES.eip, name: "ip", props: {} })]),
        [],
      );
      assert.equal((await stackViolations(elasticIpPresent, [instance])).length, 1);
      assert.deepEqual(await stackViolations(elasticIpPresent, []), []);
    });
    it("expects tags on taggable resources, counting the provider's default tags", async () => {
      assert.deepEqual(
        await stackViolations(tagsPresent, [
          stackResource({ type: TYPES.instance, name: "server", props: goodInstance }),
        ]),
        [],
      );
      const untagged = stackResource({ type: TYPES.securityGroup, name: "sg", props: {} });
      assert.deepEqual(await stackViolations(tagsPresent, [untagged]), [`${TYPES.securityGroup} "sg" has no tags`]);
      const viaProvider = stackResource(
        { type: TYPES.securityGroup, name: "sg", props: {} },
        { defaultTags: { tags: { Project: "diy" } } },
      );
      assert.deepEqual(await stackViolations(tagsPresent, [viaProvider]), []);
    });
  });
});
