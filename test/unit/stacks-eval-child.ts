// Child process of stacks-eval.test.ts: runs the Pulumi program (infra/index.ts) under mocks with the config of
// one Pulumi.<stack>.yaml and prints what it registered as JSON on stdout. One process per stack file, because
// the program reads its config once, when it is first imported.
//   node --import tsx test/unit/stacks-eval-child.ts Pulumi.prod.yaml
// With DIY_STACK_CONFIG='{"config":{...},"secretKeys":[...]}' it runs with exactly that config instead.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { NAMESPACE } from "../../infra/config";
import { readStackFile } from "../../infra/stack-file";
import { installMocks, SECRET_MARKER, settle, TEST_SSH_KEY, setConfig, value } from "./program-harness";

export interface StackEvaluation {
  stack: string;
  resources: { type: string; name: string; inputs: Record<string, unknown> }[];
  outputs: string[];
}

/**
 * Secrets a user sets with `pulumi config set --secret` (so they are not in the example files) get test values:
 * every key the file holds encrypted, the device SSH key when devices are listed, the relay password with a
 * relay user.
 */
function placeholderSecrets(file: string, raw: Record<string, string>): Record<string, string> {
  const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) {
    if (v !== null && typeof v === "object" && "secure" in v && k.startsWith(`${NAMESPACE}:`)) {
      secrets[k] = `${SECRET_MARKER}-${k.slice(NAMESPACE.length + 1)}`;
    }
  }
  const devices = raw.devices ? (JSON.parse(raw.devices) as unknown[]) : [];
  if (devices.length > 0) secrets[`${NAMESPACE}:deviceSshPrivateKey`] ??= TEST_SSH_KEY;
  if (raw.smtpUser) secrets[`${NAMESPACE}:smtpPassword`] ??= `${SECRET_MARKER}-smtp`;
  return secrets;
}

async function main(file: string): Promise<void> {
  const stack = path.basename(file).replace(/^Pulumi\.(.+)\.yaml$/, "$1");
  const h = installMocks(NAMESPACE, stack);
  const given = process.env.DIY_STACK_CONFIG;
  if (given) {
    // The exact config and secret keys a run would get (readme-deploy.test.ts): no placeholders added.
    const { config, secretKeys } = JSON.parse(given) as { config: Record<string, string>; secretKeys: string[] };
    setConfig(config, secretKeys);
  } else {
    const { raw, all } = readStackFile(file);
    const secrets = placeholderSecrets(file, raw);
    setConfig({ ...all, ...secrets }, Object.keys(secrets));
  }
  // Config and mocks first, then the program: it reads both while it is imported.
  const program = require("../../infra/index") as Record<string, unknown>;
  const outputs: string[] = [];
  for (const [name, exported] of Object.entries(program)) {
    if (pulumi.Output.isInstance(exported)) await value(exported);
    if (exported !== undefined && name !== "default") outputs.push(name);
  }
  await settle();
  const result: StackEvaluation = {
    stack,
    resources: h.resources.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs })),
    outputs,
  };
  process.stdout.write(JSON.stringify(result));
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: stacks-eval-child.ts Pulumi.<stack>.yaml");
  main(path.resolve(file)).catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
}
