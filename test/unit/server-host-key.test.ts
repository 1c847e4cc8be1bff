// The server host key lookup: the polling loop against a double of EC2's GetConsoleOutput, and the dynamic
// provider as the engine runs it (serialized, loaded with require-from-string in a plain Node process, the real AWS
// SDK talking to a local endpoint that answers in EC2's wire format).
//
// The double's rules, from the EC2 API Reference (GetConsoleOutput, GetConsoleOutputResult, Common client error
// codes) and the SDK's own model (@aws-sdk/client-ec2 GetConsoleOutputCommand):
// - Output is base64 and absent (or empty) until the instance has posted console output.
// - `Latest: true` is "supported on instance types that use the Nitro hypervisor" and returns the console as it
//   is; other types (t2, Xen) refuse it with UnsupportedOperation ("This instance type does not support
//   retrieving the latest console logs") and only have the output "posted shortly after an instance transition
//   state", which lags.
// - Right after RunInstances other calls may answer InvalidInstanceID.NotFound (eventual consistency).
// - A caller without the IAM action gets UnauthorizedOperation (HTTP 403) "... is not authorized to perform:
//   ec2:GetConsoleOutput on resource: ...".
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
  type ConsoleLookup,
  type ConsoleOutputRequest,
  type ConsoleOutputResult,
  HOST_KEY_WAIT,
  hostKeyProvider,
  regionOfArn,
  waitForConsoleHostKey,
} from "../../infra/server-host-key";
import { AFTER, api, BOOT, consoleOf, helperOutput, makeHostKeys } from "./cloud-init-console";
import { runToEnd } from "../support/daemon";

const keys = makeHostKeys();
const BLOCK = helperOutput(keys);
const FULL = consoleOf(...BOOT, BLOCK, ...AFTER);
const PARTIAL = consoleOf(...BOOT, BLOCK.slice(0, BLOCK.indexOf("ssh-ed25519")));

class Ec2Error extends Error {
  readonly Code: string;
  constructor(code: string, message: string) {
    super(message);
    // The SDK's EC2ServiceException carries the error code as name and Code.
    this.name = code;
    this.Code = code;
  }
}

interface FakeInstance {
  id: string;
  hypervisor: "nitro" | "xen";
  /** Calls answered InvalidInstanceID.NotFound first. */
  unknownFor?: number;
  /** Console text after each call (the last one stays); undefined = nothing posted yet. */
  console: (string | undefined)[];
  /** Xen: the buffered output is posted only every this many calls (a lagging snapshot). */
  postEvery?: number;
  denied?: boolean;
}

/** A double of GetConsoleOutput for one instance, with a fake clock that sleep() advances. */
function fakeEc2(instance: FakeInstance) {
  const requests: ConsoleOutputRequest[] = [];
  let clock = 0;
  let posted: string | undefined;
  const ec2: ConsoleLookup = {
    async getConsoleOutput(request) {
      requests.push(request);
      const n = requests.length;
      if (instance.denied) {
        throw new Ec2Error(
          "UnauthorizedOperation",
          `You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ec2:GetConsoleOutput on resource: arn:aws:ec2:eu-central-1:123456789012:instance/${request.InstanceId} because no identity-based policy allows the ec2:GetConsoleOutput action`,
        );
      }
      if (request.InstanceId !== instance.id) {
        throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${request.InstanceId}' does not exist`);
      }
      if (n <= (instance.unknownFor ?? 0)) {
        throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${instance.id}' does not exist`);
      }
      const now = instance.console[Math.min(n - 1, instance.console.length - 1)];
      if (request.Latest) {
        if (instance.hypervisor !== "nitro") {
          throw new Ec2Error(
            "UnsupportedOperation",
            "This instance type does not support retrieving the latest console logs",
          );
        }
        posted = now;
      } else if (posted === undefined || n % (instance.postEvery ?? 1) === 0) {
        posted = now;
      }
      const result: ConsoleOutputResult = { InstanceId: instance.id, Timestamp: new Date(clock) };
      if (posted !== undefined) result.Output = api(posted);
      return result;
    },
    async sleep(ms) {
      clock += ms;
    },
    now: () => clock,
  };
  return { ec2, requests, elapsed: () => clock };
}

const WAIT = { timeoutSeconds: 600, intervalSeconds: 10 };

describe("waiting for the host key in the console output (fake EC2)", () => {
  it("Nitro: retries an instance EC2 does not know yet, waits through empty and partial output, pins ed25519", async () => {
    const id = "i-0a1b2c3d4e5f60718";
    const f = fakeEc2({
      id,
      hypervisor: "nitro",
      unknownFor: 2,
      console: [undefined, undefined, "", consoleOf(...BOOT), PARTIAL, FULL],
    });
    const key = await waitForConsoleHostKey(f.ec2, { instanceId: id, ...WAIT });
    assert.equal(key.key, keys.pub.ed25519);
    assert.equal(key.fingerprint, keys.fp.ed25519);
    assert.equal(f.requests.length, 6);
    assert.ok(f.requests.every((r) => r.Latest === true && r.InstanceId === id));
    assert.equal(f.elapsed(), 5 * WAIT.intervalSeconds * 1000, "one interval between reads");
  });

  it("Xen (t2): falls back from Latest to the buffered output and waits for a later post", async () => {
    const id = "i-0feedfacecafe0001";
    const f = fakeEc2({ id, hypervisor: "xen", postEvery: 4, console: [consoleOf(...BOOT), consoleOf(...BOOT), FULL] });
    const key = await waitForConsoleHostKey(f.ec2, { instanceId: id, ...WAIT });
    assert.equal(key.key, keys.pub.ed25519);
    assert.equal(f.requests[0]?.Latest, true);
    assert.ok(
      f.requests.slice(1).every((r) => r.Latest === undefined),
      "never asks for Latest again",
    );
    assert.equal(f.requests.length, 4, "the block appears only with the next post");
  });

  it("credentials without ec2:GetConsoleOutput: fails at once naming the action, the instance and the fix", async () => {
    const id = "i-0deniedbeef00001";
    const f = fakeEc2({ id, hypervisor: "nitro", console: [FULL], denied: true });
    await assert.rejects(
      waitForConsoleHostKey(f.ec2, { instanceId: id, ...WAIT }),
      (e: Error) =>
        e.message.includes(`instance ${id}`) &&
        /may not call ec2:GetConsoleOutput \(UnauthorizedOperation: You are not authorized/.test(e.message) &&
        e.message.includes("allow the IAM action ec2:GetConsoleOutput"),
    );
    assert.equal(f.requests.length, 1);
  });

  it("gives up after the timeout with what it saw and where to look, polling a bounded number of times", async () => {
    const id = "i-0neverprints00001";
    const f = fakeEc2({ id, hypervisor: "nitro", console: [consoleOf(...BOOT)] });
    await assert.rejects(
      waitForConsoleHostKey(f.ec2, { instanceId: id, ...WAIT }),
      (e: Error) =>
        e.message.startsWith(`No SSH host key for instance ${id} after 10 minutes (console output, but not yet`) &&
        e.message.includes("Get system log") &&
        e.message.includes("README Operations, Host keys"),
    );
    assert.equal(f.requests.length, WAIT.timeoutSeconds / WAIT.intervalSeconds + 1);
  });

  it("a complete block without a usable key fails at once (cloud-init prints it only once per instance)", async () => {
    const id = "i-0rsaonly000000001";
    const rsaOnly = consoleOf(...BOOT, helperOutput(keys, "ssh-ed25519,ecdsa-sha2-nistp256"), ...AFTER);
    const f = fakeEc2({ id, hypervisor: "nitro", console: [rsaOnly] });
    await assert.rejects(waitForConsoleHostKey(f.ec2, { instanceId: id, ...WAIT }), /lists no usable ed25519 or ECDSA/);
    assert.equal(f.requests.length, 1);
  });

  it("retries network errors and throttling, stops on any other error", async () => {
    const id = "i-0flaky00000000001";
    const f = fakeEc2({ id, hypervisor: "nitro", console: [FULL] });
    const answers: unknown[] = [
      Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
      new Ec2Error("RequestLimitExceeded", "Request limit exceeded."),
    ];
    const flaky: ConsoleLookup = {
      ...f.ec2,
      getConsoleOutput: (r) => (answers.length > 0 ? Promise.reject(answers.shift()) : f.ec2.getConsoleOutput(r)),
    };
    assert.equal((await waitForConsoleHostKey(flaky, { instanceId: id, ...WAIT })).key, keys.pub.ed25519);
    const malformed: ConsoleLookup = {
      ...f.ec2,
      getConsoleOutput: () => Promise.reject(new Ec2Error("InvalidInstanceID.Malformed", 'Invalid id: "x"')),
    };
    await assert.rejects(
      waitForConsoleHostKey(malformed, { instanceId: id, ...WAIT }),
      /console output of instance i-0flaky00000000001 \(ec2:GetConsoleOutput\): InvalidInstanceID.Malformed/,
    );
  });

  it("asks the instance's own region (from its ARN)", () => {
    assert.equal(regionOfArn("arn:aws:ec2:eu-central-1:123456789012:instance/i-0a1b2c3d4e5f60718"), "eu-central-1");
    assert.equal(regionOfArn("arn:aws-us-gov:ec2:us-gov-west-1:123456789012:instance/i-1"), "us-gov-west-1");
    assert.throws(() => regionOfArn("arn:aws:ec2:::instance/i-1"), /with a region/);
  });
});

// --- The provider as the engine runs it -------------------------------------------------------------------------

/**
 * A local endpoint in EC2's query protocol for GetConsoleOutput (EC2 API Reference: the action's example response
 * and "Error codes" response structure), per instance id.
 */
function ec2Endpoint(instances: Record<string, FakeInstance>) {
  const calls: Record<string, string>[] = [];
  const counters: Record<string, number> = {};
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const q = Object.fromEntries(new URLSearchParams(body));
      calls.push(q);
      const error = (status: number, code: string, message: string) => {
        res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>`,
        );
      };
      const inst = q.InstanceId ? instances[q.InstanceId] : undefined;
      if (q.Action !== "GetConsoleOutput" || !inst) return error(400, "InvalidInstanceID.NotFound", "unknown");
      if (inst.denied) {
        return error(
          403,
          "UnauthorizedOperation",
          `You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ec2:GetConsoleOutput on resource: arn:aws:ec2:eu-central-1:123456789012:instance/${inst.id}`,
        );
      }
      if (q.Latest === "true" && inst.hypervisor !== "nitro") {
        return error(
          400,
          "UnsupportedOperation",
          "This instance type does not support retrieving the latest console logs",
        );
      }
      const n = (counters[inst.id] ?? 0) + 1;
      counters[inst.id] = n;
      const text = inst.console[Math.min(n - 1, inst.console.length - 1)];
      res.writeHead(200, { "content-type": "text/xml;charset=UTF-8" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><instanceId>${inst.id}</instanceId><timestamp>2026-11-29T21:19:42.000Z</timestamp>${text === undefined ? "" : `<output>${api(text)}</output>`}</GetConsoleOutputResponse>`,
      );
    });
  });
  return { server, calls };
}

/** What the child prints: a provider result (create/diff/read) or an error message. */
// biome-ignore lint/suspicious/noExplicitAny: the provider results differ per method; the tests read named fields.
type ProviderAnswer = any;

/** Runs `method(...args)` of the serialized provider in a plain Node process (no tsx), as pulumi-nodejs does. */
async function runSerialized(
  providerText: string,
  method: string,
  args: unknown[],
  env: NodeJS.ProcessEnv,
): Promise<{ ok: boolean; value: ProviderAnswer }> {
  const child = `
const requireFromString = require("require-from-string");
const provider = requireFromString(process.env.PROVIDER).handler();
provider[process.env.METHOD](...JSON.parse(process.env.ARGS))
  .then((value) => process.stdout.write(JSON.stringify({ ok: true, value })))
  .catch((e) => process.stdout.write(JSON.stringify({ ok: false, value: String(e && e.message) })));
`;
  const clean: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: "/nonexistent", ...env };
  // From the program's directory, as the engine runs the provider: require("@aws-sdk/client-ec2") resolves there.
  const { stdout, stderr } = await runToEnd(process.execPath, ["-e", child], {
    cwd: path.resolve(__dirname, "../../infra"),
    env: { ...clean, PROVIDER: providerText, METHOD: method, ARGS: JSON.stringify(args) },
  });
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`provider process printed no result: ${stdout}\n${stderr}`);
  }
}

describe("the dynamic provider, serialized and run like the engine runs it", () => {
  let providerText = "";
  const ids = { nitro: "i-0a1b2c3d4e5f60718", xen: "i-0feedfacecafe0001", denied: "i-0deniedbeef00001" };
  const endpoint = ec2Endpoint({
    [ids.nitro]: { id: ids.nitro, hypervisor: "nitro", console: [undefined, consoleOf(...BOOT), FULL] },
    [ids.xen]: { id: ids.xen, hypervisor: "xen", console: [FULL] },
    [ids.denied]: { id: ids.denied, hypervisor: "nitro", console: [FULL], denied: true },
  });
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    // What pulumi.dynamic.Resource stores as __provider (@pulumi/pulumi dynamic/index.js serializeProvider).
    providerText = (await pulumi.runtime.serializeFunction(() => hostKeyProvider, { allowSecrets: true })).text;
    await new Promise<void>((r) => endpoint.server.listen(0, "127.0.0.1", r));
    const { port } = endpoint.server.address() as AddressInfo;
    env = {
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      AWS_ENDPOINT_URL_EC2: `http://127.0.0.1:${port}`,
      AWS_EC2_METADATA_DISABLED: "true",
    };
  });
  after(() => endpoint.server.close());
  const inputs = (instanceId: string) => ({
    instanceId,
    region: "eu-central-1",
    timeoutSeconds: 20,
    intervalSeconds: 0.05,
  });

  it("create reads the console through the AWS SDK and returns the pinned key, its type and fingerprint", async () => {
    const r = await runSerialized(providerText, "create", [inputs(ids.nitro)], env);
    assert.equal(r.ok, true, r.value);
    assert.equal(r.value.id, ids.nitro);
    assert.deepEqual(
      { hostKey: r.value.outs.hostKey, type: r.value.outs.hostKeyType, fp: r.value.outs.fingerprint },
      { hostKey: keys.pub.ed25519, type: "ssh-ed25519", fp: keys.fp.ed25519 },
    );
    const asked = endpoint.calls.filter((c) => c.InstanceId === ids.nitro);
    assert.equal(asked.length, 3);
    assert.ok(asked.every((c) => c.Latest === "true" && c.Version === "2016-11-15"));
  });

  it("a t2 (Xen) instance: the SDK's UnsupportedOperation leads to reads without Latest", async () => {
    const r = await runSerialized(providerText, "create", [inputs(ids.xen)], env);
    assert.equal(r.ok, true, r.value);
    assert.equal(r.value.outs.hostKey, keys.pub.ed25519);
    const asked = endpoint.calls.filter((c) => c.InstanceId === ids.xen).map((c) => c.Latest);
    assert.deepEqual(asked, ["true", undefined]);
  });

  it("an identity without ec2:GetConsoleOutput gets the IAM action and the instance in the error", async () => {
    const r = await runSerialized(providerText, "create", [inputs(ids.denied)], env);
    assert.equal(r.ok, false);
    assert.match(
      r.value,
      /i-0deniedbeef00001: the AWS credentials pulumi runs with may not call ec2:GetConsoleOutput \(UnauthorizedOperation/,
    );
  });

  it("no credentials at all: the SDK's CredentialsProviderError becomes a message naming the chain it uses", async () => {
    const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _s, ...noKeys } = env;
    const r = await runSerialized(providerText, "create", [inputs(ids.nitro)], noKeys);
    assert.equal(r.ok, false);
    assert.match(r.value, /i-0a1b2c3d4e5f60718: no AWS credentials for ec2:GetConsoleOutput/);
    assert.match(r.value, /aws:accessKey and aws:assumeRoles are not followed/);
  });

  it("replaces (a new lookup) only when the instance changes; refresh keeps the key", async () => {
    const old = { ...inputs(ids.nitro), hostKey: keys.pub.ed25519 };
    const same = await runSerialized(
      providerText,
      "diff",
      [ids.nitro, old, { ...inputs(ids.nitro), region: "eu-west-1" }],
      env,
    );
    assert.deepEqual(same.value, { changes: false, replaces: [], deleteBeforeReplace: false });
    const replaced = await runSerialized(providerText, "diff", [ids.nitro, old, inputs("i-0new00000000000001")], env);
    assert.deepEqual(replaced.value, { changes: true, replaces: ["instanceId"], deleteBeforeReplace: false });
    const read = await runSerialized(providerText, "read", [ids.nitro, old], env);
    assert.deepEqual(read.value, { id: ids.nitro, props: old });
  });

  it("the serialized provider carries code only: no key, password or credential", () => {
    assert.doesNotMatch(providerText, /PRIVATE KEY|MOCKSECRET|AKID|aws_secret/i);
    assert.ok(providerText.includes('require("@aws-sdk/client-ec2")'), "the SDK is loaded at run time");
    assert.equal(HOST_KEY_WAIT.timeoutSeconds, 25 * 60);
  });
});
