// Small helpers shared by the rules: resource type tokens and reading policy args in a typed way.
import type { ReportViolation, ResourceValidationArgs } from "@pulumi/policy";

/** Type tokens of the resources the rules look at (`pulumi stack export` shows the same strings). */
export const TYPES = {
  instance: "aws:ec2/instance:Instance",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  egressRule: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  eip: "aws:ec2/eip:Eip",
  keyPair: "aws:ec2/keyPair:KeyPair",
  volume: "aws:ebs/volume:Volume",
} as const;

/** A resource validation that only looks at one resource type; props arrive as plain (resolved) values. */
export function forType<T>(
  type: string,
  validate: (props: T, args: ResourceValidationArgs, report: ReportViolation) => void,
): (args: ResourceValidationArgs, report: ReportViolation) => void {
  return (args, report) => {
    if (args.type === type) validate(args.props as T, args, report);
  };
}
