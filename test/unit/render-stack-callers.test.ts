// One way to render a stack (infra/render-stack.ts renderStack), held to by its callers: for the same stack and the
// same certificates, secrets and addresses, the Pulumi program (under setMocks), `npm run render` (scripts/render.ts
// writeStack) and the daemon tier's fixture (test/integration/daemons-fixtures.ts) produce the same files: paths,
// modes and owners, contents. So none of them can drift into a composition of its own again.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { iotCoreCaBundle } from "../../infra/amazon-root-ca";
import { DeviceCloud } from "../../infra/cloud";
import type { Settings } from "../../infra/config";
import { parseDevicePayload } from "../../infra/render/device-payload";
import { SERVER_MOSQUITTO_PATHS } from "../../infra/render/mosquitto";
import { type RenderedStack, renderStack, type StackRenderInput } from "../../infra/render-stack";
import { readStackFile } from "../../infra/stack-file";
import { PLACEHOLDER_VOLUME_ID, renderStackToDir, writeStack } from "../../scripts/render";
import { fixtureServer, fixtureSettings } from "../integration/daemons-fixtures";
import { settingsFrom } from "../support/settings";
import {
  FULL_EXAMPLE,
  type Harness,
  installMocks,
  SECRET_MARKER,
  settle,
  TEST_SSH_KEY,
  value,
} from "./program-harness";

const root = path.resolve(__dirname, "../..");
const NAME = "same";
/** The full example with one device revoked, so the CRL is among the files. */
const config: Record<string, string> = {
  ...readStackFile(path.join(root, FULL_EXAMPLE)).raw,
  revokedDevices: JSON.stringify(["bbb1"]),
};
const secrets = { deviceSshPrivateKey: TEST_SSH_KEY, smtpPassword: `${SECRET_MARKER}-smtp` };

/** A server file as the push installs it: `put PATH MODE OWNER GROUP SHA256` (+ base64 heredoc) or `put_staged`. */
interface Installed {
  mode: string;
  owner: string;
  group: string;
  content: string;
}

/** The files a push script installs, the staged ones read from `staged` (path relative to the admin's home). */
function installedBy(script: string, staged: Record<string, string>): Map<string, Installed> {
  const files = new Map<string, Installed>();
  const unquote = (p: string) => p.replace(/^'(.*)'$/, "$1");
  for (const m of script.matchAll(/^\s*put (\S+) (\S+) (\S+) (\S+) [0-9a-f]{64} <<'(\S+)'\n([\s\S]*?)\n\s*\5$/gm)) {
    const [, p, mode, owner, group, , body] = m as unknown as string[];
    files.set(unquote(p as string), {
      mode: mode as string,
      owner: owner as string,
      group: group as string,
      content: Buffer.from((body as string).replace(/\s/g, ""), "base64").toString("utf8"),
    });
  }
  for (const m of script.matchAll(/^\s*put_staged (\S+) (\S+) (\S+) (\S+) [0-9a-f]{64} (\S+)$/gm)) {
    const [, p, mode, owner, group, rel] = m as unknown as string[];
    const content = staged[unquote(rel as string)];
    assert.ok(content !== undefined, `the push installs ${p} from ${rel}, which nothing stages`);
    files.set(unquote(p as string), { mode: mode as string, owner: owner as string, group: group as string, content });
  }
  return files;
}

/** renderStack's server files in the same form. */
function rendered(stack: RenderedStack): Map<string, Installed> {
  return new Map(
    stack.server.push.files.map((f) => [f.path, { mode: f.mode, owner: f.owner, group: f.group, content: f.content }]),
  );
}

/** What the program deployed, read back from the mocked resources, and the material it rendered it from. */
interface Deployed {
  settings: Settings;
  input: StackRenderInput;
  userData: string;
  pushScript: string;
  serverFiles: Map<string, Installed>;
  devices: Map<string, { install: string; uninstall: string; payload: string; staged: Record<string, string> }>;
}

/** The contents of a remote.CopyToRemote's source archive (FileAssets of local copies), by name. */
function archiveFiles(source: unknown): Record<string, string> {
  const assets = (source as { assets: Record<string, { path: string }> }).assets;
  return Object.fromEntries(Object.entries(assets).map(([name, a]) => [name, fs.readFileSync(a.path, "utf8")]));
}

async function deploy(
  stackConfig: Record<string, string> = config,
  stackSecrets: { deviceSshPrivateKey: string; smtpPassword?: string } = secrets,
): Promise<Deployed> {
  const h: Harness = installMocks();
  const raw = { ...stackConfig, ...stackSecrets };
  const settings = settingsFrom(raw);
  const cloud = new DeviceCloud(NAME, { settings, webBundle: "// web bundle\n", deviceBundle: "// device bundle\n" });
  await value(cloud.server.push.urn);
  await Promise.all(cloud.devices.map((d) => value(d.install.urn)));
  await settle();
  const pair = async (kc: { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> }) => ({
    certPem: await value(kc.certPem),
    keyPem: await value(kc.keyPem),
  });
  const pairs = async (m: Record<string, { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> }>) =>
    Object.fromEntries(await Promise.all(Object.entries(m).map(async ([id, kc]) => [id, await pair(kc)] as const)));

  const commands = h.ofType("command:remote:Command");
  const push = commands.find((r) => r.name === `${NAME}-push`);
  assert.ok(push, `no push among ${commands.map((r) => r.name).join(", ")}`);
  const pushCopy = h.ofType("command:remote:CopyToRemote").find((r) => r.name === `${NAME}-files`);
  assert.ok(pushCopy, "no copy of the web bundle");
  const pushScript = push.inputs.stdin as string;
  const serverFiles = installedBy(
    pushScript,
    prefixed(archiveFiles(pushCopy.inputs.source), pushCopy.inputs.remotePath),
  );
  const sessionSecret = h
    .ofType("random:index/randomPassword:RandomPassword")
    .find((r) => r.name === `${NAME}-session-secret`)?.state.result as string;
  const brokerHost = await value(cloud.brokerHost);
  const crlPem = serverFiles.get(SERVER_MOSQUITTO_PATHS.crlfile)?.content;
  const iot = cloud.iotCore;
  const input: StackRenderInput = {
    settings,
    source: `DeviceCloud "${NAME}" (stack ${pulumi.getStack()})`,
    webUrl: await value(cloud.webUrl),
    // With IoT Core, the identities are the ones the program's things were issued (the mocks' certificates).
    broker: iot
      ? {
          kind: "iot-core",
          endpoint: await value(iot.endpoint),
          region: await value(iot.region),
          thingPrefix: iot.thingPrefix,
          caCertPem: iotCoreCaBundle(),
          identities: {
            web: await pair(iot.web),
            clients: await pairs(iot.clients),
            bridges: await pairs(iot.bridges),
          },
        }
      : { host: brokerHost, port: cloud.brokerPort },
    adminPublicKeys: [await value(cloud.pki.adminSshKey.publicKeyOpenssh)],
    pki: {
      caCertPem: await value(cloud.pki.ca.certPem),
      server: await pair(cloud.pki.server),
      web: await pair(cloud.pki.web),
      clients: await pairs(cloud.pki.clients),
      bridges: await pairs(cloud.pki.bridges),
      // Signed by the program at `up` (infra/crl.ts); taken as the push carries it (none with IoT Core).
      ...(iot ? {} : { crlPem: crlPem ?? "no CRL pushed" }),
    },
    webPassword: await value(cloud.webPassword),
    sessionSecret,
    ...(stackSecrets.smtpPassword === undefined ? {} : { smtpPassword: stackSecrets.smtpPassword }),
    historyVolumeId: await value(cloud.history.volumeId),
    lanPasswords: await value(cloud.bridgeLanPasswords),
    webBundle: "// web bundle\n",
    deviceBundle: "// device bundle\n",
  };
  const instance = h.ofType("aws:ec2/instance:Instance")[0];
  assert.ok(instance);
  const devices: Deployed["devices"] = new Map();
  for (const d of settings.devices) {
    const install = commands.find((r) => r.name === `${NAME}-device-${d.id}-install`);
    const copy = h.ofType("command:remote:CopyToRemote").find((r) => r.name === `${NAME}-device-${d.id}-files`);
    assert.ok(install && copy, `device ${d.id}: no install or copy`);
    devices.set(d.id, {
      install: install.inputs.create,
      uninstall: install.inputs.delete,
      payload: install.inputs.stdin,
      staged: archiveFiles(copy.inputs.source),
    });
  }
  return { settings, input, userData: instance.inputs.userData, pushScript, serverFiles, devices };
}

/** Archive names as paths relative to the SSH user's home (CopyToRemote puts them under remotePath). */
function prefixed(files: Record<string, string>, remotePath: string): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([name, content]) => [`${remotePath}/${name}`, content]));
}

/**
 * A suite's deployment: the program under mocks before its tests, renderStack of the material it used, a temp dir
 * for what the tests write.
 */
function deployedSuite(run: () => Promise<Deployed>): {
  out: string;
  deployed: () => Deployed;
  expected: () => RenderedStack;
} {
  let state: { deployed: Deployed; expected: RenderedStack } | undefined;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "diy-render-callers-"));
  after(() => fs.rmSync(out, { recursive: true, force: true }));
  before(async () => {
    const deployed = await run();
    state = { deployed, expected: renderStack(deployed.input) };
  });
  const got = () => {
    assert.ok(state, "deployed");
    return state;
  };
  return { out, deployed: () => got().deployed, expected: () => got().expected };
}

/** The program's user data, push and each board's install are renderStack's. */
function assertProgramRendersThrough(deployed: Deployed, expected: RenderedStack): void {
  assert.equal(deployed.userData, expected.server.userData);
  assert.equal(deployed.pushScript, expected.server.push.script);
  assert.deepEqual(deployed.serverFiles, rendered(expected));
  assert.deepEqual([...deployed.devices.keys()], ["pi1", "bbb1", "bridge1"]);
  for (const d of expected.devices) {
    const got = deployed.devices.get(d.device.id);
    assert.ok(got);
    assert.equal(got.install, d.plan.installCommand, d.device.id);
    assert.equal(got.uninstall, d.plan.uninstallCommand, d.device.id);
    assert.equal(got.payload, d.payload, d.device.id);
    assert.deepEqual(got.staged, d.plan.staged.files, d.device.id);
  }
}

describe("the program, npm run render and the daemon tier render a stack through renderStack", () => {
  const suite = deployedSuite(() => deploy());
  const { out } = suite;

  test("the program pushes and installs exactly what renderStack renders from its certificates, secrets and addresses", () => {
    const deployed = suite.deployed();
    assert.ok(deployed.serverFiles.has(SERVER_MOSQUITTO_PATHS.crlfile), "the revoked device's CRL is pushed");
    assertProgramRendersThrough(deployed, suite.expected());
  });

  test("npm run render writes the program's files: each server file at its path (secret ones 0600), each board's, the scripts", () => {
    const deployed = suite.deployed();
    const expected = suite.expected();
    const written = writeStack(out, deployed.input);
    const read = (rel: string) => fs.readFileSync(path.join(out, rel), "utf8");
    assert.equal(read("server/user-data.yaml"), deployed.userData);
    assert.equal(read("server/push.sh"), deployed.pushScript);
    const serverFiles = written.filter((f) => f.path.startsWith("server/files/"));
    assert.deepEqual(
      serverFiles.map((f) => f.path.slice("server/files".length)).sort(),
      [...deployed.serverFiles.keys()].sort(),
    );
    const secretPaths = new Set(expected.server.push.files.filter((f) => f.secret).map((f) => f.path));
    for (const f of serverFiles) {
      const p = f.path.slice("server/files".length);
      assert.equal(read(f.path), deployed.serverFiles.get(p)?.content, p);
      assert.equal(f.secret, secretPaths.has(p), `${p}: secret`);
      assert.equal(fs.statSync(path.join(out, f.path)).mode & 0o777, f.secret ? 0o600 : 0o644, p);
    }
    for (const [id, d] of deployed.devices) {
      assert.equal(read(`devices/${id}/payload.txt`), d.payload, id);
      // The payload's files, each on its own; the LAN passwords only inside payload.txt.
      const { "bridge.passwd": _lan, ...files } = parseDevicePayload(d.payload);
      const names = written.flatMap((f) => (f.path.startsWith(`devices/${id}/files/`) ? [path.basename(f.path)] : []));
      assert.deepEqual(names.sort(), Object.keys(files).sort(), id);
      for (const [name, content] of Object.entries(files)) assert.equal(read(`devices/${id}/files/${name}`), content);
      const plan = expected.devices.find((x) => x.device.id === id)?.plan;
      assert.equal(read(`devices/${id}/install.sh`), plan?.installScript);
      assert.equal(read(`devices/${id}/uninstall.sh`), plan?.uninstallScript);
      for (const [name, content] of Object.entries(d.staged))
        assert.equal(read(`devices/${id}/staged/${plan?.staged.dir}/${name}`), content);
    }
  });

  test("npm run render with its own placeholders writes the same server paths and board files as the program", async () => {
    const deployed = suite.deployed();
    const own = path.join(out, "own");
    const { files } = await renderStackToDir({ stack: "example-full", out: own, bundles: false });
    // example-full revokes nothing: the CRL is the one file the program pushes here for the revoked bbb1.
    const paths = files.flatMap((f) =>
      f.path.startsWith("server/files/") ? [f.path.slice("server/files".length)] : [],
    );
    assert.deepEqual(
      paths.sort(),
      [...deployed.serverFiles.keys()].filter((p) => p !== SERVER_MOSQUITTO_PATHS.crlfile).sort(),
    );
    assert.ok(
      paths.some((p) => fs.readFileSync(path.join(own, "server/files", p), "utf8").includes(PLACEHOLDER_VOLUME_ID)),
    );
    for (const id of deployed.devices.keys()) {
      const names = files.flatMap((f) => (f.path.startsWith(`devices/${id}/files/`) ? [path.basename(f.path)] : []));
      const { "bridge.passwd": _lan, ...payload } = parseDevicePayload(deployed.devices.get(id)?.payload ?? "");
      assert.deepEqual(names.sort(), Object.keys(payload).sort(), id);
    }
  });

  test("the daemon tier's fixture of the same stack runs the program's files (paths, modes, owners, contents) and script", () => {
    const deployed = suite.deployed();
    const fixture = {
      name: "the full example",
      config,
      secrets: {
        webPassword: deployed.input.webPassword,
        sessionSecret: deployed.input.sessionSecret,
        smtpPassword: secrets.smtpPassword,
      },
    };
    // The fixture's own Settings (its stack config read as the program reads it), the program's material.
    const server = fixtureServer({ ...deployed.input, settings: fixtureSettings(fixture) });
    assert.deepEqual(
      new Map(server.files.map((f) => [f.path, { mode: f.mode, owner: f.owner, group: f.group, content: f.content }])),
      deployed.serverFiles,
    );
    assert.equal(server.script, deployed.pushScript);
    assert.equal(server.userData, deployed.userData);
  });
});

describe("broker iot-core: the program and npm run render render the iot-core example through renderStack", () => {
  const suite = deployedSuite(() =>
    deploy(readStackFile(path.join(root, "Pulumi.example-iot-core.yaml")).raw, { deviceSshPrivateKey: TEST_SSH_KEY }),
  );
  const { out } = suite;

  test("the program pushes and installs exactly what renderStack renders from its things' certificates and endpoint", () => {
    const deployed = suite.deployed();
    assert.equal(deployed.settings.broker, "iot-core");
    assert.ok(![...deployed.serverFiles.keys()].some((p) => p.startsWith("/etc/mosquitto/")));
    assertProgramRendersThrough(deployed, suite.expected());
  });

  test("npm run render with its own placeholders writes the same server paths and board files as the program", async () => {
    const deployed = suite.deployed();
    const { files } = await renderStackToDir({ stack: "example-iot-core", out, bundles: false });
    const paths = files.flatMap((f) =>
      f.path.startsWith("server/files/") ? [f.path.slice("server/files".length)] : [],
    );
    assert.deepEqual(paths.sort(), [...deployed.serverFiles.keys()].sort());
    for (const id of deployed.devices.keys()) {
      const names = files.flatMap((f) => (f.path.startsWith(`devices/${id}/files/`) ? [path.basename(f.path)] : []));
      const { "bridge.passwd": _lan, ...payload } = parseDevicePayload(deployed.devices.get(id)?.payload ?? "");
      assert.deepEqual(names.sort(), Object.keys(payload).sort(), id);
    }
  });
});
