// The policies called the way the policy server calls them (@pulumi/policy's ResourceValidationArgs and
// StackValidationArgs), with the argument bags built here: no Pulumi CLI is needed. policy-pack.test.ts feeds them
// hand-written resources, stacks-eval.test.ts what the program creates for each example stack file.
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

/** A resource as a policy sees it: type, name and resolved props, in stack `stack` (default "test"). */
export interface ResourceUnderPolicy {
  type: string;
  name?: string;
  props: Record<string, unknown>;
  stack?: string;
}

/** The options of a resource that sets none (what the engine sends then). */
const NO_OPTIONS = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

const urnOf = (r: ResourceUnderPolicy) =>
  `urn:pulumi:${r.stack ?? "test"}::diy-device-cloud::${r.type}::${r.name ?? "r"}`;

export function resourceArgs(r: ResourceUnderPolicy, config: object = {}): ResourceValidationArgs {
  return {
    type: r.type,
    props: r.props,
    urn: urnOf(r),
    name: r.name ?? "r",
    opts: NO_OPTIONS,
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`not applicable: ${reason}`);
    },
  };
}

/** The messages a resource policy reports for one resource (every validateResource it has). */
export async function resourceViolations(
  policy: ResourceValidationPolicy,
  r: ResourceUnderPolicy,
  config?: object,
): Promise<string[]> {
  const found: string[] = [];
  for (const validate of [policy.validateResource ?? []].flat())
    await validate(resourceArgs(r, config), (message) => found.push(message));
  return found;
}

/** A resource in a stack policy's list; `providerProps`: the props of the explicit AWS provider it uses. */
export function stackResource(r: ResourceUnderPolicy, providerProps?: Record<string, unknown>): PolicyResource {
  return {
    type: r.type,
    name: r.name ?? "r",
    props: r.props,
    urn: urnOf(r),
    opts: NO_OPTIONS,
    provider: providerProps
      ? { type: "pulumi:providers:aws", name: "default", urn: "urn:provider", props: providerProps }
      : undefined,
    dependencies: [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  } as PolicyResource;
}

/** The messages a stack policy reports for these resources. */
export async function stackViolations(policy: StackValidationPolicy, resources: PolicyResource[]): Promise<string[]> {
  const found: string[] = [];
  const args = {
    resources,
    getConfig: <T extends object>() => ({}) as T,
    stackTags: new Map(),
  } as unknown as StackValidationArgs;
  await policy.validateStack(args, (message) => found.push(message));
  return found;
}
