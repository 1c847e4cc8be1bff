// Every example stack file in the repository is evaluated by the real program under mocks, and what it would
// create is run through the policy pack: an example can never drift from the config schema, and an example
// that the CI preview would reject (policy violation) fails here first.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { awsRefusals, formatRefusals } from "../../infra/aws-rules";
import { policies } from "../../policy/policies";
import { cloudInitSchema } from "./cloud-init-schema";
import { type ResourceUnderPolicy, resourceViolations, stackResource, stackViolations } from "./policy-args";
import type { StackEvaluation } from "./stacks-eval-child";

const root = path.resolve(__dirname, "../..");
const stackFiles = fs
  .readdirSync(root)
  .filter((f) => /^Pulumi\..+\.yaml$/.test(f))
  .sort();

async function evaluate(file: string): Promise<StackEvaluation> {
  const child = path.join(__dirname, "stacks-eval-child.ts");
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", child, path.join(root, file)], {
      cwd: root,
      maxBuffer: 256 * 1024 * 1024,
    });
    return JSON.parse(stdout) as StackEvaluation;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${file} does not evaluate: ${err.stderr?.trim() || err.message}`);
  }
}

/** Runs every policy of the pack over the evaluated resources; returns "policy: message" lines. */
async function policyViolations(evaluation: StackEvaluation, level: "mandatory" | "advisory"): Promise<string[]> {
  const found: string[] = [];
  const selected = policies.filter((p) => (p.enforcementLevel ?? "mandatory") === level);
  const resources: ResourceUnderPolicy[] = evaluation.resources.map((r) => ({
    type: r.type,
    name: r.name,
    props: r.inputs,
    stack: evaluation.stack,
  }));
  const stackResources = resources.map((r) => stackResource(r));
  for (const policy of selected) {
    const report = (messages: string[]) => found.push(...messages.map((m) => `${policy.name}: ${m}`));
    for (const r of resources) report(await resourceViolations(policy as ResourceValidationPolicy, r));
    if ("validateStack" in policy) report(await stackViolations(policy as StackValidationPolicy, stackResources));
  }
  return found;
}

describe("example stack files", () => {
  it("include the dev and prod examples", () => {
    assert.ok(stackFiles.includes("Pulumi.dev.yaml") && stackFiles.includes("Pulumi.prod.yaml"), stackFiles.join(", "));
  });

  for (const file of stackFiles) {
    describe(file, () => {
      let evaluation: StackEvaluation;

      it("evaluates the program under mocks with this file's config", async () => {
        evaluation = await evaluate(file);
        assert.ok(
          evaluation.resources.some((r) => r.type === "aws:ec2/instance:Instance"),
          "creates the server instance",
        );
        for (const output of ["webUrl", "brokerEndpoint", "publicIp", "caCertPem"]) {
          assert.ok(evaluation.outputs.includes(output), `exports ${output}`);
        }
      });

      it("sends only names, descriptions and tags AWS accepts (infra/aws-rules.ts)", () => {
        assert.ok(evaluation, "the stack evaluated");
        const described = evaluation.resources.filter((r) => typeof r.inputs.description === "string");
        assert.ok(described.length >= 5, "the security group and its rules carry descriptions");
        const refused = evaluation.resources.flatMap((r) =>
          awsRefusals(r.type, r.inputs).map((x) => `${r.type} ${r.name}: ${formatRefusals([x])}`),
        );
        assert.deepEqual(refused, []);
      });

      it("passes every mandatory policy of the pack", async () => {
        assert.ok(evaluation, "the stack evaluated");
        const checked = evaluation.resources.filter((r) => /SecurityGroup|Instance/.test(r.type));
        assert.ok(checked.length >= 3, "the policies see the instance and the security group rules");
        assert.deepEqual(await policyViolations(evaluation, "mandatory"), []);
      });

      it("passes the advisory policies too, as an example should", async () => {
        assert.ok(evaluation, "the stack evaluated");
        assert.deepEqual(await policyViolations(evaluation, "advisory"), []);
      });

      it("sends the instance user data that cloud-init 25.1's own schema accepts", () => {
        assert.ok(evaluation, "the stack evaluated");
        const instance = evaluation.resources.find((r) => r.type === "aws:ec2/instance:Instance");
        const userData = instance?.inputs.userData;
        assert.equal(typeof userData, "string", "the instance has user data");
        assert.deepEqual(cloudInitSchema().validate(userData as string), []);
      });
    });
  }
});
