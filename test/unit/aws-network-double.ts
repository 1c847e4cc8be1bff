// EC2's placement rules for the Pulumi mocks (program-harness.ts): where a security group, an instance and an Elastic
// IP association may go, answered the way EC2 answers. The rules hold in a real account; our code must satisfy them.
//
// Sources:
// - CreateSecurityGroup VpcId: "The ID of the VPC. Required for a nondefault VPC"; RunInstances SubnetId: "If you
//   don't specify a subnet ID, we choose a default subnet from your default VPC". In an account or region without
//   a default VPC (organisation accounts often delete it) both fail with `VPCIdNotSpecified: No default VPC for this
//   user` (the error as users report it, e.g. rancher-archives/quickstart#126, bentoml/aws-ec2-deploy#31).
// - RunInstances with security groups of another VPC than the subnet's: `InvalidParameter: Security group <sg> and
//   subnet <subnet> belong to different networks`.
// - AssociateAddress for an instance in a VPC with no internet gateway attached: `Gateway.NotAttached: Network
//   <vpc> is not attached to any internet gateway`.
// - DescribeSubnets (aws.ec2.getSubnet) of an id that does not exist: the provider reports "no matching EC2 Subnet
//   found".
// - AttachVolume of a volume in another availability zone than the instance: `InvalidVolume.ZoneMismatch: The
//   volume '<vol>' is not in the same availability zone as instance '<i>'` (EC2 API Reference, AttachVolume: "The
//   volume and instance must be within the same Availability Zone"). An instance's zone is its subnet's.

import { createHash } from "node:crypto";

/** What exists in the mocked account before the program runs. */
export interface AccountNetwork {
  /** The region has a default VPC (unset: it has none, as in many organisation accounts). */
  defaultVpc?: boolean;
  /** Existing subnets by id: their VPC and zone (each assumed routed to an internet gateway). */
  subnets?: Record<string, { vpcId: string; availabilityZone: string }>;
  /** Zones of the region that offer every instance type (aws.ec2.getInstanceTypeOfferings). */
  zones?: readonly string[];
}

export const DEFAULT_ZONES = ["eu-central-1a", "eu-central-1b", "eu-central-1c"] as const;
const DEFAULT_VPC_ID = "vpc-default0";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

/**
 * The id the mocks give a resource: "<name>-id", except where the program reads an id's shape: an EBS volume id is
 * "vol-" and 17 hex digits (EC2 API Reference, Volume VolumeId), and the server renders it into the device path.
 */
export function mockId(type: string, name: string): string {
  if (type === "aws:ebs/volume:Volume") return `vol-${createHash("sha256").update(name).digest("hex").slice(0, 17)}`;
  return `${name}-id`;
}
const idOf = (r: Registered) => mockId(r.type, r.name);

export class NetworkDouble {
  constructor(
    private readonly account: AccountNetwork,
    private readonly registered: readonly Registered[],
  ) {}

  private byId(type: string, id: unknown): Registered | undefined {
    return this.registered.find((r) => r.type === type && idOf(r) === id);
  }

  /** The VPC a subnet id belongs to (created by the program or existing in the account). */
  private subnetVpc(subnetId: unknown): string | undefined {
    const created = this.byId("aws:ec2/subnet:Subnet", subnetId);
    if (created) return String(created.inputs.vpcId);
    return this.account.subnets?.[String(subnetId)]?.vpcId;
  }

  private noDefaultVpc(): string | undefined {
    return this.account.defaultVpc ? undefined : "VPCIdNotSpecified: No default VPC for this user";
  }

  /** The zone of a subnet id (created by the program or existing in the account). */
  private subnetZone(subnetId: unknown): string | undefined {
    const created = this.byId("aws:ec2/subnet:Subnet", subnetId);
    if (created) return created.inputs.availabilityZone as string | undefined;
    return this.account.subnets?.[String(subnetId)]?.availabilityZone;
  }

  /** The EC2 error for registering this resource now, or undefined. */
  refusal(type: string, inputs: Record<string, unknown>): string | undefined {
    switch (type) {
      case "aws:ec2/securityGroup:SecurityGroup":
        return inputs.vpcId ? undefined : this.noDefaultVpc();
      case "aws:ec2/instance:Instance": {
        if (!inputs.subnetId && !inputs.networkInterfaces) return this.noDefaultVpc();
        const vpc = inputs.subnetId ? this.subnetVpc(inputs.subnetId) : DEFAULT_VPC_ID;
        for (const sgId of (inputs.vpcSecurityGroupIds as unknown[] | undefined) ?? []) {
          const sg = this.byId("aws:ec2/securityGroup:SecurityGroup", sgId);
          const sgVpc = sg ? (sg.inputs.vpcId ?? DEFAULT_VPC_ID) : undefined;
          if (sgVpc !== undefined && sgVpc !== vpc)
            return `InvalidParameter: Security group ${String(sgId)} and subnet ${String(inputs.subnetId)} belong to different networks`;
        }
        return undefined;
      }
      case "aws:ec2/eipAssociation:EipAssociation": {
        const instance = this.byId("aws:ec2/instance:Instance", inputs.instanceId);
        if (!instance?.inputs.subnetId) return undefined;
        const createdSubnet = this.byId("aws:ec2/subnet:Subnet", instance.inputs.subnetId);
        if (!createdSubnet) return undefined; // an existing subnet of the account: routed, by assumption
        const vpc = String(createdSubnet.inputs.vpcId);
        const gateway = this.registered.some(
          (r) => r.type === "aws:ec2/internetGateway:InternetGateway" && r.inputs.vpcId === vpc,
        );
        return gateway ? undefined : `Gateway.NotAttached: Network ${vpc} is not attached to any internet gateway`;
      }
      case "aws:ec2/volumeAttachment:VolumeAttachment": {
        const instance = this.byId("aws:ec2/instance:Instance", inputs.instanceId);
        const volume = this.byId("aws:ebs/volume:Volume", inputs.volumeId);
        const instanceZone = instance ? this.subnetZone(instance.inputs.subnetId) : undefined;
        const volumeZone = volume?.inputs.availabilityZone as string | undefined;
        if (instanceZone && volumeZone && instanceZone !== volumeZone)
          return `InvalidVolume.ZoneMismatch: The volume '${String(inputs.volumeId)}' is not in the same availability zone as instance '${String(inputs.instanceId)}'`;
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** Answers the invokes that read the account's network, or undefined for others. */
  call(token: string, inputs: Record<string, any>): Record<string, unknown> | undefined {
    if (token === "aws:ec2/getSubnet:getSubnet") {
      const subnet = this.account.subnets?.[String(inputs.id)];
      if (!subnet) throw new Error(`reading EC2 Subnet (${String(inputs.id)}): no matching EC2 Subnet found`);
      return { id: inputs.id, vpcId: subnet.vpcId, availabilityZone: subnet.availabilityZone };
    }
    if (token === "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings") {
      const type = (inputs.filters as { name: string; values: string[] }[] | undefined)?.find(
        (f) => f.name === "instance-type",
      )?.values[0];
      const zones = this.account.zones ?? DEFAULT_ZONES;
      return {
        id: "offerings",
        locations: [...zones],
        instanceTypes: zones.map(() => type),
        locationTypes: zones.map(() => "availability-zone"),
      };
    }
    return undefined;
  }
}
