// Rules for the trust boundary between CI and the cloud, checked on the parsed workflow files. Each
// returns the problems it finds ("file: jobs.x: what is wrong and the fix"); workflows-lint.test.ts runs
// them on the repository's workflows and on attack workflows that each rule must catch.
// GitHub's own rules cited: "Security hardening for GitHub Actions" (docs.github.com/actions/security-guides):
// pull_request_target and workflow_run run with the base repository's secrets; self-hosted runners
// "should almost never be used for public repositories" because a pull request can run code on them;
// expressions in `run:` are expanded into the script before the shell sees it (script injection);
// environment secrets are given only to jobs that name the environment, after its protection rules pass.

export interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
export interface Job {
  "runs-on"?: string | string[];
  environment?: string | { name?: string };
  if?: string;
  permissions?: Record<string, string> | string;
  concurrency?: { group?: string; "cancel-in-progress"?: boolean | string } | string;
  env?: Record<string, unknown>;
  steps?: Step[];
}
export interface Workflow {
  on?: string | string[] | Record<string, unknown>;
  permissions?: unknown;
  jobs?: Record<string, Job>;
}

/** Label of the self-hosted runner in the admin network (README "Opt-in deployment"). */
export const DEPLOY_RUNNER_LABELS = ["self-hosted", "linux", "diy-admin"] as const;
/** GitHub environments that hold the write credentials; named after the stacks. */
export const DEPLOY_ENVIRONMENTS = ["dev", "prod"] as const;

const PRIVILEGED_TRIGGERS = ["pull_request_target", "workflow_run", "issue_comment"];
/** The same-repository guard: pull requests from forks get no OIDC token and no secrets (and must not ask). */
const SAME_REPO_GUARD = "github.event.pull_request.head.repo.full_name == github.repository";

function triggers(wf: Workflow): Record<string, unknown> {
  const on = wf.on;
  if (typeof on === "string") return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((t) => [t, null]));
  return on ?? {};
}

function labels(job: Job): string[] {
  const r = job["runs-on"];
  return r === undefined ? [] : Array.isArray(r) ? r : [r];
}

function environmentName(job: Job): string | undefined {
  return typeof job.environment === "string" ? job.environment : job.environment?.name;
}

const jobs = (wf: Workflow) => Object.entries(wf.jobs ?? {});
const text = (v: unknown) => JSON.stringify(v ?? "");

/** Commands that change a stack: pulumi up/destroy/refresh/import, by the action or on a command line. */
function changesStack(job: Job): boolean {
  return (job.steps ?? []).some(
    (s) =>
      (s.uses?.startsWith("pulumi/actions@") && /^(up|update|destroy|refresh|import)$/.test(String(s.with?.command))) ||
      /\bpulumi\s+(up|update|destroy|refresh|import)\b/.test(s.run ?? ""),
  );
}

/** R1: no trigger that runs with the base repository's secrets on behalf of someone else's code. */
export function privilegedTriggers(file: string, wf: Workflow): string[] {
  return Object.keys(triggers(wf))
    .filter((t) => PRIVILEGED_TRIGGERS.includes(t))
    .map(
      (t) => `${file}: trigger ${t} runs with this repository's secrets for code it did not review; use pull_request`,
    );
}

/** The events a self-hosted or deploy job may run on: a push to main, or a person pressing Run workflow. */
function onlyTrustedEvents(file: string, wf: Workflow, what: string): string[] {
  const problems: string[] = [];
  for (const [event, spec] of Object.entries(triggers(wf))) {
    if (event === "workflow_dispatch") continue;
    if (event === "push") {
      const s = (spec ?? {}) as { branches?: unknown; tags?: unknown; "branches-ignore"?: unknown };
      if (text(s.branches) !== text(["main"]) || s.tags !== undefined || s["branches-ignore"] !== undefined)
        problems.push(`${file}: ${what} runs on push to any branch or tag; restrict it to branches: [main]`);
      continue;
    }
    problems.push(`${file}: ${what} runs on ${event}; only push to main and workflow_dispatch may reach it`);
  }
  return problems;
}

/** R2: a self-hosted runner (in the admin network) never runs a job a pull request or another event can start. */
export function selfHostedOnlyForTrustedEvents(file: string, wf: Workflow): string[] {
  if (!jobs(wf).some(([, j]) => labels(j).includes("self-hosted"))) return [];
  return onlyTrustedEvents(file, wf, "a self-hosted job");
}

/**
 * R3: a job that changes a stack runs on the admin-network runner, through the stack's environment
 * (whose protection rules hold the write credentials), one at a time and never cancelled half-way, with
 * Pulumi's credentials in the job's own temp directory, and for a stack picked from a fixed list.
 */
export function deployJobShape(file: string, wf: Workflow, stacks: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [id, job] of jobs(wf)) {
    if (!changesStack(job)) continue;
    const where = `${file}: jobs.${id}`;
    problems.push(...onlyTrustedEvents(file, wf, `jobs.${id} (it changes a stack)`));
    const l = labels(job);
    if (!DEPLOY_RUNNER_LABELS.every((x) => l.includes(x)))
      problems.push(
        `${where}: runs-on ${text(job["runs-on"])}; a stack change needs SSH to the server (22 is open only to adminCidrs) and to the boards: runs-on ${text(DEPLOY_RUNNER_LABELS)}`,
      );
    const env = environmentName(job);
    const allowed = new Set(DEPLOY_ENVIRONMENTS.map(String));
    const dynamic = env === "${{ inputs.stack || 'dev' }}" || env === "${{ inputs.stack }}";
    if (!env || (!allowed.has(env) && !dynamic))
      problems.push(
        `${where}: environment ${text(env)}; name one of ${[...allowed].join(", ")} (or inputs.stack, a choice of them)`,
      );
    const dispatch = (triggers(wf).workflow_dispatch ?? {}) as {
      inputs?: Record<string, { type?: string; options?: unknown }>;
    };
    const input = dispatch.inputs?.stack;
    const options = Array.isArray(input?.options) ? (input.options as unknown[]) : [];
    const fromStackFiles = options.length > 0 && options.every((o) => stacks.includes(String(o)));
    if (dynamic && (input?.type !== "choice" || !fromStackFiles))
      problems.push(
        `${where}: inputs.stack must be a choice among the stack files (${stacks.join(", ")}), never free text`,
      );
    const c = job.concurrency;
    if (typeof c !== "object" || c["cancel-in-progress"] !== false || !String(c.group).includes("inputs.stack"))
      problems.push(
        `${where}: needs concurrency per stack with cancel-in-progress: false (never two updates at once, never one cut off)`,
      );
    if (!(job.steps ?? []).some((s) => /PULUMI_HOME=.*RUNNER_TEMP/.test(s.run ?? "")))
      problems.push(
        `${where}: set PULUMI_HOME under $RUNNER_TEMP, so no login or plugin outlives the job on a persistent runner`,
      );
  }
  return problems;
}

/**
 * R4: every secret a job reads comes from its environment (repository-wide secrets reach any job of any
 * branch); in a pull_request workflow the job also refuses forks, and never names a deploy environment.
 */
export function secretsOnlyThroughEnvironments(file: string, wf: Workflow): string[] {
  const problems: string[] = [];
  const onPullRequest = "pull_request" in triggers(wf);
  for (const [id, job] of jobs(wf)) {
    const used = [...text(job).matchAll(/secrets\.([A-Za-z_][A-Za-z0-9_]*)/g)]
      .map((m) => m[1] ?? "")
      .filter((s) => s !== "GITHUB_TOKEN");
    if (used.length === 0) continue;
    const env = environmentName(job);
    if (!env)
      problems.push(
        `${file}: jobs.${id} reads ${used.join(", ")} without an environment; keep secrets on a GitHub environment`,
      );
    if (onPullRequest) {
      if (!String(job.if ?? "").includes(SAME_REPO_GUARD))
        problems.push(`${file}: jobs.${id} reads secrets on pull_request without "if: ${SAME_REPO_GUARD}"`);
      if (env && DEPLOY_ENVIRONMENTS.some((d) => env === d || env.includes(`'${d}'`)))
        problems.push(
          `${file}: jobs.${id} uses deploy environment ${env} on pull_request; previews get their own (preview-<stack>)`,
        );
    }
  }
  return problems;
}

/** R5: no secret and no attacker-controlled text expanded into a shell script; pass them through env. */
export function noInjectionInRun(file: string, wf: Workflow): string[] {
  const problems: string[] = [];
  for (const [id, job] of jobs(wf))
    for (const [i, step] of (job.steps ?? []).entries())
      for (const m of (step.run ?? "").matchAll(/\$\{\{([^}]*)\}\}/g)) {
        const expr = m[1] ?? "";
        if (/\b(secrets|inputs)\.|github\.event\.|github\.head_ref/.test(expr))
          problems.push(
            `${file}: jobs.${id}.steps[${i}] expands ${m[0].trim()} into a shell script; pass it through env:`,
          );
      }
  return problems;
}

/** R6: on a runner that outlives the job, checkout leaves no token in .git/config. */
export function selfHostedCheckoutKeepsNoToken(file: string, wf: Workflow): string[] {
  const problems: string[] = [];
  for (const [id, job] of jobs(wf)) {
    if (!labels(job).includes("self-hosted")) continue;
    for (const [i, s] of (job.steps ?? []).entries())
      if (s.uses?.startsWith("actions/checkout@") && s.with?.["persist-credentials"] !== false)
        problems.push(
          `${file}: jobs.${id}.steps[${i}] checks out on a self-hosted runner without persist-credentials: false`,
        );
  }
  return problems;
}

/** R7: an OIDC token only for a job that assumes an AWS role with it. */
export function idTokenOnlyForAws(file: string, wf: Workflow): string[] {
  const problems: string[] = [];
  if (text(wf.permissions).includes("id-token")) problems.push(`${file}: id-token at workflow level; grant it per job`);
  for (const [id, job] of jobs(wf)) {
    const wants = typeof job.permissions === "object" && job.permissions["id-token"] === "write";
    const assumes = (job.steps ?? []).some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
    if (wants && !assumes) problems.push(`${file}: jobs.${id} asks for id-token: write and assumes no role`);
  }
  return problems;
}

/** Every rule; `stacks` are the stack names of the Pulumi.<stack>.yaml files. */
export function ciCloudBoundaryProblems(file: string, wf: Workflow, stacks: readonly string[]): string[] {
  return [
    ...privilegedTriggers(file, wf),
    ...selfHostedOnlyForTrustedEvents(file, wf),
    ...deployJobShape(file, wf, stacks),
    ...secretsOnlyThroughEnvironments(file, wf),
    ...noInjectionInRun(file, wf),
    ...selfHostedCheckoutKeepsNoToken(file, wf),
    ...idTokenOnlyForAws(file, wf),
  ];
}
