import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { DeviceSettings } from "../../infra/config";
// Importing creates nothing: resources exist only once a component is constructed after setMocks.
import { Device, provisionDevices } from "../../infra/devices";
import { parseDevicePayload } from "../../infra/render/device-payload";
import { planDevice } from "../../infra/render/device-plan";
import { installMocks, secretLeaks, settle, value } from "./program-harness";
import { opensshEd25519Key, type TestPki, testPki } from "./tls-double";

// infra/devices.ts under Pulumi mocks: one component per device, its children, the install/uninstall
// commands, where the secrets go, and when the install re-runs.

const h = installMocks();

// Real keys and certificates in @pulumi/tls's formats (tls-double.ts), as the program hands them over.
const SSH_KEY = opensshEd25519Key("devices-program deviceSshPrivateKey");
let pki: TestPki;
let KEY = "";
before(async () => {
  pki = await testPki(["pi1", "pi1:bridge", "pib", "pib:bridge", "pi1-rotated"]);
  KEY = pki.clients.pi1?.keyPem ?? "";
});
const certOf = (id: string) => pki.clients[id]?.certPem ?? "";

const pi: DeviceSettings = {
  id: "pi1",
  host: "192.168.1.40",
  port: 22,
  user: "pi",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfPi1",
  board: "raspberrypi",
  outputs: [{ name: "led", safeState: "off", backend: { type: "gpiod", line: "GPIO17", activeLow: false } }],
  inputs: [],
};
const bridge: DeviceSettings = {
  id: "pib",
  host: "192.168.1.41",
  port: 2222,
  user: "debian",
  board: "beaglebone",
  outputs: [{ name: "usr0", safeState: "off", backend: { type: "led", led: "beaglebone:green:usr0" } }],
  inputs: [],
  bridge: { lanAddress: "192.168.1.41", port: 1883, children: [{ id: "ard1", outputs: ["led"], inputs: [] }] },
};

const recorded = (name: string) => h.resources.find((r) => r.name === name);

const bridgeKey = (id = "pib") => pki.clients[`${id}:bridge`]?.keyPem ?? "";

function args(device: DeviceSettings, over: { cert?: string; bundle?: string; host?: string } = {}) {
  return {
    device,
    ...(device.bridge
      ? {
          bridgeIdentity: {
            certPem: certOf(`${device.id}:bridge`),
            keyPem: pulumi.secret(bridgeKey(device.id)),
          },
        }
      : {}),
    sshPrivateKey: pulumi.secret(SSH_KEY),
    caCertPem: pki.caCertPem,
    identity: {
      certPem: over.cert ?? certOf(device.id),
      keyPem: pulumi.secret(KEY),
    },
    broker: { host: over.host ?? "203.0.113.10", port: 8883 },
    bundle: over.bundle ?? "/* device bundle v1 */",
    source: "test",
  };
}

describe("device provisioning under mocks", () => {
  it("creates one diy:device:Device component per device, each with its install command as a child", async () => {
    const comps = provisionDevices("iot", {
      devices: [pi, bridge],
      sshPrivateKey: pulumi.secret(SSH_KEY),
      caCertPem: pki.caCertPem,
      identities: {
        pi1: { certPem: certOf("pi1"), keyPem: pulumi.secret(KEY) },
        pib: { certPem: certOf("pib"), keyPem: pulumi.secret(pki.clients.pib?.keyPem ?? "") },
      },
      bridgeIdentities: { pib: { certPem: "C3", keyPem: pulumi.secret(KEY) } },
      broker: { host: "203.0.113.10", port: 8883 },
      bundle: "B",
    });
    assert.deepEqual(
      comps.map((c) => c.deviceId),
      ["pi1", "pib"],
    );
    const urns = await Promise.all(comps.flatMap((c) => [value(c.urn), value(c.install.urn)]));
    assert.match(urns[0] ?? "", /::diy:device:Device::iot-device-pi1$/);
    assert.match(urns[1] ?? "", /::diy:device:Device\$command:remote:Command::iot-device-pi1-install$/);
    assert.match(urns[3] ?? "", /::diy:device:Device\$command:remote:Command::iot-device-pib-install$/);
    await settle(...comps.map((c) => c.install.id));
    const lan = h.ofType("random:index/randomPassword:RandomPassword").map((r) => r.name);
    assert.ok(lan.includes("iot-device-pib-lan-ard1"), "a LAN password per bridge child");
    assert.ok(!lan.some((n) => n.startsWith("iot-device-pi1")), "no LAN password for a board without the bridge role");
  });

  it("connects as the configured user with the host key, installs on create (and on update), uninstalls on delete", async () => {
    const dev = new Device("conn", args(pi));
    await settle(dev.install.id, dev.files.id);
    const inputs = recorded("conn-install")?.inputs as Record<string, string>;
    const connection = inputs.connection as unknown as Record<string, unknown>;
    assert.equal(connection.host, "192.168.1.40");
    assert.equal(connection.port, 22);
    assert.equal(connection.user, "pi");
    assert.equal(connection.hostKey, pi.hostKey);
    assert.equal(inputs.logging, "none");
    // The install script was copied to the board (the -files resource); the line runs it if its hash matches.
    const script = planDevice({
      source: "test",
      device: pi,
      broker: { host: "203.0.113.10", port: 8883 },
      bundle: "/* device bundle v1 */",
      caCertPem: args(pi).caCertPem,
      certPem: args(pi).identity.certPem,
    }).installScript;
    const sum = createHash("sha256").update(script).digest("hex");
    assert.ok(inputs.create?.includes(`"${sum}  -"`), "create runs the rendered install script");
    assert.match(inputs.create ?? "", /sudo -n bash -c "\$s" diy-device-install "\$HOME\/\.diy-device-cloud"/);
    // No `update`: the provider runs `create` on an update (pulumi-command commandController.go), and the state
    // would hold the same line twice.
    assert.equal(inputs.update, undefined);
    const decode = (line: string | undefined) =>
      Buffer.from(/printf %s '([A-Za-z0-9+/=]+)'/.exec(line ?? "")?.[1] ?? "", "base64").toString();
    assert.match(decode(inputs.delete), /^# Uninstalls the DIY Device Cloud device service for "pi1"/m);
    assert.match(inputs.delete ?? "", /diy-device-uninstall/);
    const copy = recorded("conn-files");
    assert.equal(copy?.type, "command:remote:CopyToRemote");
    assert.equal(copy?.inputs.remotePath, ".diy-device-cloud");
    assert.deepEqual(copy?.inputs.connection, connection, "the copy reaches the board the same way");
  });

  it("keeps the device key, SSH key and LAN passwords out of every plain input: they are only in secret values", async () => {
    const dev = new Device("secrets", args(bridge));
    await settle(dev.install.id, dev.lanPasswords as pulumi.Output<unknown>);
    const install = recorded("secrets-install");
    const inputs = install?.inputs ?? {};
    const secret = install?.secretInputs ?? [];
    assert.ok(secret.includes("stdin"), "stdin is a secret");
    assert.ok(secret.includes("connection"), "the connection (holding the SSH key) is a secret");
    for (const k of ["create", "delete"]) assert.ok(!secret.includes(k), `${k} stays readable in a diff`);

    const payload = parseDevicePayload(inputs.stdin as string);
    assert.equal(payload["device.key"], KEY, "the key travels in stdin");
    const passwords = await value(dev.lanPasswords as pulumi.Output<Record<string, string>>);
    assert.equal(payload["bridge.passwd"], `ard1:${passwords.ard1}\n`, "and so do the LAN passwords");
    assert.equal(payload["bridge.key"], bridgeKey(), "and the bridge connection's key");
    assert.ok(await pulumi.isSecret(dev.lanPasswords as pulumi.Output<unknown>));

    const plain = JSON.stringify(h.resources.map((r) => r.plainInputs));
    assert.deepEqual(secretLeaks(plain), [], "no key in a plain input");
    assert.ok(!plain.includes(String(passwords.ard1)), "no LAN password in a plain input");
    for (const out of [dev.contentHash]) assert.equal(await pulumi.isSecret(out), false);
  });

  it("changes the trigger when and only when what is installed changes", async () => {
    const hash = async (n: string, device: DeviceSettings, over: Parameters<typeof args>[1] = {}) =>
      value(new Device(n, args(device, over)).contentHash);
    const base = await hash("t-base", pi);
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(await hash("t-same", pi), base, "same inputs, same trigger");
    assert.equal(
      await hash("t-ssh", { ...pi, host: "10.0.0.9", port: 2200, user: "admin" }),
      base,
      "how the board is reached is not installed content",
    );
    const changed = [
      await hash("t-bundle", pi, { bundle: "/* device bundle v2 */" }),
      await hash("t-cert", pi, { cert: certOf("pi1-rotated") }),
      await hash("t-broker", pi, { host: "cloud.example.org" }),
      await hash("t-output", {
        ...pi,
        outputs: [{ name: "led", safeState: "on", backend: { type: "gpiod", line: "GPIO17", activeLow: false } }],
      }),
      await hash("t-bridge", {
        ...pi,
        bridge: { lanAddress: "192.168.1.40", port: 1883, children: [{ id: "ard9", outputs: [], inputs: [] }] },
      }),
    ];
    for (const h of changed) assert.notEqual(h, base);
    assert.equal(new Set(changed).size, changed.length);
  });

  it("warns in the preview when a device has no hostKey, with the ssh-keyscan recipe, and not when it has one", (t) => {
    const warn = t.mock.method(console, "warn", () => {});
    const { hostKey: _h, ...unpinned } = pi;
    new Device("nokey", args({ ...unpinned, port: 2222 }));
    new Device("pinned", args(pi));
    const messages = warn.mock.calls.map((c) => String(c.arguments[0]));
    const ours = messages.filter((m) => m.includes("hostKey"));
    assert.equal(ours.length, 1, messages.join("\n"));
    assert.match(ours[0] ?? "", /device pi1 has no hostKey: pulumi up will trust any SSH host key at 192\.168\.1\.40/);
    assert.match(ours[0] ?? "", /ssh-keyscan -t ed25519 -p 2222 192\.168\.1\.40/);
    assert.match(ours[0] ?? "", /ssh_host_ed25519_key\.pub/);
  });

  it("asks for the SSH key when devices are listed without one", async () => {
    assert.throws(
      () =>
        provisionDevices("x", {
          devices: [pi],
          sshPrivateKey: undefined,
          caCertPem: "CA",
          identities: {},
          broker: { host: "h", port: 8883 },
          bundle: "B",
        }),
      /deviceSshPrivateKey is required when devices are listed/,
    );
    assert.deepEqual(
      provisionDevices("x", {
        devices: [],
        sshPrivateKey: undefined,
        caCertPem: "CA",
        identities: {},
        broker: { host: "h", port: 8883 },
        bundle: "B",
      }),
      [],
    );
  });
});
