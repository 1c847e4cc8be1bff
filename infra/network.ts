// The server's only firewall: one security group in the server's VPC (infra/vpc.ts) with one rule resource per
// port and source, so a change to adminCidrs replaces exactly the rules it touches.
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { type BrokerKind, IOT_CORE_MQTT_PORT } from "../protocol";
import { checkCidr } from "./net";
import { MQTT_TLS_PORT } from "./render/mosquitto";

/** What the world may reach: HTTP (redirect + ACME), HTTPS, MQTT over TLS. SSH is added per admin CIDR. */
export const PUBLIC_PORTS = [
  // Descriptions reach EC2, which takes only the characters of infra/aws-rules.ts (no apostrophe).
  { port: 80, what: "HTTP: redirect to HTTPS and ACME HTTP-01 challenges (Lets Encrypt)" },
  { port: 443, what: "HTTPS: the web app" },
  { port: MQTT_TLS_PORT, what: "MQTT over TLS with client certificates" },
] as const;
export const SSH_PORT = 22;

export interface NetworkArgs {
  /** Named explicitly: without it EC2 uses the region's default VPC, and fails (VPCIdNotSpecified) where none exists. */
  vpcId: pulumi.Input<string>;
  adminCidrs: readonly string[];
  /** Outbound SMTP relay port, when alert mail is configured. */
  smtpPort?: number;
  /**
   * Default mosquitto: MQTT over TLS is open to the world. iot-core: no broker runs on the server, so nothing listens
   * on it and it stays closed; the web app dials AWS IoT Core's endpoint instead (egress).
   */
  broker?: BrokerKind;
  tags: Record<string, string>;
}

export interface Network {
  securityGroup: aws.ec2.SecurityGroup;
  /** Every ingress and egress rule: the instance waits for them, or it could boot (and apt run) without egress. */
  rules: pulumi.Resource[];
}

const cidrArgs = (cidr: string) => (checkCidr(cidr).ok && cidr.includes(":") ? { cidrIpv6: cidr } : { cidrIpv4: cidr });
const WORLD = ["0.0.0.0/0", "::/0"] as const;

export function createNetwork(name: string, args: NetworkArgs, parent: pulumi.Resource): Network {
  const o: pulumi.CustomResourceOptions = { parent };
  const localBroker = (args.broker ?? "mosquitto") === "mosquitto";
  // No inline rules (they fight with rule resources). The provider deletes AWS's default allow-all egress
  // rule when it creates the group, so egress is exactly the rules below.
  const sg = new aws.ec2.SecurityGroup(
    `${name}-sg`,
    {
      vpcId: args.vpcId,
      description: `DIY Device Cloud server: SSH from admin CIDRs; HTTP, HTTPS${localBroker ? ", MQTT/TLS" : ""} public`,
      tags: { ...args.tags, Name: `${name}-server` },
    },
    o,
  );

  const rules: pulumi.Resource[] = [];
  const ingress = (id: string, port: number, cidr: string, description: string) =>
    rules.push(
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-in-${id}`,
        {
          securityGroupId: sg.id,
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          ...cidrArgs(cidr),
          description,
          tags: args.tags,
        },
        o,
      ),
    );
  // Named by the CIDR, not its position: removing one admin CIDR leaves the others' rules untouched.
  for (const cidr of args.adminCidrs)
    ingress(`ssh-${cidr.replace(/[^0-9a-fA-F]+/g, "-")}`, SSH_PORT, cidr, `SSH from admin CIDR ${cidr}`);
  for (const { port, what } of PUBLIC_PORTS.filter((p) => localBroker || p.port !== MQTT_TLS_PORT)) {
    WORLD.forEach((cidr, i) => ingress(`${port}-${i === 0 ? "v4" : "v6"}`, port, cidr, what));
  }

  // Outbound: apt, Let's Encrypt and dynamic DNS need HTTP(S); postfix needs its relay. DNS, NTP and the
  // instance metadata service are link-local Amazon services that security groups do not filter.
  const egressPorts = [
    { port: 80, what: "HTTP: Debian/Ubuntu package mirrors" },
    { port: 443, what: "HTTPS: package mirrors, ACME (Lets Encrypt), dynamic DNS" },
    ...(args.smtpPort !== undefined && args.smtpPort !== 80 && args.smtpPort !== 443
      ? [{ port: args.smtpPort, what: "SMTP relay for alert mail" }]
      : []),
    ...(localBroker || args.smtpPort === IOT_CORE_MQTT_PORT
      ? []
      : [{ port: IOT_CORE_MQTT_PORT, what: "MQTT over TLS: the web app to the AWS IoT Core endpoint" }]),
  ];
  for (const { port, what } of egressPorts) {
    WORLD.forEach((cidr, i) =>
      rules.push(
        new aws.vpc.SecurityGroupEgressRule(
          `${name}-out-${port}-${i === 0 ? "v4" : "v6"}`,
          {
            securityGroupId: sg.id,
            ipProtocol: "tcp",
            fromPort: port,
            toPort: port,
            ...cidrArgs(cidr),
            description: what,
            tags: args.tags,
          },
          o,
        ),
      ),
    );
  }
  return { securityGroup: sg, rules };
}
