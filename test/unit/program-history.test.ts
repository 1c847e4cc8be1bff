// The history's storage under mocks (infra/history-storage.ts, infra/server.ts): its own encrypted EBS volume in the
// server's zone, attached to the server and mounted by the push before diy-web starts; daily snapshots by Data
// Lifecycle Manager through a role only DLM can assume. Across updates (program-replacement.ts decides each step as
// the engine would): a replaced server keeps the volume, historySnapshotId restores into a new one, and a server
// moved to another zone is refused before anything changes. EC2/DLM rules live in infra/aws-rules.ts and
// aws-network-double.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parseSettings, type SecretKey } from "../../infra/config";
import { checkHistoryZone, HISTORY_TAG, SNAPSHOT_TIME_UTC } from "../../infra/history-storage";
import { HISTORY_DEVICE_NAME, HISTORY_MOUNT_UNIT, historyDevicePath } from "../../infra/render/history-volume";
import { mockId, NetworkDouble } from "./aws-network-double";
import { deployCloud, type Harness, type MockWorld, type Recorded, value } from "./program-harness";
import { type PlannedStep, planSteps } from "./program-replacement";

const base = { adminCidrs: '["198.51.100.7/32"]', instanceType: "t3.micro", os: "debian13" };
const VOLUME = "aws:ebs/volume:Volume";
const ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment";
const POLICY = "aws:dlm/lifecyclePolicy:LifecyclePolicy";
const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const INSTANCE = "aws:ec2/instance:Instance";

async function build(raw: Record<string, unknown>, world: MockWorld = {}) {
  const { h, cloud } = await deployCloud({ ...base, ...raw }, { world });
  const script = await value(cloud.server.push.stdin as pulumi.Output<string>);
  const volumeId = await value(cloud.history.volume.id);
  assert.deepEqual(h.refused, [], "AWS would refuse a resource");
  return { h, cloud, script, volumeId };
}

const one = (h: Harness | Recorded[], type: string): Recorded => {
  const rs = Array.isArray(h) ? h.filter((r) => r.type === type) : h.ofType(type);
  assert.equal(rs.length, 1, `expected one ${type}, got ${rs.length}`);
  return rs[0] as Recorded;
};
const stepOf = (steps: PlannedStep[], type: string) => {
  const s = steps.find((x) => x.type === type);
  assert.ok(s, `no step for ${type}`);
  return s;
};
const dependsOn = (r: Recorded, type: string, name: string) =>
  r.options.dependencies.some((u) => u.endsWith(`${type}::${name}`));

describe("the history volume and its snapshots", () => {
  let first: Awaited<ReturnType<typeof build>>;

  test("an encrypted gp3 volume of historyVolumeGiB in the server's zone, tagged for its snapshot policy", async () => {
    first = await build({ historyVolumeGiB: 3 });
    const volume = one(first.h, VOLUME);
    const subnet = one(first.h, "aws:ec2/subnet:Subnet");
    assert.equal(volume.inputs.availabilityZone, subnet.inputs.availabilityZone);
    assert.deepEqual([volume.inputs.type, volume.inputs.size, volume.inputs.encrypted], ["gp3", 3, true]);
    assert.equal(volume.inputs.finalSnapshot, true, "a deleted or replaced volume leaves a final snapshot");
    assert.equal(volume.inputs.snapshotId, undefined);
    assert.equal(volume.inputs.tags[HISTORY_TAG], "diy-device-cloud/dev/iot-history");
    assert.deepEqual(volume.options.ignoreChanges, ["availabilityZone"]);
    assert.match(first.volumeId, /^vol-[0-9a-f]{17}$/);
  });

  test("it is attached to the server as /dev/sdf; the old server is stopped and detached before a new one gets it", () => {
    const attachment = one(first.h, ATTACHMENT);
    assert.equal(attachment.inputs.volumeId, first.volumeId);
    assert.equal(attachment.inputs.instanceId, "iot-server-id");
    assert.equal(attachment.inputs.deviceName, HISTORY_DEVICE_NAME);
    assert.equal(attachment.inputs.stopInstanceBeforeDetaching, true);
    assert.equal(attachment.options.deleteBeforeReplace, true);
  });

  test("the push mounts it before diy-web starts, and runs only once it is attached", () => {
    const push = one(first.h, "command:remote:Command");
    assert.ok(dependsOn(push, ATTACHMENT, "iot-history"), "the push does not wait for the attachment");
    const device = historyDevicePath({ instanceType: "t3.micro", volumeId: first.volumeId });
    const unitAt = first.script.indexOf(HISTORY_MOUNT_UNIT);
    assert.ok(unitAt > 0, "no mount unit in the push");
    // Files travel base64-encoded: decode every heredoc and look for the rendered units.
    const decoded = [...first.script.matchAll(/<<'(DIY_FILE_\d+)'\n([\s\S]*?)\n\1\n/g)].map((m) =>
      Buffer.from((m[2] ?? "").replace(/\n/g, ""), "base64").toString("utf8"),
    );
    const mount = decoded.find((c) => c.includes("[Mount]"));
    assert.match(mount ?? "", new RegExp(`^What=${device}$`, "m"));
    assert.match(mount ?? "", /^Where=\/var\/lib\/diy-web$/m);
    const web = decoded.find((c) => c.includes("Description=DIY Device Cloud web app"));
    assert.match(web ?? "", /^RequiresMountsFor=\/var\/lib\/diy-web$/m);
    assert.match(first.script, new RegExp(`diy-history-volume grow ${device} /var/lib/diy-web`));
  });

  test("DLM snapshots exactly this stack's volume daily and keeps historySnapshotDays of them", async () => {
    const h = (await build({ historySnapshotDays: 14 })).h;
    const policy = one(h, POLICY);
    const volume = one(h, VOLUME);
    assert.equal(policy.inputs.state, "ENABLED");
    const details = policy.inputs.policyDetails;
    assert.deepEqual(details.resourceTypes, ["VOLUME"]);
    assert.deepEqual(details.targetTags, { [HISTORY_TAG]: volume.inputs.tags[HISTORY_TAG] });
    assert.equal(details.schedules.length, 1);
    const [schedule] = details.schedules;
    assert.deepEqual(schedule.createRule, { interval: 24, intervalUnit: "HOURS", times: SNAPSHOT_TIME_UTC });
    assert.deepEqual(schedule.retainRule, { count: 14 });
    assert.equal(schedule.copyTags, true);
    const role = one(h, ROLE);
    assert.equal(policy.inputs.executionRoleArn, `arn:aws:iam::123456789012:role/${role.state.name}`);
    assert.ok(dependsOn(policy, ROLE_POLICY, "iot-history-snapshots"), "the policy may run before its permissions");
  });

  test("the role: only dlm.amazonaws.com may assume it, and its one policy is AWS's managed DLM service role", () => {
    const role = one(first.h, ROLE);
    assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy), {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "dlm.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
    const attached = first.h.ofType(ROLE_POLICY);
    assert.deepEqual(
      attached.map((a) => a.inputs.policyArn),
      ["arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"],
    );
    assert.equal(attached[0]?.inputs.role, role.state.name);
    assert.deepEqual(first.h.ofType("aws:iam/rolePolicy:RolePolicy"), [], "no inline policy widens it");
  });

  test("a new OS replaces the server, never the volume: the attachment moves to the new server", async () => {
    const second = await build({ os: "debian12", historyVolumeGiB: 3 }, { previous: first.h.resources });
    const steps = planSteps(first.h.resources, second.h.resources);
    assert.equal(stepOf(steps, INSTANCE).op, "replace");
    assert.equal(stepOf(steps, VOLUME).op, "same", JSON.stringify(stepOf(steps, VOLUME)));
    assert.equal(stepOf(steps, POLICY).op, "same");
    // Mock ids do not change with a replacement: the new instance's id would, and instanceId is ForceNew, so the
    // attachment is replaced, old one first.
    const attachment = one(second.h, ATTACHMENT);
    assert.equal(attachment.inputs.instanceId, one(second.h, INSTANCE).state.id ?? "iot-server-id");
    assert.equal(attachment.options.deleteBeforeReplace, true);
  });

  test("a bigger historyVolumeGiB grows the volume in place", async () => {
    const second = await build({ historyVolumeGiB: 8 }, { previous: first.h.resources });
    const step = stepOf(planSteps(first.h.resources, second.h.resources), VOLUME);
    assert.deepEqual([step.op, step.changed], ["update", ["size"]]);
  });

  test("historySnapshotId restores: the volume is replaced by one made from the snapshot", async () => {
    const snap = "snap-0123456789abcdef0";
    const second = await build({ historyVolumeGiB: 3, historySnapshotId: snap }, { previous: first.h.resources });
    const step = stepOf(planSteps(first.h.resources, second.h.resources), VOLUME);
    assert.deepEqual([step.op, step.replaceBecause], ["replace", ["snapshotId"]]);
    assert.equal(one(second.h, VOLUME).inputs.snapshotId, snap);
  });

  test("a server moved to another zone: the program stops with the way out; EC2 would refuse the attachment", () => {
    assert.throws(
      () => checkHistoryZone("eu-central-1a", "eu-central-1b"),
      /the history volume is in eu-central-1a but the server's subnet is in eu-central-1b.*historySnapshotId/,
    );
    assert.doesNotThrow(() => checkHistoryZone("eu-central-1a", "eu-central-1a"));
    // The double holds EC2's rule (AttachVolume: InvalidVolume.ZoneMismatch), for a program that did not check.
    const double = new NetworkDouble(
      { subnets: { "subnet-b": { vpcId: "vpc-1", availabilityZone: "eu-central-1b" } } },
      [
        { type: VOLUME, name: "v", inputs: { availabilityZone: "eu-central-1a" } },
        { type: INSTANCE, name: "i", inputs: { subnetId: "subnet-b" } },
      ],
    );
    assert.match(
      double.refusal(ATTACHMENT, { volumeId: mockId(VOLUME, "v"), instanceId: "i-id" }) ?? "",
      /^InvalidVolume\.ZoneMismatch: The volume 'vol-[0-9a-f]{17}' is not in the same availability zone as instance 'i-id'/,
    );
  });
});

describe("history storage config", () => {
  const parse = (raw: Record<string, unknown>) => () =>
    parseSettings({ ...base, ...raw }, (k: SecretKey) => pulumi.secret(String(raw[k])));

  test("a volume too small for historyMaxMegabytes is refused, naming the size that fits", () => {
    assert.throws(
      parse({ historyVolumeGiB: 1, historyMaxMegabytes: 1024 }),
      /historyVolumeGiB: \(1 GiB\) leaves room for 793 MiB of history, less than historyMaxMegabytes \(1024\); use at least 2 GiB/,
    );
    assert.doesNotThrow(parse({ historyVolumeGiB: 2, historyMaxMegabytes: 1024 }));
  });

  test("out-of-range sizes and snapshot counts and a malformed snapshot id are refused", () => {
    assert.throws(parse({ historyVolumeGiB: 16385 }), /historyVolumeGiB/);
    assert.throws(parse({ historySnapshotDays: 0 }), /historySnapshotDays/);
    assert.throws(parse({ historySnapshotDays: 1001 }), /historySnapshotDays/);
    assert.throws(
      parse({ historySnapshotId: "snap-xyz" }),
      /historySnapshotId.*snapshot id like snap-0123456789abcdef0/,
    );
    assert.doesNotThrow(parse({ historySnapshotId: "snap-0123abcd" }));
  });
});
