// IAM roles that one AWS service assumes on the stack's behalf (Data Lifecycle Manager for the history snapshots,
// EC2 for the web app's instance profile with broker iot-core): trusted by that service only.
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/** The trust policy of a role only `service` (e.g. "ec2.amazonaws.com") may assume. */
export function serviceTrustPolicy(service: string) {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  } as const;
}

export function serviceRole(
  name: string,
  args: { service: string; description: string; tags: Record<string, string> },
  opts: pulumi.CustomResourceOptions,
): aws.iam.Role {
  return new aws.iam.Role(
    name,
    {
      description: args.description,
      assumeRolePolicy: JSON.stringify(serviceTrustPolicy(args.service)),
      tags: args.tags,
    },
    opts,
  );
}
