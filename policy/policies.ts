// Every policy of the pack, importable without starting the policy server (tests call them directly).
import type { Policies } from "@pulumi/policy";
import { allowedInstanceType, encryptedVolumes, imdsv2Required, noSecretsInUserData } from "./instance";
import { securityGroupIngress } from "./network";
import { elasticIpPresent, tagsPresent } from "./stack";

export { allowedInstanceType, encryptedVolumes, imdsv2Required, noSecretsInUserData } from "./instance";
export { securityGroupIngress } from "./network";
export { elasticIpPresent, tagsPresent } from "./stack";

export const policies: Policies = [
  securityGroupIngress,
  imdsv2Required,
  encryptedVolumes,
  allowedInstanceType,
  noSecretsInUserData,
  elasticIpPresent,
  tagsPresent,
];
