// The server's SSH host key in the whole program (infra/index.ts with the full example stack) under mocks: the console
// lookup (infra/server-host-key.ts, mocked like every resource here) reads the new instance in its own region, and
// both SSH resources that reach the server, the file copy and the push that carries every secret, pin its key.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AWS_KEYS_NOT_FOLLOWED, awsLookupSettings, awsLookupWarning } from "../../infra/config";
import { HOST_KEY_WAIT } from "../../infra/server-host-key";
import {
  installMocks,
  isSecret,
  MOCK_HOST_KEY,
  MOCK_IP,
  MOCK_REGION,
  type Recorded,
  SERVER_HOST_KEY_TYPE,
  setFullExampleConfig,
  settle,
  value,
} from "./program-harness";

type Program = typeof import("../../infra/index");

describe("the server push pins the host key read from the instance's console", () => {
  const h = installMocks("diy-device-cloud", "dev");
  let program: Program;
  const warnings: string[] = [];
  const warn = console.warn;

  before(async () => {
    // aws:profile is followed by the lookup; aws:accessKey is not (the preview says so).
    const aws = { "aws:region": MOCK_REGION, "aws:profile": "diy-admin", "aws:accessKey": "AKIDEXAMPLE" };
    console.warn = (...args: unknown[]) => {
      warnings.push(args.map(String).join(" "));
    };
    setFullExampleConfig(aws);
    program = require("../../infra/index") as Program;
    await value(program.webUrl);
    await settle();
  });
  after(() => {
    console.warn = warn;
  });

  const one = (type: string, name: string): Recorded => {
    const found = h.ofType(type).filter((r) => r.name === name);
    assert.equal(found.length, 1, `${type} ${name}`);
    return found[0] as Recorded;
  };
  const urnOf = (type: string, name: string) => (urn: string) => urn.endsWith(`${type}::${name}`);

  test("one lookup for the instance, in the region of its ARN, with aws:profile and the bounded wait", () => {
    const lookup = one(SERVER_HOST_KEY_TYPE, "diy-host-key");
    assert.equal(lookup.inputs.instanceId, "diy-server-id");
    assert.equal(lookup.inputs.region, MOCK_REGION);
    assert.equal(lookup.inputs.profile, "diy-admin");
    assert.equal(lookup.inputs.timeoutSeconds, HOST_KEY_WAIT.timeoutSeconds);
    assert.equal(lookup.inputs.intervalSeconds, HOST_KEY_WAIT.intervalSeconds);
    // Gone with the instance; a new instance id is a new lookup (the provider's diff replaces on instanceId).
    assert.ok(urnOf("aws:ec2/instance:Instance", "diy-server")(lookup.options.deletedWith));
    assert.ok(lookup.options.dependencies.some(urnOf("aws:ec2/instance:Instance", "diy-server")));
  });

  test("the push and the server's file copy connect only to that key, after the lookup", () => {
    for (const [type, name] of [
      ["command:remote:Command", "diy-push"],
      ["command:remote:CopyToRemote", "diy-files"],
    ] as const) {
      const r = one(type, name);
      assert.equal(r.inputs.connection.host, MOCK_IP);
      assert.equal(r.inputs.connection.hostKey, MOCK_HOST_KEY, `${name} pins the console's host key`);
      assert.ok(r.options.dependencies.some(urnOf(SERVER_HOST_KEY_TYPE, "diy-host-key")), `${name} waits for it`);
    }
  });

  test("no SSH resource dials the server without a pinned host key", () => {
    const toServer = h.resources.filter(
      (r) => r.type.startsWith("command:remote:") && r.inputs.connection?.host === MOCK_IP,
    );
    assert.ok(toServer.length >= 2);
    for (const r of toServer) assert.equal(r.inputs.connection.hostKey, MOCK_HOST_KEY, r.name);
  });

  test("serverHostKey is a plain output; the lookup's state and serialized provider hold no secret", async () => {
    assert.equal(await value(program.serverHostKey), MOCK_HOST_KEY);
    assert.equal(await isSecret(program.serverHostKey), false);
    const lookup = one(SERVER_HOST_KEY_TYPE, "diy-host-key");
    assert.deepEqual(lookup.secretInputs, []);
    assert.equal(typeof lookup.inputs.__provider, "string", "the provider travels as serialized code");
    assert.match(lookup.inputs.__provider, /require\("@aws-sdk\/client-ec2"\)/);
    const text = JSON.stringify(lookup.inputs);
    assert.doesNotMatch(text, /PRIVATE KEY|MOCKSECRET|AKIDEXAMPLE/);
  });

  test("the preview warns that aws:accessKey is not used by the lookup", () => {
    const ours = warnings.filter((w) => w.includes("host key lookup"));
    assert.equal(ours.length, 1, warnings.join("\n"));
    assert.match(ours[0] ?? "", /does not use aws:accessKey from the stack config/);
  });
});

describe("which aws provider settings the lookup follows", () => {
  test("aws:profile is passed on; credentials and roles in config are named, not followed", () => {
    assert.deepEqual(awsLookupSettings({ "aws:region": "eu-west-1" }), { notFollowed: [] });
    assert.deepEqual(awsLookupSettings({ "aws:profile": "p", "aws:assumeRoles": "[]", "aws:token": "" }), {
      profile: "p",
      notFollowed: ["aws:assumeRoles"],
    });
    assert.equal(awsLookupWarning({ notFollowed: [] }), undefined);
    assert.match(awsLookupWarning({ notFollowed: ["aws:assumeRoles"] }) ?? "", /AWS_\* environment variables/);
    assert.ok(AWS_KEYS_NOT_FOLLOWED.includes("aws:secretKey"));
  });
});
