// The one EC2 instance: its Elastic IP (allocated first, because the server certificate names it), the AMI
// lookup and launch values, the instance itself, and the SSH push that installs configs and keys on it.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { BrokerKind } from "../protocol";
import type { Arch, Os } from "./config";
import { requireCli } from "./pulumi-cli";
import { HISTORY_DEVICE_NAME } from "./render/history-volume";
import { PUSH_COMMAND, SERVER_STAGED_DIR } from "./render/server-files";
import { ServerHostKey } from "./server-host-key";

/** Official image owners: Debian's cloud team and Canonical. Without owners anyone could publish a look-alike. */
export const AMI_OWNERS: Record<Os, string> = {
  debian13: "136693071363",
  debian12: "136693071363",
  ubuntu2404: "099720109477",
};

/** AMI name patterns (the architecture is part of the name and filtered separately, too). */
export function amiNamePattern(os: Os, arch: Arch): string {
  const deb = arch === "arm64" ? "arm64" : "amd64";
  switch (os) {
    case "debian13":
      return `debian-13-${deb}-*`;
    case "debian12":
      return `debian-12-${deb}-*`;
    case "ubuntu2404":
      return `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${deb}-server-*`;
  }
}

export function lookupAmi(os: Os, arch: Arch, opts: pulumi.InvokeOutputOptions): pulumi.Output<string> {
  return aws.ec2
    .getAmiOutput(
      {
        owners: [AMI_OWNERS[os]],
        mostRecent: true,
        filters: [
          { name: "name", values: [amiNamePattern(os, arch)] },
          { name: "architecture", values: [arch] },
          { name: "virtualization-type", values: ["hvm"] },
          { name: "root-device-type", values: ["ebs"] },
        ],
      },
      opts,
    )
    .apply((ami) => ami.id);
}

/** The Elastic IP exists before the instance so its address can go into the server certificate. */
export function createAddress(name: string, tags: Record<string, string>, parent: pulumi.Resource): aws.ec2.Eip {
  return new aws.ec2.Eip(`${name}-ip`, { domain: "vpc", tags: { ...tags, Name: `${name}-server` } }, { parent });
}

export interface ServerArgs {
  instanceType: string;
  os: Os;
  arch: Arch;
  /** The broker profile the server is launched for (part of serverImageKey; default mosquitto). */
  broker?: BrokerKind;
  adminUser: string;
  eip: aws.ec2.Eip;
  /** The server's subnet (infra/vpc.ts); named so EC2 never falls back to a default VPC that may not exist. */
  subnetId: pulumi.Input<string>;
  /** The internet gateway and routes of a dedicated VPC: the instance and the address association wait for them. */
  networkReady: pulumi.Resource[];
  securityGroupId: pulumi.Input<string>;
  /** The security group's rule resources: the instance boots only once egress (apt) and ingress exist. */
  securityGroupRules: pulumi.Input<pulumi.Resource>[];
  adminPrivateKey: pulumi.Input<string>;
  /** Rendered #cloud-config with the admin public key: no secrets (EC2 stores it in clear), at most 16 KB. */
  userData: pulumi.Input<string>;
  /**
   * The rendered push script (carries private keys: a secret) and the large non-secret files it installs from
   * copies (file assets by name, copied to SERVER_STAGED_DIR in the admin's home first).
   */
  push: { script: pulumi.Input<string>; staged: pulumi.Input<pulumi.asset.AssetArchive> };
  tags: Record<string, string>;
  /** The history's EBS volume (infra/history-storage.ts): attached before the push, which mounts it. */
  historyVolumeId?: pulumi.Input<string>;
  /** An instance profile for the web app (broker iot-core: infra/iot-core.ts); none with mosquitto. */
  iamInstanceProfile?: pulumi.Input<string>;
  /** Resolves when the Pulumi CLI supports Stash and replacementTrigger (infra/pulumi-cli.ts). */
  cliReady?: pulumi.Output<void>;
  /** aws:profile of the stack, for the host key lookup's AWS SDK client (infra/config.ts awsLookupSettings). */
  awsProfile?: string;
}

export interface Server {
  instance: aws.ec2.Instance;
  association: aws.ec2.EipAssociation;
  /** The image and user data the running server was launched with (kept until the OS, architecture or broker changes). */
  launch: pulumi.Stash;
  push: command.remote.Command;
  /** The copy of the staged files (the web app bundle) the push installs from. */
  pushFiles: command.remote.CopyToRemote;
  /** The SSH host key cloud-init printed on the instance's console: the copy and the push accept no other. */
  hostKey: ServerHostKey;
  /** The history volume's attachment (with historyVolumeId). */
  historyAttachment?: aws.ec2.VolumeAttachment;
}

/**
 * What decides the server's image: a change replaces the server (the preview shows it as a replacement). The broker
 * profile is part of it because the user data installs mosquitto only with broker mosquitto (cloud-init installs
 * packages once, at the first boot): a server launched for iot-core cannot become a mosquitto server by an update, so
 * a switch in either direction launches a fresh one on the same Elastic IP and history volume. Existing mosquitto
 * stacks keep their key (`os/arch`), so adding the broker to it replaces nothing.
 */
export function serverImageKey(os: Os, arch: Arch, broker: BrokerKind = "mosquitto"): string {
  return broker === "mosquitto" ? `${os}/${arch}` : `${os}/${arch}/${broker}`;
}

/** SSH dialling of the push (infra/ssh-dial.ts): at least 10 minutes of refused dials, at most ~31 of dropped ones. */
export const PUSH_DIAL = { dialErrorLimit: 128, perDialTimeout: 10 } as const;

export function createServer(name: string, args: ServerArgs, parent: pulumi.Resource): Server {
  const o: pulumi.CustomResourceOptions = { parent };
  const imageKey = (args.cliReady ?? requireCli()).apply(() => serverImageKey(args.os, args.arch, args.broker));

  // The AMI and the user data are launch-time inputs: a newer AMI or a changed user data must not touch a running
  // server (configuration reaches it through the push), but a new OS, architecture or broker must get both fresh. A Stash
  // keeps the values it was created with (Pulumi docs, "Stash": the output persists the original input) and is
  // replaced, taking the current values, when its replacementTrigger changes. ignoreChanges cannot do this: the
  // engine puts the old value of an ignored input into the new state even when the resource is replaced
  // (pkg/resource/deploy/step_generator.go, processIgnoreChanges), so a t3 -> t4g move would launch the old x86
  // image on Graviton.
  const launch = new pulumi.Stash(
    `${name}-server-launch`,
    { input: { ami: lookupAmi(args.os, args.arch, { parent }), userData: args.userData } },
    { ...o, replacementTrigger: imageKey },
  );
  const launchValue = (k: "ami" | "userData") => launch.output.apply((v: Record<string, string>) => v[k] as string);

  // No EC2 key pair: its name is an input that replaces the instance, and pulumi-aws reads key pairs back after a
  // refresh in a form that makes the next `up` replace the key pair under a new name (pulumi/pulumi-aws#6344), so
  // the server would be replaced with it. The admin public key reaches the default user through the user data's
  // ssh_authorized_keys (cloud-init cc_ssh) instead.
  const instance = new aws.ec2.Instance(
    `${name}-server`,
    {
      ami: launchValue("ami"),
      instanceType: args.instanceType,
      subnetId: args.subnetId,
      vpcSecurityGroupIds: [args.securityGroupId],
      userData: launchValue("userData"),
      // IMDSv2 only: a request forged through the web app cannot read instance credentials with a plain GET.
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: { encrypted: true, volumeType: "gp3", volumeSize: 10, deleteOnTermination: true },
      // Burstable types default to "unlimited" on t3/t4g, which bills for sustained CPU; a micro cloud never needs it.
      creditSpecification: { cpuCredits: "standard" },
      ...(args.iamInstanceProfile === undefined ? {} : { iamInstanceProfile: args.iamInstanceProfile }),
      tags: { ...args.tags, Name: `${name}-server` },
    },
    {
      ...o,
      // Said again on the instance so the preview names the server itself as replaced on an OS/architecture change
      // (changing t3 -> t4g in place would stop it and then fail on the x86 image).
      replacementTrigger: imageKey,
      dependsOn: [...args.securityGroupRules, ...args.networkReady],
    },
  );

  const association = new aws.ec2.EipAssociation(
    `${name}-ip`,
    { instanceId: instance.id, allocationId: args.eip.allocationId },
    // EC2 refuses AssociateAddress while the VPC has no internet gateway (Gateway.NotAttached).
    { ...o, dependsOn: args.networkReady },
  );

  // Without hostKey @pulumi/command accepts any host key (remote/connection.go: ssh.InsecureIgnoreHostKey) while
  // the push's stdin carries every server secret. The key comes from the instance's console output through EC2's
  // API (infra/server-host-key.ts): a new instance gets a new lookup, because its id is the lookup's input.
  const hostKey = new ServerHostKey(
    `${name}-host-key`,
    { instanceId: instance.id, instanceArn: instance.arn, profile: args.awsProfile },
    { ...o, deletedWith: instance },
  );

  // The history volume follows the server: a new instance gets it re-attached. All three inputs are ForceNew
  // (terraform-provider-aws internal/service/ec2/ebs_volume_attachment.go), so a new instance replaces the
  // attachment; the old one must go first, since a volume is attached to one instance at a time
  // (deleteBeforeReplace). Detaching from a running instance whose file system is mounted can leave the volume
  // "busy" or lose writes (Amazon EBS User Guide, "Detach an Amazon EBS volume from an instance": unmount first),
  // so the old server is stopped before the detach; it is being replaced or destroyed anyway.
  const historyAttachment =
    args.historyVolumeId === undefined
      ? undefined
      : new aws.ec2.VolumeAttachment(
          `${name}-history`,
          {
            instanceId: instance.id,
            volumeId: args.historyVolumeId,
            deviceName: HISTORY_DEVICE_NAME,
            stopInstanceBeforeDetaching: true,
          },
          { ...o, deleteBeforeReplace: true },
        );

  const connection = {
    host: args.eip.publicIp,
    user: args.adminUser,
    privateKey: args.adminPrivateKey,
    hostKey: hostKey.hostKey,
    // The first copy and push wait for the instance to boot and sshd to start: 128 failed dials with pulumi-command's
    // backoff (100 ms x1.5 up to 5 s) are 10 minutes when sshd refuses at once, up to ~31 minutes when every dial
    // hits perDialTimeout (infra/ssh-dial.ts; test/unit/ssh-dial.test.ts).
    ...PUSH_DIAL,
  };
  // The web app bundle (megabytes, not secret) is copied over SFTP, not sent on the push's stdin: the state keeps
  // a file asset as a path and a hash, and stdin whole. The provider copies again when the hash changes (an
  // update) and never deletes; a new instance gets a new copy (the trigger).
  const pushFiles = new command.remote.CopyToRemote(
    `${name}-files`,
    { connection, source: args.push.staged, remotePath: SERVER_STAGED_DIR, triggers: [instance.id] },
    { ...o, dependsOn: [instance, association, ...args.securityGroupRules], deletedWith: instance },
  );

  // Everything secret travels on stdin of `sudo bash -s`: never argv, never a file on the way, never a log.
  const push = new command.remote.Command(
    `${name}-push`,
    {
      connection,
      create: PUSH_COMMAND,
      stdin: pulumi.secret(args.push.script),
      logging: "none",
      addPreviousOutputInEnv: false,
      // A config change or certificate rotation changes stdin: an update, which re-runs `create` in place (the
      // provider runs `create` when no `update` is set). Only a new instance replaces the push, because the
      // trigger is its id (@pulumi/command registers replaceOnChanges ["triggers[*]"]); with no `delete`
      // command a replacement removes nothing from the server.
      triggers: [instance.id],
    },
    {
      ...o,
      // The push mounts the history volume (diy-web requires it): it must be attached first.
      dependsOn: [
        instance,
        association,
        pushFiles,
        ...args.securityGroupRules,
        ...(historyAttachment ? [historyAttachment] : []),
      ],
      additionalSecretOutputs: ["stdout", "stderr", "stdin"],
      deletedWith: instance,
    },
  );
  return { instance, association, launch, push, pushFiles, hostKey, historyAttachment };
}
