import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { bundle } from "../../infra/bundle";
import { deviceConfig } from "../../infra/render/device-config";
import { WEB_CLIENT_ID, encodeCommand, parseInput, parseState, topics } from "../../protocol";
import { type FakeLibgpiod2, installFakeLibgpiod2, piChip } from "../fakes/gpiod";
import { type Received, collect, connectWithFiles, publish, subscribe } from "../support/mqtt";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";
import { type LocalBroker, type LocalPki, ensureLocalPki, startLocalBroker } from "../support/broker";
import { settingsFrom } from "../support/settings";

// The hello world on a Raspberry Pi flashed today (Raspberry Pi OS trixie: libgpiod 2.2's tools): a stack entry
// that names no backend gets the board profile's LED on GPIO17 and button on GPIO27, the bundled device service
// runs that config with the libgpiod 2.2 double on its PATH (as Debian 13's gpiod package puts the real tools),
// and a command from the web identity sets the line while pulling the button line low reports a press.

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe("a Raspberry Pi on libgpiod 2.2 with the board profile's defaults", () => {
  const tmp = tempDir("device-pi-gpiod", { daemonsMayEnter: true });
  let pki: LocalPki;
  let broker: LocalBroker;
  let web: MqttClient;
  let seen: Received[];
  let gpio: FakeLibgpiod2;
  let device: ChildProcess | undefined;
  let logs = "";

  before(async () => {
    pki = await ensureLocalPki(join(tmp.dir, "pki"));
    broker = await startLocalBroker({
      dir: join(tmp.dir, "broker"),
      pki,
      source: "device-pi-gpiod test",
      devices: [{ id: "pi1", outputs: ["led"], inputs: ["button"] }],
    });
    gpio = installFakeLibgpiod2(tmp.dir, [piChip()]);
    web = await connectWithFiles(broker.port, { ca: pki.ca, ...(await pki.client(WEB_CLIENT_ID)) }, WEB_CLIENT_ID);
    seen = collect(web);
    await subscribe(web, [topics.state("pi1", "+"), topics.status("pi1"), topics.input("pi1", "+")]);
  });

  after(async () => {
    device?.kill("SIGKILL");
    web?.end(true);
    await broker?.stop();
    tmp.cleanup();
  });

  it("lights GPIO17 on a command and reports GPIO27 pressed, with no backend in the stack config", async () => {
    const raw = {
      adminCidrs: '["198.51.100.7/32"]',
      deviceSshPrivateKey: KEY,
      devices: JSON.stringify([
        {
          id: "pi1",
          host: "192.0.2.21",
          board: "raspberrypi",
          outputs: [{ name: "led" }],
          inputs: [{ name: "button" }],
        },
      ]),
    };
    const settings = settingsFrom(raw);
    const d = settings.devices[0];
    assert.ok(d);
    const rendered = deviceConfig({
      deviceId: d.id,
      board: d.board,
      broker: { host: "127.0.0.1", port: 1 },
      outputs: d.outputs,
      inputs: d.inputs,
    });
    // Only where this machine keeps the broker and the keys differs from what a board gets.
    const creds = await pki.client("pi1");
    const config = {
      ...rendered,
      broker: { url: broker.url, ca: pki.ca, cert: creds.cert, key: creds.key },
      stateDir: join(tmp.dir, "state"),
    };
    assert.deepEqual(
      config.outputs.map((o) => o.backend),
      [{ type: "gpiod", line: "GPIO17" }],
    );
    const configPath = join(tmp.dir, "config.json");
    writeFileSync(configPath, JSON.stringify(config));
    const bundlePath = join(tmp.dir, "device.js");
    writeFileSync(bundlePath, bundle("device").code);

    device = spawn(process.execPath, [bundlePath, "--config", configPath], {
      env: { ...process.env, PATH: `${gpio.bin}:${process.env.PATH ?? ""}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    device.stdout?.on("data", (c: Buffer) => {
      logs += c.toString();
    });
    device.stderr?.on("data", (c: Buffer) => {
      logs += c.toString();
    });
    const last = (topic: string) => seen.filter((m) => m.topic === topic).at(-1);
    await waitUntil(() => last(topics.status("pi1"))?.payload === "online", `pi1 online\n${logs}`, {
      timeoutMs: 30_000,
    });
    assert.match(logs, /"event":"output ready".*"backend":"gpiod:GPIO17\(gpiochip0\/17\) libgpiod 2\.2\.1"/);
    assert.equal(gpio.value("gpiochip0", 17), 0, "safe state off");
    assert.equal(gpio.holder("gpiochip0", 17)?.consumer, "diy-device");

    assert.deepEqual(await publish(web, topics.set("pi1", "led"), encodeCommand({ value: "on", req: "r1" })), {
      ok: true,
    });
    await waitUntil(() => {
      const m = last(topics.state("pi1", "led"));
      const s = m ? parseState(m.payload) : undefined;
      return s?.ok && s.value.req === "r1" ? s.value : undefined;
    }, `state r1\n${logs}`);
    assert.equal(gpio.value("gpiochip0", 17), 1, "GPIO17 is high: the LED is lit");

    await waitUntil(() => gpio.holder("gpiochip0", 27), `gpiomon on GPIO27\n${logs}`);
    gpio.pull("gpiochip0", 27, "pull-down"); // the button shorts the pulled-up line to ground
    const press = await waitUntil(() => {
      const m = last(topics.input("pi1", "button"));
      const p = m ? parseInput(m.payload) : undefined;
      return p?.ok ? p.value : undefined;
    }, `button input\n${logs}`);
    assert.equal(press.value, "pressed");

    device.kill("SIGTERM");
    await new Promise((r) => device?.once("exit", r));
    assert.equal(gpio.holder("gpiochip0", 17), undefined, "stopping the service releases GPIO17");
    assert.equal(gpio.holder("gpiochip0", 27), undefined, "and GPIO27");
  });
});
