// The domain's A record in Route53, pointing at the Elastic IP (stack: domain + route53ZoneId).
// Without Route53 the name is kept current by the dynamic-DNS timer (infra/render/ddns.ts) instead.
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

export interface DnsArgs {
  domain: string;
  zoneId: string;
  publicIp: pulumi.Input<string>;
}

/** TTL short enough that moving the stack to a new address is quick, long enough to cache. */
export const DNS_TTL_SECONDS = 300;

export function createDnsRecord(name: string, args: DnsArgs, opts: pulumi.CustomResourceOptions): aws.route53.Record {
  return new aws.route53.Record(
    `${name}-a`,
    {
      zoneId: args.zoneId,
      name: args.domain,
      type: "A",
      ttl: DNS_TTL_SECONDS,
      records: [args.publicIp],
    },
    opts,
  );
}
