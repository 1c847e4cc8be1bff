// Exposure: what the internet may reach. The design opens exactly HTTP (redirect), HTTPS (web app) and
// MQTT over TLS to the world, and SSH only from the admin CIDRs.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "./common";

/** Ports anyone may reach: 80 (redirect to HTTPS), 443 (web app), 8883 (MQTT over TLS). */
export const PUBLIC_PORTS = [80, 443, 8883] as const;
/** SSH: allowed only from a source narrower than the whole internet. */
export const SSH_PORT = 22;

/** One ingress permission, normalised from the three ways AWS resources spell it. */
export interface Ingress {
  fromPort?: number;
  toPort?: number;
  /** "tcp", "udp", "icmp", "-1" (all) or a protocol number as a string. */
  protocol?: string;
  cidrs: string[];
  /** Another security group or a prefix list instead of CIDRs. */
  hasNonCidrSource: boolean;
}

/** True for a CIDR that contains every address of its family (0.0.0.0/0, ::/0). */
export function isWorld(cidr: string): boolean {
  const prefix = Number(cidr.split("/")[1]);
  return cidr.includes("/") && prefix === 0;
}

const TCP = new Set(["tcp", "6"]);

/** The problems of one ingress permission; empty when it is allowed. */
export function ingressProblems(rule: Ingress): string[] {
  const protocol = String(rule.protocol ?? "").toLowerCase();
  const from = rule.fromPort;
  const to = rule.toPort;
  const ports = from === to ? `port ${from}` : `ports ${from}-${to}`;
  if (protocol === "-1" || protocol === "all") return ["ingress on all protocols and ports: open single TCP ports"];
  if (!TCP.has(protocol))
    return [`ingress on protocol ${protocol || "(none)"}: only TCP ${PUBLIC_PORTS.join("/")} and 22 are allowed`];
  if (from === undefined || to === undefined || from !== to) {
    return [`ingress on ${ports}: open single ports, only ${PUBLIC_PORTS.join(", ")} and ${SSH_PORT}`];
  }
  if ((PUBLIC_PORTS as readonly number[]).includes(from)) return [];
  if (from === SSH_PORT) {
    const world = rule.cidrs.filter(isWorld);
    if (world.length > 0) {
      return [`SSH (22) open to ${world.join(", ")}: allow it only from the admin CIDRs (config adminCidrs)`];
    }
    if (rule.cidrs.length === 0 && !rule.hasNonCidrSource) return ["SSH (22) rule without a source"];
    return [];
  }
  return [`ingress on ${ports}: only ${PUBLIC_PORTS.join(", ")} (public) and ${SSH_PORT} (admin CIDRs) may be opened`];
}

interface InlineIngress {
  fromPort?: number;
  toPort?: number;
  protocol?: string;
  cidrBlocks?: string[];
  ipv6CidrBlocks?: string[];
  securityGroups?: string[];
  prefixListIds?: string[];
  self?: boolean;
}
interface SecurityGroupRuleProps extends InlineIngress {
  type?: "ingress" | "egress";
  sourceSecurityGroupId?: string;
}
interface IngressRuleProps {
  fromPort?: number;
  toPort?: number;
  ipProtocol?: string;
  cidrIpv4?: string;
  cidrIpv6?: string;
  referencedSecurityGroupId?: string;
  prefixListId?: string;
}

function fromInline(r: InlineIngress): Ingress {
  return {
    fromPort: r.fromPort,
    toPort: r.toPort,
    protocol: r.protocol,
    cidrs: [...(r.cidrBlocks ?? []), ...(r.ipv6CidrBlocks ?? [])],
    hasNonCidrSource: (r.securityGroups?.length ?? 0) > 0 || (r.prefixListIds?.length ?? 0) > 0 || r.self === true,
  };
}

/** Every ingress permission a resource declares, or undefined for resources that declare none. */
export function ingressOf(type: string, props: Record<string, unknown>): Ingress[] | undefined {
  switch (type) {
    case TYPES.securityGroup:
      return ((props.ingress as InlineIngress[] | undefined) ?? []).map(fromInline);
    case TYPES.securityGroupRule: {
      const p = props as SecurityGroupRuleProps;
      if (p.type !== "ingress") return undefined;
      const rule = fromInline(p);
      return [{ ...rule, hasNonCidrSource: rule.hasNonCidrSource || p.sourceSecurityGroupId !== undefined }];
    }
    case TYPES.ingressRule: {
      const p = props as IngressRuleProps;
      return [
        {
          fromPort: p.fromPort,
          toPort: p.toPort,
          protocol: p.ipProtocol,
          cidrs: [p.cidrIpv4, p.cidrIpv6].filter((c): c is string => typeof c === "string"),
          hasNonCidrSource: p.referencedSecurityGroupId !== undefined || p.prefixListId !== undefined,
        },
      ];
    }
    default:
      return undefined;
  }
}

export const securityGroupIngress: ResourceValidationPolicy = {
  name: "security-group-ingress",
  description: `Ingress only on TCP ${PUBLIC_PORTS.join(", ")} from anywhere and ${SSH_PORT} from non-world CIDRs.`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const rules = ingressOf(args.type, args.props);
    for (const rule of rules ?? []) {
      for (const problem of ingressProblems(rule)) reportViolation(problem);
    }
  },
};
