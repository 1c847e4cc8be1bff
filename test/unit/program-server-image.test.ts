// The server's image across updates: a newer AMI or new user data never touches a running server; a new `os` or a
// move between x86 and arm64 replaces it deliberately, with the new image and fresh user data, and the preview says
// so. Each case evaluates the stack twice under mocks; the second evaluation answers stateful resources (the
// launch Stash) from the first, and program-replacement.ts decides each resource's step like the engine.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { bundle } from "../../infra/bundle";
import { DeviceCloud } from "../../infra/cloud";
import { checkCli, MIN_PULUMI_CLI } from "../../infra/pulumi-cli";
import { amiNamePattern } from "../../infra/server";
import { deployCloud, installMocks, type MockWorld, mockAmiId, type Recorded, settle, value } from "./program-harness";
import { type PlannedStep, planSteps } from "./program-replacement";
import { settingsFrom } from "../support/settings";

const base = { adminCidrs: '["198.51.100.7/32"]', instanceType: "t3.micro", os: "debian13" };

async function evaluate(raw: Record<string, unknown>, world: MockWorld = {}): Promise<Recorded[]> {
  const { h } = await deployCloud({ ...base, ...raw }, { world });
  assert.deepEqual(h.refused, []);
  return h.resources;
}

const instanceOf = (rs: Recorded[]) => {
  const i = rs.find((r) => r.type === "aws:ec2/instance:Instance");
  assert.ok(i, "an instance");
  return i;
};
const stepOf = (steps: PlannedStep[], type: string) => {
  const s = steps.find((x) => x.type === type);
  assert.ok(s, `no step for ${type}`);
  return s;
};

describe("the server's image and user data across updates", () => {
  let first: Recorded[];
  test("the first up launches the OS's current image for the instance type's architecture", async () => {
    first = await evaluate({});
    assert.equal(instanceOf(first).inputs.ami, mockAmiId(amiNamePattern("debian13", "x86_64"), "x86_64"));
    assert.match(String(instanceOf(first).inputs.userData), /^#cloud-config/);
  });

  test("a newer AMI published since: the server stays (no replacement, no update)", async () => {
    const second = await evaluate({}, { previous: first, amiId: "ami-0fffffffffffffff0" });
    const steps = planSteps(first, second);
    assert.equal(stepOf(steps, "aws:ec2/instance:Instance").op, "same");
    assert.equal(instanceOf(second).inputs.ami, instanceOf(first).inputs.ami);
    assert.deepEqual(
      steps.filter((s) => s.op === "replace"),
      [],
    );
  });

  test("user data that renders differently (e.g. a new alert address): the server stays; the push carries config", async () => {
    const second = await evaluate({ alertEmail: "ops@example.com", smtpHost: "smtp.example.com" }, { previous: first });
    assert.notEqual(instanceOf(second).state.userData, undefined);
    const step = stepOf(planSteps(first, second), "aws:ec2/instance:Instance");
    assert.equal(step.op, "same", JSON.stringify(step));
  });

  test("a bigger type of the same architecture (t3.micro -> t3.small) changes the instance in place", async () => {
    const second = await evaluate({ instanceType: "t3.small" }, { previous: first });
    const step = stepOf(planSteps(first, second), "aws:ec2/instance:Instance");
    assert.deepEqual([step.op, step.changed], ["update", ["instanceType"]]);
  });

  for (const [what, change, os, arch] of [
    ["os debian13 -> debian12", { os: "debian12" }, "debian12", "x86_64"],
    ["os debian13 -> ubuntu2404 (the login user changes too)", { os: "ubuntu2404" }, "ubuntu2404", "x86_64"],
    ["t3.micro -> t4g.micro (x86 -> arm64)", { instanceType: "t4g.micro" }, "debian13", "arm64"],
  ] as const) {
    test(`${what}: the server is replaced, launched from the new image with fresh user data`, async () => {
      const second = await evaluate(change, { previous: first });
      const steps = planSteps(first, second);
      const server = stepOf(steps, "aws:ec2/instance:Instance");
      assert.equal(server.op, "replace", JSON.stringify(server));
      assert.ok(server.replaceBecause.includes("replacementTrigger"), "the preview names the trigger");
      assert.ok(server.replaceBecause.includes("ami"));
      assert.equal(stepOf(steps, "pulumi:index:Stash").op, "replace");
      // Not the old image: ignoreChanges would have kept it (the engine copies ignored inputs into a replacement).
      assert.equal(instanceOf(second).inputs.ami, mockAmiId(amiNamePattern(os, arch), arch));
      assert.deepEqual(instanceOf(second).options.ignoreChanges, []);
      // The Elastic IP, the CA and every certificate stay: devices keep trusting the same broker address.
      for (const t of ["aws:ec2/eip:Eip", "tls:index/selfSignedCert:SelfSignedCert"])
        assert.notEqual(stepOf(steps, t).op, "replace", t);
    });
  }

  test("the trigger and the launch values are registered as the engine needs them", () => {
    const instance = instanceOf(first);
    assert.equal(instance.options.replacementTrigger, "debian13/x86_64");
    const stash = first.find((r) => r.type === "pulumi:index:Stash");
    assert.equal(stash?.options.replacementTrigger, "debian13/x86_64");
    assert.deepEqual(Object.keys(stash?.inputs.input ?? {}).sort(), ["ami", "userData"]);
  });
});

describe("the Pulumi CLI version check (Stash and replacementTrigger need 3.208.0)", () => {
  test("the server's launch values and instance wait for the check; everything else does not", async () => {
    const h = installMocks();
    const settings = settingsFrom(base);
    let asked = "";
    let pass: () => void = () => {};
    const check = (range: string) => {
      asked = range;
      return new Promise<void>((resolve) => {
        pass = resolve;
      });
    };
    const cloud = new DeviceCloud("gate", {
      settings,
      webBundle: "x",
      deviceBundle: bundle("device").code,
      pulumiCliCheck: check,
    });
    await value(cloud.publicIp);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(asked, `>=${MIN_PULUMI_CLI}`);
    assert.equal(h.ofType("aws:ec2/eip:Eip").length, 1, "the address does not wait");
    assert.equal(h.ofType("pulumi:index:Stash").length, 0, "the launch stash waits for the check");
    assert.equal(h.ofType("aws:ec2/instance:Instance").length, 0, "the instance waits for the check");
    pass();
    await value(cloud.server.push.urn);
    await settle();
    assert.equal(h.ofType("aws:ec2/instance:Instance").length, 1);
  });

  test("README's Deploy to AWS states the same minimum CLI version the program checks", () => {
    const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
    const start = readme.indexOf("## Deploy to AWS\n");
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    assert.ok(start >= 0, "README has a Deploy to AWS section");
    const stated = /Pulumi CLI\]\([^)]*\) \*\*(\d+\.\d+\.\d+) or newer\*\*/.exec(section);
    assert.ok(stated, "Deploy to AWS names the minimum Pulumi CLI version: [Pulumi CLI](...) **X.Y.Z or newer**");
    assert.equal(stated[1], MIN_PULUMI_CLI);
  });

  test("an older CLI gets the minimum version and where to upgrade", async () => {
    const tooOld = async (range: string) => {
      throw new Error(`Pulumi CLI version 3.150.0 does not satisfy the version range "${range}"`);
    };
    await assert.rejects(checkCli(tooOld), (e: Error) => {
      assert.match(e.message, /needs Pulumi CLI 3\.208\.0 or newer/);
      assert.match(e.message, /3\.150\.0 does not satisfy/);
      assert.match(e.message, /pulumi\.com\/docs\/install/);
      return true;
    });
  });
});
