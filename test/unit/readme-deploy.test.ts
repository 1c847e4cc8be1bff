// The README's deploy recipe, run as written: its shell block runs under sh with the real ssh-keygen and stand-ins
// for what needs the network (curl, ssh-copy-id, ssh, npm) and for the pulumi CLI's config commands
// (pulumi-config-double.cjs, which keeps the stack config like the CLI does). What the commands leave in the stack
// config (Pulumi.dev.yaml plus exactly what the README sets, its secrets marked secret) must pass config validation
// and evaluate the program under mocks. The revocation recipe must append to revokedDevices.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { NAMESPACE, privateKeyHasPassphrase } from "../../infra/config";
import { CHECKIP, type DoubleState, sandbox } from "./pulumi-cli-sandbox";
import type { StackEvaluation } from "./stacks-eval-child";

const root = path.resolve(__dirname, "../..");
const README = readFileSync(path.join(root, "README.md"), "utf8");

/** The ```sh blocks of a README section, in order. */
function shellBlocks(section: string): string[] {
  const start = README.indexOf(`## ${section}\n`);
  assert.ok(start >= 0, `README has no section ${section}`);
  const end = README.indexOf("\n## ", start + 1);
  const text = README.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** Pulumi.<stack>.yaml's config as the CLI holds it: namespaced keys, structured values as objects. */
function stackFileConfig(file: string): DoubleState {
  const doc = parse(readFileSync(path.join(root, file), "utf8")) as { config?: Record<string, unknown> };
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) config[k.includes(":") ? k : `${NAMESPACE}:${k}`] = v;
  return { config, secure: [] };
}

async function evaluate(state: DoubleState): Promise<StackEvaluation> {
  const config = Object.fromEntries(
    Object.entries(state.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", path.join(__dirname, "stacks-eval-child.ts"), path.join(root, "Pulumi.dev.yaml")],
    {
      cwd: root,
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, DIY_STACK_CONFIG: JSON.stringify({ config, secretKeys: state.secure }) },
    },
  ).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`the stack does not evaluate: ${e.stderr?.trim() || e.message}`);
  });
  return JSON.parse(stdout) as StackEvaluation;
}

describe("README Deploy to AWS, run as written on the dev stack", () => {
  const block = shellBlocks("Deploy to AWS")[0] ?? "";
  const box = sandbox(stackFileConfig("Pulumi.dev.yaml"));
  let state: DoubleState;

  after(() => box.cleanup());

  test("the recipe runs: a dedicated key without a passphrase, its public half to the Pi, the secret set", () => {
    assert.match(block, /pulumi stack init dev/);
    const r = box.run(block);
    assert.equal(r.status, 0, `the recipe failed:\n${r.stderr}\ncalls:\n${box.calls()}`);
    const key = readFileSync(path.join(box.home, ".ssh", "diy-device"), "utf8");
    assert.equal(privateKeyHasPassphrase(key), false, "the README's key has no passphrase");
    assert.match(box.calls(), /^ssh-copy-id -i .*\.ssh\/diy-device\.pub pi@/m);
    assert.match(box.calls(), /^ssh -i .*\.ssh\/diy-device pi@\S+ sudo -n true$/m);
    state = box.state();
    // The CLI stores what it read from stdin minus one trailing newline.
    assert.equal(state.config[`${NAMESPACE}:deviceSshPrivateKey`], key.replace(/\n$/, ""));
    const devices = state.config[`${NAMESPACE}:devices`] as { id: string; hostKey?: string }[];
    assert.match(
      devices[0]?.hostKey ?? "",
      /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA[A-Za-z0-9+/]+=*$/,
      "the Pi's host key is pinned",
    );
    assert.ok(state.secure.includes(`${NAMESPACE}:deviceSshPrivateKey`), "the key is set with --secret");
    assert.deepEqual(state.config[`${NAMESPACE}:adminCidrs`], [`${CHECKIP}/32`]);
    const ran = (state.commands ?? []).map((c) => c.join(" "));
    assert.ok(ran.includes("preview") && ran.includes("up"), ran.join("\n"));
  });

  test("the dev stack file plus only what the README sets passes validation and evaluates (one Pi, no mail)", async () => {
    assert.ok(state, "the recipe ran");
    // Nothing else secret is needed: the README sets only the device key.
    assert.deepEqual(state.secure, [`${NAMESPACE}:deviceSshPrivateKey`]);
    const evaluation = await evaluate(state);
    const installs = evaluation.resources.filter(
      (r) => r.type === "command:remote:Command" && /-install$/.test(r.name),
    );
    assert.deepEqual(
      installs.map((r) => r.name),
      ["diy-device-pi1-install"],
    );
    assert.ok(evaluation.resources.some((r) => r.type === "aws:ec2/instance:Instance"));
    assert.ok(evaluation.outputs.includes("webUrl"));
  });

  test("without the --secret line the same stack is refused (the key is required), not deployed half-way", async () => {
    const withoutKey: DoubleState = {
      config: Object.fromEntries(
        Object.entries(state.config).filter(([k]) => k !== `${NAMESPACE}:deviceSshPrivateKey`),
      ),
      secure: [],
    };
    await assert.rejects(evaluate(withoutKey), /deviceSshPrivateKey: is required when devices are listed/);
  });
});

describe("README revocation recipe", () => {
  const block = shellBlocks("Operations").find((b) => b.includes("revokedDevices")) ?? "";

  for (const [before, after] of [
    [[], ["pi2"]],
    [["pi9"], ["pi9", "pi2"]],
    [
      ["pi9", "pi7"],
      ["pi9", "pi7", "pi2"],
    ],
  ] as const) {
    test(`appends pi2 to ${JSON.stringify(before)} (the ids already revoked stay)`, (t) => {
      const box = sandbox({
        config: before.length > 0 ? { [`${NAMESPACE}:revokedDevices`]: [...before] } : {},
        secure: [],
      });
      t.after(() => box.cleanup());
      const r = box.run(block);
      assert.equal(r.status, 0, `${r.stderr}\n${box.calls()}`);
      assert.deepEqual(box.state().config[`${NAMESPACE}:revokedDevices`], after);
    });
  }
});
