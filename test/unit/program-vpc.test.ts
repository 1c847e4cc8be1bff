// Where the server goes, in an account with no default VPC (as many organisation accounts are): by default the stack
// builds its own VPC with one public subnet (IPv4 + IPv6); with `subnetId` it uses an existing subnet. The mocks hold
// EC2's placement rules (aws-network-double.ts), so a security group or instance that relies on a default VPC fails
// here as it would on `pulumi up`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parseSettings } from "../../infra/config";
import { firstIpv6Subnet, pickZone, SUBNET_CIDR, VPC_CIDR } from "../../infra/vpc";
import { NetworkDouble } from "./aws-network-double";
import { deployCloud, type Harness, type MockWorld } from "./program-harness";

const base = { adminCidrs: '["198.51.100.7/32"]' };
const EXISTING = "subnet-0123456789abcdef0";

async function build(raw: Record<string, unknown>, world: MockWorld) {
  const { h } = await deployCloud({ ...base, ...raw }, { name: "net", world, webBundle: "x" });
  assert.deepEqual(h.refused, [], "EC2 would refuse a resource");
  return h;
}

const one = (h: Harness, type: string) => {
  const rs = h.ofType(type);
  assert.equal(rs.length, 1, `expected one ${type}, got ${rs.length}`);
  return rs[0] as NonNullable<(typeof rs)[0]>;
};
const waitsFor = (r: { options: { dependencies: string[] } }, name: string, type: string) =>
  r.options.dependencies.some((u) => u.endsWith(`${type}::${name}`));

describe("EC2's placement rules in the mocks (aws-network-double.ts)", () => {
  test("a security group or instance naming no VPC/subnet needs a default VPC: VPCIdNotSpecified without one", () => {
    const none = new NetworkDouble({}, []);
    assert.equal(
      none.refusal("aws:ec2/securityGroup:SecurityGroup", { description: "x" }),
      "VPCIdNotSpecified: No default VPC for this user",
    );
    assert.match(none.refusal("aws:ec2/instance:Instance", { ami: "ami-1" }) ?? "", /^VPCIdNotSpecified/);
    const withDefault = new NetworkDouble({ defaultVpc: true }, []);
    assert.equal(withDefault.refusal("aws:ec2/securityGroup:SecurityGroup", {}), undefined);
    assert.equal(withDefault.refusal("aws:ec2/instance:Instance", {}), undefined);
  });

  test("security groups of another VPC than the subnet's, and an address for a VPC without a gateway, are refused", () => {
    const registered = [
      { type: "aws:ec2/securityGroup:SecurityGroup", name: "sg", inputs: { vpcId: "vpc-a" } },
      { type: "aws:ec2/subnet:Subnet", name: "sub", inputs: { vpcId: "vpc-b" } },
      { type: "aws:ec2/instance:Instance", name: "i", inputs: { subnetId: "sub-id" } },
    ];
    const d = new NetworkDouble({}, registered);
    assert.match(
      d.refusal("aws:ec2/instance:Instance", { subnetId: "sub-id", vpcSecurityGroupIds: ["sg-id"] }) ?? "",
      /^InvalidParameter: Security group sg-id and subnet sub-id belong to different networks/,
    );
    assert.match(
      d.refusal("aws:ec2/eipAssociation:EipAssociation", { instanceId: "i-id" }) ?? "",
      /^Gateway\.NotAttached: Network vpc-b/,
    );
    assert.throws(() => d.call("aws:ec2/getSubnet:getSubnet", { id: "subnet-00000000" }), /no matching EC2 Subnet/);
  });
});

describe("no default VPC, no subnetId: the stack's own VPC", () => {
  let h: Harness;
  test("builds without anything EC2 would refuse", async () => {
    h = await build({}, {});
  });

  test("a VPC with an Amazon IPv6 /56, one public subnet with IPv4 and the first IPv6 /64, routed both ways", () => {
    const vpc = one(h, "aws:ec2/vpc:Vpc");
    assert.equal(vpc.inputs.cidrBlock, VPC_CIDR);
    assert.equal(vpc.inputs.assignGeneratedIpv6CidrBlock, true);
    const subnet = one(h, "aws:ec2/subnet:Subnet");
    assert.equal(subnet.inputs.vpcId, `${vpc.name}-id`);
    assert.equal(subnet.inputs.cidrBlock, SUBNET_CIDR);
    assert.equal(subnet.inputs.ipv6CidrBlock, "2001:db8:4d:e600::/64");
    assert.equal(subnet.inputs.mapPublicIpOnLaunch, true);
    assert.equal(subnet.inputs.assignIpv6AddressOnCreation, true);
    assert.equal(subnet.inputs.availabilityZone, "eu-central-1a");
    const igw = one(h, "aws:ec2/internetGateway:InternetGateway");
    assert.equal(igw.inputs.vpcId, `${vpc.name}-id`);
    const table = one(h, "aws:ec2/routeTable:RouteTable");
    assert.deepEqual(
      (table.inputs.routes as { cidrBlock?: string; ipv6CidrBlock?: string; gatewayId: string }[]).map(
        (r) => `${r.cidrBlock ?? r.ipv6CidrBlock} -> ${r.gatewayId}`,
      ),
      [`0.0.0.0/0 -> ${igw.name}-id`, `::/0 -> ${igw.name}-id`],
    );
    const assoc = one(h, "aws:ec2/routeTableAssociation:RouteTableAssociation");
    assert.deepEqual([assoc.inputs.subnetId, assoc.inputs.routeTableId], [`${subnet.name}-id`, `${table.name}-id`]);
  });

  test("the security group is in that VPC, the instance in that subnet, and both wait for the way out", () => {
    const vpc = one(h, "aws:ec2/vpc:Vpc");
    const subnet = one(h, "aws:ec2/subnet:Subnet");
    assert.equal(one(h, "aws:ec2/securityGroup:SecurityGroup").inputs.vpcId, `${vpc.name}-id`);
    const instance = one(h, "aws:ec2/instance:Instance");
    assert.equal(instance.inputs.subnetId, `${subnet.name}-id`);
    for (const [name, type] of [
      ["net-igw", "aws:ec2/internetGateway:InternetGateway"],
      ["net-public", "aws:ec2/routeTable:RouteTable"],
      ["net-public", "aws:ec2/routeTableAssociation:RouteTableAssociation"],
    ] as const)
      assert.ok(waitsFor(instance, name, type), `the instance does not wait for ${type}`);
    const association = one(h, "aws:ec2/eipAssociation:EipAssociation");
    assert.ok(waitsFor(association, "net-igw", "aws:ec2/internetGateway:InternetGateway"));
  });

  test("every new resource is tagged and named", () => {
    for (const t of ["aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway"])
      assert.match(String(one(h, t).inputs.tags?.Name), /^net-/);
  });
});

describe("subnetId: an existing subnet (its VPC looked up)", () => {
  let h: Harness;
  test("builds into the subnet's VPC, creating no VPC of its own", async () => {
    h = await build(
      { subnetId: EXISTING },
      { subnets: { [EXISTING]: { vpcId: "vpc-0abc1234def567890", availabilityZone: "eu-central-1b" } } },
    );
    for (const t of ["aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway"])
      assert.equal(h.ofType(t).length, 0, t);
    assert.equal(one(h, "aws:ec2/securityGroup:SecurityGroup").inputs.vpcId, "vpc-0abc1234def567890");
    assert.equal(one(h, "aws:ec2/instance:Instance").inputs.subnetId, EXISTING);
    assert.ok(h.calls.some((c) => c.token === "aws:ec2/getSubnet:getSubnet" && c.inputs.id === EXISTING));
  });

  test("config refuses a value that is not a subnet id, before anything is created", () => {
    assert.throws(
      () => parseSettings({ ...base, subnetId: "vpc-0abc" }, () => pulumi.secret("")),
      /subnetId: "vpc-0abc" is not a subnet id like subnet-0123456789abcdef0/,
    );
  });
});

test("pure helpers: the first /64 of the VPC's /56, and a stable zone choice", () => {
  assert.equal(firstIpv6Subnet("2600:1f18:abc:de00::/56"), "2600:1f18:abc:de00::/64");
  assert.throws(() => firstIpv6Subnet("10.0.0.0/16"), /\/56/);
  assert.equal(pickZone(["eu-west-1c", "eu-west-1a", "eu-west-1b"], "t4g.micro"), "eu-west-1a");
  assert.throws(() => pickZone([], "t4g.micro"), /no availability zone of this region offers t4g\.micro/);
});
