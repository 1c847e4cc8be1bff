// Where the server lives: by default a small VPC of its own with one public subnet (IPv4 and IPv6), so the stack
// works in accounts without a default VPC (many organisation accounts: a security group or instance that names no
// VPC/subnet then fails with VPCIdNotSpecified). With `subnetId` the server goes into that existing subnet instead.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** The dedicated VPC's address plan: private IPv4 space the server alone uses; Amazon assigns the IPv6 /56. */
export const VPC_CIDR = "10.73.0.0/16";
export const SUBNET_CIDR = "10.73.1.0/24";

export interface PlacementArgs {
  /** An existing subnet (config subnetId); unset: a dedicated VPC and subnet are created. */
  subnetId?: string;
  /** The availability zone must offer this type (a new subnet is placed where it is offered). */
  instanceType: string;
  tags: Record<string, string>;
}

export interface Placement {
  vpcId: pulumi.Output<string>;
  subnetId: pulumi.Output<string>;
  /** The subnet's availability zone: the server's, and so the history volume's (EBS attaches only within a zone). */
  availabilityZone: pulumi.Output<string>;
  /**
   * What the instance (and the Elastic IP association) must wait for: the internet gateway and the subnet's route
   * to it. Without them the instance boots with no way out (cloud-init's apt fails and does not run again), and
   * AssociateAddress is refused while the VPC has no internet gateway (Gateway.NotAttached).
   */
  ready: pulumi.Resource[];
}

/** The first /64 of the VPC's Amazon-assigned /56 (its network address with the longer prefix). */
export function firstIpv6Subnet(vpcIpv6Cidr: string): string {
  const m = /^([0-9a-f:]+)\/56$/i.exec(vpcIpv6Cidr.trim());
  if (!m) throw new Error(`expected the VPC's IPv6 block as <prefix>/56, got ${JSON.stringify(vpcIpv6Cidr)}`);
  return `${m[1]}/64`;
}

/** The zone for a new subnet: the first (in name order) that offers the instance type, so the choice is stable. */
export function pickZone(offered: readonly string[], instanceType: string): string {
  const zone = [...offered].sort()[0];
  if (!zone) throw new Error(`no availability zone of this region offers ${instanceType}; choose another instanceType`);
  return zone;
}

export function createPlacement(name: string, args: PlacementArgs, parent: pulumi.Resource): Placement {
  const o: pulumi.CustomResourceOptions = { parent };
  if (args.subnetId) {
    const subnet = aws.ec2.getSubnetOutput({ id: args.subnetId }, { parent });
    return {
      vpcId: subnet.vpcId,
      subnetId: pulumi.output(args.subnetId),
      availabilityZone: subnet.availabilityZone,
      ready: [],
    };
  }
  const tagged = (what: string) => ({ ...args.tags, Name: `${name}-${what}` });
  const vpc = new aws.ec2.Vpc(
    `${name}-vpc`,
    {
      cidrBlock: VPC_CIDR,
      assignGeneratedIpv6CidrBlock: true,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: tagged("vpc"),
    },
    o,
  );
  // Free, and the only way out: apt, Let's Encrypt, the relay, and the way in for 22/80/443/8883.
  const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tagged("igw") }, o);
  const zone = aws.ec2
    .getInstanceTypeOfferingsOutput(
      { locationType: "availability-zone", filters: [{ name: "instance-type", values: [args.instanceType] }] },
      { parent },
    )
    .apply((r) => pickZone(r.locations, args.instanceType));
  const subnet = new aws.ec2.Subnet(
    `${name}-public`,
    {
      vpcId: vpc.id,
      cidrBlock: SUBNET_CIDR,
      ipv6CidrBlock: vpc.ipv6CidrBlock.apply(firstIpv6Subnet),
      availabilityZone: zone,
      // A public address from the first boot (the Elastic IP replaces it once associated): cloud-init's apt runs
      // before the association exists.
      mapPublicIpOnLaunch: true,
      assignIpv6AddressOnCreation: true,
      tags: tagged("public"),
    },
    // A zone that starts offering the type later must not move (replace) the subnet and with it the server.
    { ...o, ignoreChanges: ["availabilityZone"] },
  );
  const routes = new aws.ec2.RouteTable(
    `${name}-public`,
    {
      vpcId: vpc.id,
      routes: [
        { cidrBlock: "0.0.0.0/0", gatewayId: gateway.id },
        { ipv6CidrBlock: "::/0", gatewayId: gateway.id },
      ],
      tags: tagged("public"),
    },
    o,
  );
  const association = new aws.ec2.RouteTableAssociation(
    `${name}-public`,
    { subnetId: subnet.id, routeTableId: routes.id },
    o,
  );
  return {
    vpcId: vpc.id,
    subnetId: subnet.id,
    availabilityZone: subnet.availabilityZone,
    ready: [gateway, routes, association],
  };
}
