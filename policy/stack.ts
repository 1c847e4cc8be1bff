// Advisory checks over the whole stack: a stable address for the server, and tags for cost tracking.
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { TYPES } from "./common";

export const elasticIpPresent: StackValidationPolicy = {
  name: "server-elastic-ip",
  description:
    "A stack with an instance gives it an Elastic IP, so devices and DNS keep one address across stop/start.",
  enforcementLevel: "advisory",
  validateStack: (args, reportViolation) => {
    const instances = args.resources.filter((r) => r.type === TYPES.instance);
    const eips = args.resources.filter((r) => r.type === TYPES.eip);
    if (instances.length > 0 && eips.length === 0) {
      reportViolation(
        "no Elastic IP: the instance's public address changes on every stop/start and devices lose the broker",
      );
    }
  },
};

/** Resource types that carry tags in this program. */
const TAGGED = new Set<string>([TYPES.instance, TYPES.securityGroup, TYPES.eip, TYPES.keyPair, TYPES.volume]);

function hasEntries(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length > 0;
}

/** Tags on the resource itself or default tags on its provider. */
function isTagged(resource: PolicyResource): boolean {
  const defaultTags = resource.provider?.props.defaultTags as { tags?: unknown } | undefined;
  return hasEntries(resource.props.tags) || hasEntries(defaultTags?.tags);
}

export const tagsPresent: StackValidationPolicy = {
  name: "resources-tagged",
  description: "Taggable resources carry tags (their own or the provider's defaultTags), to find and cost them.",
  enforcementLevel: "advisory",
  validateStack: (args, reportViolation) => {
    for (const resource of args.resources) {
      if (TAGGED.has(resource.type) && !isTagged(resource)) {
        reportViolation(`${resource.type} "${resource.name}" has no tags`, resource.urn);
      }
    }
  },
};
