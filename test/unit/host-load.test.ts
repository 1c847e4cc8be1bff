// Loads infra/index.ts the way `pulumi up`'s Node language host does (@pulumi/pulumi/cmd/run/run.js in
// CommonJS mode): from the program's directory (Pulumi.yaml `main: infra/index.ts`, so run.js gets
// `--pwd infra` and chdirs there), its choice of ts-node and compiler (tsutils.typeScriptRequireStrings),
// the tsconfig.json of that directory through tsutils.loadTypeScriptCompilerOptions (run.js sets
// skipProject when there is none, and ts-node then falls back to its own defaults: not strict), the
// host's compiler-option defaults (module nodenext for TypeScript >= 4.7), type-checking on, then a
// plain `require` of the program. Tests run
// under tsx, which forgives module-setup mistakes this path does not; this test catches them here
// instead of on a user's first `pulumi up`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { readStackFile } from "../../infra/stack-file";
import { SECRET_MARKER, TEST_SSH_KEY, FULL_EXAMPLE } from "./program-harness";

const root = path.resolve(__dirname, "../..");

// Plain JavaScript for a plain `node`: nothing here may depend on tsx.
const CHILD = String.raw`
const path = require("node:path");
const pulumi = require("@pulumi/pulumi");
const tsutils = require("@pulumi/pulumi/tsutils");
const semver = require("semver");

// --- what run.js does when PULUMI_NODEJS_TYPESCRIPT=true and package.json has no "type": "module" ---
// (the test starts this process in the program directory, as run.js's process.chdir(--pwd) leaves it)
const fs = require("node:fs");
const tsConfigPath = "tsconfig.json";
const skipProject = !fs.existsSync(tsConfigPath);
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const ts = require(typescriptRequire);
const useNodeNext = semver.gte(ts.version, "4.7.0");
const service = require(tsnodeRequire).register({
  compiler: typescriptRequire,
  transpileOnly: compilerOptions.noCheck,
  project: tsConfigPath,
  skipProject,
  compilerOptions: {
    target: "ES2020",
    module: useNodeNext ? "nodenext" : "commonjs",
    moduleResolution: useNodeNext ? "nodenext" : "node",
    sourceMap: "true",
    ...compilerOptions,
  },
});
// Not part of run.js: the test's mocks (real keys and certificates, test/unit/program-harness.ts), loaded
// through the ts-node just registered, and the stack config; both before the program, which reads them.
const harness = require(process.env.DIY_HARNESS);
const h = harness.installMocks("diy-device-cloud", "dev");
const cfg = JSON.parse(process.env.DIY_TEST_CONFIG);
pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
const program = require(path.join(process.cwd(), process.env.DIY_ENTRY_POINT));
// ----------------------------------------------------------------------------------------------

const get = (o) => new Promise((resolve) => pulumi.output(o).apply(resolve));
(async () => {
  const o = service.config.options;
  const out = {
    tsnode: require(tsnodeRequire).VERSION,
    typescript: ts.version,
    exports: Object.keys(program).sort(),
    skipProject,
    options: { strict: o.strict, noUncheckedIndexedAccess: o.noUncheckedIndexedAccess, target: o.target },
  };
  out.webUrl = await get(program.webUrl);
  out.brokerEndpoint = await get(program.brokerEndpoint);
  await harness.settle(); // also fails on an error diagnostic
  out.types = [...new Set(h.resources.map((r) => r.type))].sort();
  process.stdout.write("RESULT " + JSON.stringify(out) + "\n");
})().catch((e) => { console.error(e); process.exit(1); });
`;

test("infra/index.ts loads and runs under the Pulumi Node host's ts-node registration (type-checked, CommonJS)", () => {
  const { all } = readStackFile(path.join(root, FULL_EXAMPLE));
  const secrets = {
    "diy-device-cloud:deviceSshPrivateKey": TEST_SSH_KEY,
    "diy-device-cloud:smtpPassword": `${SECRET_MARKER}-smtp`,
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DIY_TEST_CONFIG: JSON.stringify({ config: { ...all, ...secrets }, secretKeys: Object.keys(secrets) }),
  };
  // No tsx here: NODE_OPTIONS from the test runner must not leak into the child.
  delete env.NODE_OPTIONS;
  // Where Pulumi runs the program: the directory of Pulumi.yaml's `main`, the entry point inside it.
  const main = readFileSync(path.join(root, "Pulumi.yaml"), "utf8").match(/^main:\s*(\S+)\s*$/m)?.[1];
  assert.equal(main, "infra/index.ts");
  const programDir = path.join(root, path.dirname(main));
  env.DIY_ENTRY_POINT = path.basename(main);
  env.DIY_HARNESS = path.join(__dirname, "program-harness.ts");
  // Type-checking the whole program costs ~25 s of CPU; beside the other tests on two loaded cores it took over
  // 240 s (the child was killed at that limit with nothing on stderr). The limit only guards against a hang.
  const limitMs = 900_000;
  const r = spawnSync(process.execPath, ["-e", CHILD], { cwd: programDir, env, encoding: "utf8", timeout: limitMs });
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  const ended =
    r.signal === null ? `exit ${r.status}` : `killed by ${r.signal}${r.error ? ` after ${limitMs / 1000} s` : ""}`;
  assert.ok(line, `the program did not load under the host's ts-node (${ended}):\n${r.stderr.slice(-4000)}`);
  const out = JSON.parse(line.slice("RESULT ".length));
  assert.deepEqual(out.exports, [
    "adminPrivateKey",
    "bridgeLanPasswords",
    "broker",
    "brokerEndpoint",
    "caCertPem",
    "historyVolumeId",
    "homeAssistantCertPem",
    "homeAssistantKeyPem",
    "publicIp",
    "serverHostKey",
    "sshCommand",
    "webPassword",
    "webUrl",
  ]);
  assert.equal(out.webUrl, "https://203.0.113.10");
  assert.equal(out.brokerEndpoint, "203.0.113.10:8883");
  for (const t of [
    "diy:index:DeviceCloud",
    "aws:ec2/instance:Instance",
    "command:remote:Command",
    // The dynamic provider's closure, serialized under the host's ts-node (pulumi.dynamic.Resource does it).
    "pulumi-nodejs:dynamic/diy:ServerHostKey",
    // The history's volume, its attachment and its snapshot policy.
    "aws:ebs/volume:Volume",
    "aws:ec2/volumeAttachment:VolumeAttachment",
    "aws:dlm/lifecyclePolicy:LifecyclePolicy",
  ])
    assert.ok(out.types.includes(t), t);
  // The program directory's tsconfig.json (extending the root one) is what ts-node compiled with.
  assert.equal(out.skipProject, false, "no tsconfig.json in the program directory: ts-node would use its defaults");
  assert.equal(out.options.strict, true);
  assert.equal(out.options.noUncheckedIndexedAccess, true);
  // The project's own ts-node 10 and TypeScript 5 (not the vendored ts-node 7 / TypeScript 3.8).
  assert.match(out.tsnode, /^10\./);
  assert.match(out.typescript, /^5\./);
});
