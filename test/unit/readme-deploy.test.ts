// The README's deploy recipe, run as written: its shell block runs under sh with the real ssh-keygen and stand-ins
// for what needs the network (curl, ssh-copy-id, ssh, npm) and for the pulumi CLI's config commands
// (pulumi-config-double.cjs, which keeps the stack config like the CLI does). What the commands leave in the stack
// config (Pulumi.dev.yaml plus exactly what the README sets, its secrets marked secret) must pass config validation
// and evaluate the program under mocks. The revocation recipe must append to revokedDevices.
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { NAMESPACE, privateKeyHasPassphrase } from "../../infra/config";
import type { StackEvaluation } from "./stacks-eval-child";

const root = path.resolve(__dirname, "../..");
const README = readFileSync(path.join(root, "README.md"), "utf8");
const CHECKIP = "203.0.113.5";

/** The ```sh blocks of a README section, in order. */
function shellBlocks(section: string): string[] {
  const start = README.indexOf(`## ${section}\n`);
  assert.ok(start >= 0, `README has no section ${section}`);
  const end = README.indexOf("\n## ", start + 1);
  const text = README.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

interface DoubleState {
  config: Record<string, unknown>;
  secure: string[];
  commands?: string[][];
}

/** A sandbox: HOME, a bin directory of stand-ins first on PATH, and the pulumi double's state file. */
function sandbox(initial: DoubleState) {
  const dir = mkdtempSync(path.join(tmpdir(), "readme-deploy-"));
  const home = path.join(dir, "home");
  const bin = path.join(dir, "bin");
  mkdirSync(home);
  mkdirSync(bin);
  const log = path.join(dir, "calls.log");
  writeFileSync(log, "");
  const state = path.join(dir, "state.json");
  writeFileSync(state, JSON.stringify(initial));
  const tool = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  tool("pulumi", `exec "${process.execPath}" "${path.join(__dirname, "pulumi-config-double.cjs")}" "$@"`);
  tool("curl", `echo ${CHECKIP}`);
  // ssh-copy-id -i KEY.pub user@host: the public half must exist (it goes into the board's authorized_keys).
  tool("ssh-copy-id", 'while [ $# -gt 0 ]; do [ "$1" = -i ] && { test -f "$2" || exit 1; }; shift; done');
  tool("ssh", "exit 0");
  // ssh-keyscan -t ed25519 HOST: one "host keytype base64" line, from a real key made for the test.
  execFileSync("ssh-keygen", ["-t", "ed25519", "-N", "", "-q", "-f", path.join(dir, "hostkey")]);
  const hostKey = readFileSync(path.join(dir, "hostkey.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  tool("ssh-keyscan", `echo "# $3:22 SSH-2.0-OpenSSH_10.0" >&2; echo "$3 ${hostKey}"`);
  tool("npm", "exit 0");
  const run = (script: string) =>
    spawnSync("/bin/sh", ["-e", "-c", script], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, PULUMI_DOUBLE_STATE: state },
    });
  return {
    dir,
    home,
    run,
    calls: () => readFileSync(log, "utf8"),
    state: () => JSON.parse(readFileSync(state, "utf8")) as DoubleState,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
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
