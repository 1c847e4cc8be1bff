// What `pulumi up` would do to each resource when the program's second evaluation differs from its first:
// nothing, an update in place, or a replacement (delete + create). The engine replaces a resource when
//  - a property matching one of the paths the SDK registered with `replaceOnChanges` changed (Pulumi docs,
//    "Resource options: replaceOnChanges"; the engine compares those paths of old and new inputs), or
//  - the provider's Diff reports the property in `replaces`: here the providers' schema-level replaceOnChanges, or
//  - the resource's `replacementTrigger` option differs from the one recorded in the state (Pulumi 3.208.0,
//    pulumi/pulumi#20936: "Any change to this value between program runs will trigger a replace").
// Otherwise a changed input is an update. This is the rule that makes a content-hash trigger on a command
// whose `delete` uninstalls a board dangerous: @pulumi/command registers replaceOnChanges ["triggers[*]"]
// (node_modules/@pulumi/command/remote/command.js and copyToRemote.js) and its provider tags `triggers` with
// provider:"replaceOnChanges" (pulumi-command provider/pkg/provider/common/inputs.go, remote/copy.go;
// pulumi/pulumi-command#855), so a changed trigger runs the old `delete` and then `create`, never `update`.
//
// Limits (mocks): resource ids do not change, so a replacement does not ripple into dependants' inputs here.
import type { Recorded } from "./program-harness";

/**
 * Inputs whose change the provider itself answers with a replacement (its schema's replaceOnChanges / ForceNew),
 * per resource type. Add a type's entries (with the source) before relying on an update of it.
 */
export const PROVIDER_REPLACES: Record<string, readonly string[]> = {
  // pulumi-command provider/pkg/provider/common/inputs.go: Triggers `provider:"replaceOnChanges"`.
  "command:remote:Command": ["triggers"],
  "command:local:Command": ["triggers"],
  // pulumi-command provider/pkg/provider/remote/copy.go: CopyToRemoteInputs.Triggers `provider:"replaceOnChanges"`.
  "command:remote:CopyToRemote": ["triggers"],
  // terraform-provider-aws internal/service/ec2/ec2_instance.go: ForceNew arguments of aws_instance (ami,
  // availability_zone, subnet_id, key_name, private_ip, associate_public_ip_address, ipv6_address_count,
  // security_groups by name, tenancy, placement_group, host_id). instance_type, user_data and
  // vpc_security_group_ids change in place (a type or user data change stops and starts the instance).
  "aws:ec2/instance:Instance": [
    "ami",
    "availabilityZone",
    "subnetId",
    "keyName",
    "privateIp",
    "associatePublicIpAddress",
    "ipv6AddressCount",
    "securityGroups",
    "tenancy",
    "placementGroup",
    "hostId",
  ],
  // aws_eip_association: instance_id and allocation_id are ForceNew.
  "aws:ec2/eipAssociation:EipAssociation": ["instanceId", "allocationId"],
  // terraform-provider-aws internal/service/ec2/ebs_volume.go: availability_zone, encrypted, kms_key_id,
  // multi_attach_enabled, outpost_arn and snapshot_id are ForceNew; size, type, iops, throughput change in place.
  "aws:ebs/volume:Volume": [
    "availabilityZone",
    "encrypted",
    "kmsKeyId",
    "multiAttachEnabled",
    "outpostArn",
    "snapshotId",
  ],
  // internal/service/ec2/ebs_volume_attachment.go: device_name, instance_id and volume_id are ForceNew.
  "aws:ec2/volumeAttachment:VolumeAttachment": ["deviceName", "instanceId", "volumeId"],
};

export type StepOp = "same" | "update" | "replace" | "create" | "delete";

export interface PlannedStep {
  type: string;
  name: string;
  op: StepOp;
  /** Top-level inputs whose value differs (after ignoreChanges). */
  changed: string[];
  /** The registered or provider paths whose change makes this a replacement. */
  replaceBecause: string[];
  /** For a replacement: the old resource's delete runs before the new one's create. */
  deleteBeforeReplace: boolean;
}

const key = (r: { type: string; name: string }) => `${r.type}::${r.name}`;

/** Splits a property path (`a.b[*]`, `triggers[0]`, `*`) into segments. */
function segments(path: string): string[] {
  return path
    .replace(/\[(\*|\d+)\]/g, ".$1")
    .replace(/\["([^"]+)"\]/g, ".$1")
    .split(".")
    .filter((s) => s !== "");
}

/** Every value a path selects (a `*` segment selects all keys or elements). */
function select(value: unknown, segs: readonly string[]): unknown[] {
  if (segs.length === 0) return [value];
  const [head, ...rest] = segs;
  if (value === null || typeof value !== "object") return [undefined];
  if (head === "*") {
    const children = Array.isArray(value) ? value : Object.values(value);
    // The whole collection counts, so adding or removing an element is a change too.
    return [children.length, ...children.flatMap((c) => select(c, rest))];
  }
  return select((value as Record<string, unknown>)[head as string], rest);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Removes the ignoreChanges paths from a copy of the inputs: the engine keeps their old values. */
function withoutIgnored(inputs: Record<string, unknown>, ignore: readonly string[]): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(inputs)) as Record<string, unknown>;
  for (const path of ignore) {
    const segs = segments(path);
    let node: unknown = copy;
    for (const s of segs.slice(0, -1))
      node = node && typeof node === "object" ? (node as Record<string, unknown>)[s] : undefined;
    const last = segs[segs.length - 1];
    if (node && typeof node === "object" && last !== undefined) delete (node as Record<string, unknown>)[last];
  }
  return copy;
}

function step(before: Recorded, after: Recorded): PlannedStep {
  const ignore = after.options.ignoreChanges;
  const a = withoutIgnored(before.inputs, ignore);
  const b = withoutIgnored(after.inputs, ignore);
  const changed = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !same(a[k], b[k])).sort();
  const paths = [...after.options.replaceOnChanges, ...(PROVIDER_REPLACES[after.type] ?? [])];
  const replaceBecause = [...new Set(paths.filter((p) => !same(select(a, segments(p)), select(b, segments(p)))))];
  const triggerBefore = before.options.replacementTrigger;
  const triggerAfter = after.options.replacementTrigger;
  if (triggerBefore !== undefined && triggerAfter !== undefined && !same(triggerBefore, triggerAfter))
    replaceBecause.push("replacementTrigger");
  return {
    type: after.type,
    name: after.name,
    op: replaceBecause.length > 0 ? "replace" : changed.length > 0 ? "update" : "same",
    changed,
    replaceBecause,
    deleteBeforeReplace: after.options.deleteBeforeReplace,
  };
}

/** The engine's step for every resource of either evaluation, matched by type and name. */
export function planSteps(before: readonly Recorded[], after: readonly Recorded[]): PlannedStep[] {
  const old = new Map(before.map((r) => [key(r), r]));
  const now = new Map(after.map((r) => [key(r), r]));
  const none = { changed: [], replaceBecause: [], deleteBeforeReplace: false };
  return [
    ...after.map((r) => {
      const prev = old.get(key(r));
      return prev ? step(prev, r) : { type: r.type, name: r.name, op: "create" as const, ...none };
    }),
    ...before
      .filter((r) => !now.has(key(r)))
      .map((r) => ({ type: r.type, name: r.name, op: "delete" as const, ...none })),
  ];
}
