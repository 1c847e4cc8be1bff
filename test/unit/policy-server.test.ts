// The policy pack loaded the way `pulumi preview --policy-pack policy` loads it: @pulumi/pulumi's
// run-policy-pack (the Node language host's entry for policy packs) type-checks and runs policy/index.ts with the
// host's ts-node, the pack serves the analyzer gRPC API on the port it prints, and the engine's calls come back
// with the pack's verdicts. No Pulumi CLI needed.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import {
  type AnalyzeDiagnostic,
  AnalyzeRequest,
  type AnalyzerInfo,
  AnalyzerResourceOptions,
  EnforcementLevel,
} from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";

const root = path.resolve(__dirname, "../..");
const INSTANCE = "aws:ec2/instance:Instance";

function startPack(): Promise<{ child: ChildProcess; port: number }> {
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [root] });
  // Arguments as the language host passes them: the engine address (unused by the pack), --pwd, the program.
  const child = spawn(process.execPath, [runner, "127.0.0.1:1", "--pwd", path.join(root, "policy"), "."], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const m = /^(\d+)\s*$/m.exec(stdout);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("exit", (code) => reject(new Error(`policy pack exited (${code}) before serving: ${stderr}${stdout}`)));
  });
}

function analyze(client: AnalyzerClient, type: string, props: Record<string, unknown>): Promise<AnalyzeDiagnostic[]> {
  const req = new AnalyzeRequest();
  req.setType(type);
  req.setName("server");
  req.setUrn(`urn:pulumi:dev::diy-device-cloud::${type}::server`);
  req.setProperties(Struct.fromJavaScript(props as Parameters<typeof Struct.fromJavaScript>[0]));
  req.setOptions(new AnalyzerResourceOptions());
  return new Promise((resolve, reject) =>
    client.analyze(req, (err, res) => (err ? reject(err) : resolve(res?.getDiagnosticsList() ?? []))),
  );
}

describe("policy pack under the Pulumi policy runner", () => {
  let pack: { child: ChildProcess; port: number } | undefined;
  let client: AnalyzerClient;

  before(async () => {
    pack = await startPack();
    client = new AnalyzerClient(`127.0.0.1:${pack.port}`, grpc.credentials.createInsecure());
  });
  after(() => {
    client?.close();
    pack?.child.kill();
  });

  it("describes itself as the diy-device-cloud pack with every policy", async () => {
    const info = await new Promise<AnalyzerInfo>((resolve, reject) =>
      client.getAnalyzerInfo(new Empty(), (err, res) => (err || !res ? reject(err) : resolve(res))),
    );
    assert.equal(info.getName(), "diy-device-cloud");
    const names = info.getPoliciesList().map((p) => p.getName());
    for (const n of ["security-group-ingress", "instance-imdsv2-required", "instance-user-data-without-secrets"]) {
      assert.ok(names.includes(n), n);
    }
  });

  it("accepts a compliant instance and rejects one without IMDSv2 as mandatory", async () => {
    const good = {
      instanceType: "t3.micro",
      metadataOptions: { httpTokens: "required" },
      rootBlockDevice: { encrypted: true },
      userData: "#cloud-config\n",
    };
    assert.deepEqual(
      (await analyze(client, INSTANCE, good)).map((d) => d.getPolicyname()),
      [],
    );
    const bad = await analyze(client, INSTANCE, { ...good, metadataOptions: { httpTokens: "optional" } });
    assert.deepEqual(
      bad.map((d) => [d.getPolicyname(), d.getEnforcementlevel()]),
      [["instance-imdsv2-required", EnforcementLevel.MANDATORY]],
    );
  });
});
