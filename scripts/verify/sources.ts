// Where the stack outputs come from: a file, or the Pulumi CLI. Least privilege with the CLI: the outputs
// are read without --show-secrets (secrets print as "[secret]"), and the one secret verify may need, the
// web password, is asked for by name, only when the device check is about to use it.
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { OutputsError } from "./outputs";

export const PASSWORD_ENV = "DIY_WEB_PASSWORD";

/** The repository (Pulumi.yaml): pulumi finds the project, and so the stack, from its working directory. */
const PROJECT_DIR = join(__dirname, "..", "..");

export type PulumiRunner = (args: readonly string[]) => { status: number; stdout: string; stderr: string };

/** Runs the `pulumi` on PATH in the project directory. */
export const runPulumi: PulumiRunner = (args) => {
  const r = spawnSync("pulumi", args, { cwd: PROJECT_DIR, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new OutputsError(
      missing
        ? "no Pulumi CLI on PATH: install it (https://www.pulumi.com/docs/install/), or save the outputs where it is (pulumi stack output --json > outputs.json) and pass --outputs outputs.json"
        : `pulumi ${args.join(" ")}: ${r.error.message}`,
    );
  }
  return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
};

/** The stack's outputs, secrets masked. */
export const outputArgs = (stack: string): string[] => ["stack", "output", "--json", "--stack", stack];
/** Only the generated web password, in clear. */
export const passwordOutputArgs = (stack: string): string[] => [
  "stack",
  "output",
  "webPassword",
  "--json",
  "--show-secrets",
  "--stack",
  stack,
];
/** A web password the user configured (pulumi config get prints a secret's value decrypted). */
export const passwordConfigArgs = (stack: string): string[] => ["config", "get", "webPassword", "--stack", stack];

export function readOutputsFromStack(stack: string, pulumi: PulumiRunner = runPulumi): string {
  const r = pulumi(outputArgs(stack));
  if (r.status !== 0)
    throw new OutputsError(`pulumi ${outputArgs(stack).join(" ")} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** The generated password output, else the configured secret; undefined when the stack has neither. */
export function webPasswordFromStack(stack: string, pulumi: PulumiRunner = runPulumi): string | undefined {
  const out = pulumi(passwordOutputArgs(stack));
  if (out.status === 0) {
    try {
      const v = JSON.parse(out.stdout) as unknown;
      if (typeof v === "string" && v) return v;
    } catch {}
  }
  const cfg = pulumi(passwordConfigArgs(stack));
  const v = cfg.status === 0 ? cfg.stdout.replace(/\r?\n$/, "") : "";
  return v || undefined;
}

/** Reads an outputs file; warns (on `warn`) when it holds a secret others may read. */
export function readOutputsFile(path: string, warn: (line: string) => void): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new OutputsError(`cannot read --outputs ${path}: ${(err as Error).message}`);
  }
  if (
    /"(webPassword|adminPrivateKey|bridgeLanPasswords)"\s*:\s*(?!"\[secret\]")/.test(text) &&
    (statSync(path).mode & 0o077) !== 0
  )
    warn(`warning: ${path} holds stack secrets and others may read it: chmod 600 ${path}, and delete it when done`);
  return text;
}
