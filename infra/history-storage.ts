// The history's own storage: an encrypted gp3 EBS volume in the server's availability zone that outlives the
// server (a new OS or architecture replaces the instance, never this volume), and daily snapshots of it by Amazon
// Data Lifecycle Manager. The server attaches it (infra/server.ts) and mounts it on /var/lib/diy-web
// (infra/render/history-volume.ts).
//
// What no server change can do: replace the volume. Of its inputs that force a new volume (terraform-provider-aws
// internal/service/ec2/ebs_volume.go: availability_zone, encrypted, kms_key_id, multi_attach_enabled, outpost_arn,
// snapshot_id are ForceNew) `encrypted` is always true and the zone is read only when the volume is created
// (ignoreChanges: the engine keeps the state's value). Size, type and tags change in place (ModifyVolume). A server
// moved to another zone is refused before anything changes (checkHistoryZone), because EC2 attaches a volume only
// in its own zone. The one input that replaces it is historySnapshotId, on purpose: that is the restore (README,
// "Sensors and history"). It is not ignored, because an ignored input keeps its old value even in a replacement
// (pkg/resource/deploy/step_generator.go, processIgnoreChanges), which would restore nothing.
//
// Whatever replaces or deletes the volume (a restore, `pulumi destroy`), the provider first takes a final snapshot
// (final_snapshot, which copies the volume's tags). That snapshot and the daily ones are the user's history and stay
// in the account: Data Lifecycle Manager does not delete the snapshots of a deleted policy (DLM User Guide, "Delete
// lifecycle policies"). README "Sensors and history" gives the commands that list and delete them.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceRole, serviceTrustPolicy } from "./iam";

/** The tag that marks the volume for this stack's snapshot policy, and that its snapshots carry (copyTags). */
export const HISTORY_TAG = "diy-device-cloud:history";
/** The daily snapshot time, UTC (DLM CreateRule Times: one "hh:mm" in UTC). */
export const SNAPSHOT_TIME_UTC = "03:00";

export interface HistoryStorageArgs {
  /** The server's availability zone (infra/vpc.ts Placement). */
  availabilityZone: pulumi.Input<string>;
  sizeGiB: number;
  /** Daily snapshots to keep. */
  snapshotDays: number;
  /** Create the volume from this snapshot (a restore); a changed value replaces the volume. */
  snapshotId?: string;
  tags: Record<string, string>;
}

/** Value of HISTORY_TAG: unique per project, stack and component, so two stacks in one account never share a policy. */
export function historyTagValue(name: string): string {
  return `${pulumi.getProject()}/${pulumi.getStack()}/${name}`;
}

/**
 * The role Data Lifecycle Manager assumes: trusted by dlm.amazonaws.com only, with AWS's managed policy for
 * snapshot policies (DLM User Guide, "AWS managed policies for Amazon Data Lifecycle Manager":
 * AWSDataLifecycleManagerServiceRole "provides Amazon Data Lifecycle Manager with the permissions needed to create
 * and manage Amazon EBS snapshot policies"; it is what the console's default role AWSDataLifecycleManagerDefaultRole
 * carries). Nothing else can assume it, and it has no other policy.
 */
export const DLM_TRUST_POLICY = serviceTrustPolicy("dlm.amazonaws.com");
export const DLM_MANAGED_POLICY_ARN = aws.iam.ManagedPolicy.AWSDataLifecycleManagerServiceRole;

/** The policy details: one daily schedule for the volumes tagged with exactly this stack's HISTORY_TAG value. */
export function snapshotPolicyDetails(
  tagValue: string,
  keep: number,
): aws.types.input.dlm.LifecyclePolicyPolicyDetails {
  return {
    policyType: "EBS_SNAPSHOT_MANAGEMENT",
    resourceTypes: ["VOLUME"],
    targetTags: { [HISTORY_TAG]: tagValue },
    schedules: [
      {
        name: "daily history snapshot",
        createRule: { interval: 24, intervalUnit: "HOURS", times: SNAPSHOT_TIME_UTC },
        retainRule: { count: keep },
        // The volume's tags (HISTORY_TAG among them) go onto each snapshot: one tag filter finds them all.
        copyTags: true,
      },
    ],
  };
}

/** EC2 attaches a volume only to an instance in its own zone (AttachVolume: InvalidVolume.ZoneMismatch). */
export function checkHistoryZone(volumeZone: string | undefined, serverZone: string | undefined): void {
  if (!volumeZone || !serverZone || volumeZone === serverZone) return;
  throw new Error(
    `the history volume is in ${volumeZone} but the server's subnet is in ${serverZone}, and EBS volumes attach only within their zone. ` +
      `Keep the server in ${volumeZone} (a subnetId there), or move the history: pulumi config set diy-device-cloud:historySnapshotId <a recent snapshot of it> ` +
      `and let a new volume be created from it (README, Sensors and history: restore)`,
  );
}

export class HistoryStorage extends pulumi.ComponentResource {
  readonly volume: aws.ebs.Volume;
  readonly role: aws.iam.Role;
  readonly policy: aws.dlm.LifecyclePolicy;
  /** Resolves with the volume id once the volume's zone is known to match the server's (else the program fails). */
  readonly volumeId: pulumi.Output<string>;

  constructor(name: string, args: HistoryStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("diy:index:HistoryStorage", name, {}, opts);
    const o: pulumi.CustomResourceOptions = { parent: this };
    const tagValue = historyTagValue(name);

    this.volume = new aws.ebs.Volume(
      `${name}-volume`,
      {
        availabilityZone: args.availabilityZone,
        size: args.sizeGiB,
        type: "gp3",
        encrypted: true,
        snapshotId: args.snapshotId,
        // pulumi destroy (or a deliberate replacement) snapshots the history before deleting the volume.
        finalSnapshot: true,
        tags: { ...args.tags, Name: name, [HISTORY_TAG]: tagValue },
      },
      { ...o, ignoreChanges: ["availabilityZone"] },
    );
    this.volumeId = pulumi
      .all([this.volume.availabilityZone, args.availabilityZone, this.volume.id])
      .apply(([volumeZone, serverZone, id]) => {
        checkHistoryZone(volumeZone, serverZone);
        return id;
      });

    this.role = serviceRole(
      `${name}-snapshots`,
      {
        service: "dlm.amazonaws.com",
        description: "Data Lifecycle Manager: daily snapshots of the DIY Device Cloud history volume",
        tags: args.tags,
      },
      o,
    );
    const attachment = new aws.iam.RolePolicyAttachment(
      `${name}-snapshots`,
      { role: this.role.name, policyArn: DLM_MANAGED_POLICY_ARN },
      o,
    );
    this.policy = new aws.dlm.LifecyclePolicy(
      `${name}-snapshots`,
      {
        // DLM descriptions and schedule names take only [0-9A-Za-z _-] (DLM API Reference, CreateLifecyclePolicy).
        description: "DIY Device Cloud history volume daily snapshots",
        executionRoleArn: this.role.arn,
        state: "ENABLED",
        policyDetails: snapshotPolicyDetails(tagValue, args.snapshotDays),
        tags: args.tags,
      },
      // The policy runs as the role: it needs the permissions before its first schedule.
      { ...o, dependsOn: [attachment] },
    );
    this.registerOutputs({ volumeId: this.volume.id });
  }
}
