// What @pulumi/command's local.Command does when it runs, for the commands whose output the program
// depends on (infra/serial-ledger.ts). The rules, from pulumi-command provider/pkg/provider/local/:
// - commandController.go: `create` runs on creation; on a change of inputs `update` runs (the create
//   command when update is unset), never on an unchanged resource; `triggers` replace instead, which
//   starts from an empty state.
// - commandOutputs.go: argv = interpreter + [command] (default /bin/sh -c); the environment is the
//   provider's plus `environment`; with addPreviousOutputInEnv (default true) PULUMI_COMMAND_STDOUT /
//   PULUMI_COMMAND_STDERR hold the previous run's outputs when they are not empty; stdin is attached
//   only when it is not empty; the stored stdout/stderr lose one trailing "\n".
import { spawnSync } from "node:child_process";

export interface LocalCommandInputs {
  interpreter?: string[];
  create: string;
  update?: string;
  stdin?: string;
  environment?: Record<string, string>;
  addPreviousOutputInEnv?: boolean;
}

export interface LocalCommandState {
  inputs: LocalCommandInputs;
  stdout: string;
  stderr: string;
}

/** Runs what `pulumi up` would run for this command given its previous state; returns the new state. */
export function upLocalCommand(inputs: LocalCommandInputs, previous?: LocalCommandState): LocalCommandState {
  if (previous && JSON.stringify(previous.inputs) === JSON.stringify(inputs)) return previous; // no diff, no run
  const command = previous ? (inputs.update ?? inputs.create) : inputs.create;
  const argv = [...(inputs.interpreter ?? ["/bin/sh", "-c"]), command];
  const env: NodeJS.ProcessEnv = { ...process.env, ...inputs.environment };
  delete env.PULUMI_COMMAND_STDOUT;
  delete env.PULUMI_COMMAND_STDERR;
  if (previous && inputs.addPreviousOutputInEnv !== false) {
    if (previous.stdout !== "") env.PULUMI_COMMAND_STDOUT = previous.stdout;
    if (previous.stderr !== "") env.PULUMI_COMMAND_STDERR = previous.stderr;
  }
  const bin = argv[0] === "node" ? process.execPath : (argv[0] ?? "");
  const r = spawnSync(bin, argv.slice(1), {
    env,
    encoding: "utf8",
    ...(inputs.stdin ? { input: inputs.stdin } : { stdio: ["ignore", "pipe", "pipe"] }),
  });
  if (r.status !== 0) throw new Error(`command failed (${r.status ?? r.signal}): ${r.stderr}`);
  return { inputs, stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
}
