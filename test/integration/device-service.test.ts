import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import type { DeviceConfigInput } from "../../device/config";
import { bundle } from "../../infra/bundle";
import { MAX_PAYLOAD_BYTES, WEB_CLIENT_ID, encodeCommand, parseInput, parseState, topics } from "../../protocol";
import { type Received, collect, connectWithFiles, publish, subscribe } from "../support/mqtt";
import { letMessagesArrive, waitUntil } from "../support/wait";
import { tempDir } from "../support/temp-dir";
import { type LocalBroker, type LocalPki, ensureLocalPki, startLocalBroker } from "../support/broker";

// The bundled device service (dist-style device.js run by `node`, as on a board) with the simulated
// backend, against the real mosquitto with the rendered config.

interface DeviceProcess {
  proc: ChildProcess;
  logs: () => string;
  exited: Promise<number | null>;
}

function runDevice(bundlePath: string, configPath: string, env: NodeJS.ProcessEnv = process.env): DeviceProcess {
  const proc = spawn(process.execPath, [bundlePath, "--config", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return { proc, logs: () => out, exited };
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

describe("device service bundle against the real broker", () => {
  const tmp = tempDir("device-service", { daemonsMayEnter: true });
  const state = join(tmp.dir, "state");
  let pki: LocalPki;
  let broker: LocalBroker;
  let bundlePath: string;
  let configPath: string;
  let web: MqttClient;
  let seen: Received[];
  const devices: DeviceProcess[] = [];

  const last = (topic: string) => seen.filter((m) => m.topic === topic).at(-1);
  const stateOf = (name: string) => {
    const m = last(topics.state("sim1", name));
    const p = m ? parseState(m.payload) : undefined;
    return p?.ok ? p.value : undefined;
  };
  const ledFile = () => (existsSync(join(state, "led.state")) ? readFileSync(join(state, "led.state"), "utf8") : "");

  before(async () => {
    mkdirSync(state);
    pki = await ensureLocalPki(join(tmp.dir, "pki"));
    broker = await startLocalBroker({
      dir: join(tmp.dir, "broker"),
      pki,
      source: "device-service test",
      devices: [{ id: "sim1", outputs: ["led"], inputs: ["button"] }],
    });
    bundlePath = join(tmp.dir, "device.js");
    writeFileSync(bundlePath, bundle("device").code);
    const creds = await pki.client("sim1");
    const config: DeviceConfigInput = {
      deviceId: "sim1",
      broker: { url: broker.url, ca: pki.ca, cert: creds.cert, key: creds.key },
      outputs: [{ name: "led", safeState: "off", backend: { type: "simulated" } }],
      inputs: [{ name: "button", backend: { type: "simulated" } }],
      keepaliveSeconds: 10,
      stateDir: state,
    };
    configPath = join(tmp.dir, "config.json");
    writeFileSync(configPath, JSON.stringify(config));
    // A stale "on" from a previous run: the service must replace it with the safe state.
    writeFileSync(join(state, "led.state"), "on\n");
    web = await connectWithFiles(broker.port, { ca: pki.ca, ...(await pki.client(WEB_CLIENT_ID)) }, WEB_CLIENT_ID);
    seen = collect(web);
    await subscribe(web, [topics.state("sim1", "+"), topics.status("sim1"), topics.input("sim1", "+")]);
  });

  after(async () => {
    web?.end(true);
    for (const d of devices) d.proc.kill("SIGKILL");
    await broker?.stop();
    tmp.cleanup();
  });

  let device: DeviceProcess;

  it("starts at the safe state and publishes retained online and output state", async (t) => {
    const started = Date.now();
    device = runDevice(bundlePath, configPath);
    devices.push(device);
    await waitUntil(() => last(topics.status("sim1"))?.payload === "online", `online\n${device.logs()}`);
    t.diagnostic(`start-to-online ${Date.now() - started} ms; RSS ${rssKiB(device.proc.pid ?? 0)} KiB`);
    await waitUntil(() => stateOf("led"), "retained led state");
    assert.equal(stateOf("led")?.value, "off");
    assert.equal(ledFile(), "off\n");
    // Retained: a client connecting now gets both without waiting for the device. The late reader
    // replaces `web`: the broker binds the client id to the certificate, one connection per identity.
    web.end(true);
    web = await connectWithFiles(broker.port, { ca: pki.ca, ...(await pki.client(WEB_CLIENT_ID)) }, WEB_CLIENT_ID);
    const lateSeen = collect(web);
    seen = lateSeen;
    await subscribe(web, [topics.state("sim1", "+"), topics.status("sim1"), topics.input("sim1", "+")]);
    await waitUntil(() => lateSeen.length >= 2, "retained messages for a late subscriber");
    assert.ok(lateSeen.every((m) => m.retain));
    assert.deepEqual(lateSeen.map((m) => m.topic).sort(), [topics.state("sim1", "led"), topics.status("sim1")].sort());
  });

  it("applies on, off and toggle commands to the LED and publishes retained state with the request id", async () => {
    for (const [value, expected, req] of [
      ["on", "on", "c1"],
      ["toggle", "off", "c2"],
      ["toggle", "on", "c3"],
      ["off", "off", "c4"],
    ] as const) {
      assert.deepEqual(await publish(web, topics.set("sim1", "led"), encodeCommand({ value, req })), { ok: true });
      await waitUntil(() => stateOf("led")?.req === req, `state with req ${req}\n${device.logs()}`);
      assert.equal(stateOf("led")?.value, expected, req);
      assert.equal(ledFile(), `${expected}\n`, req);
      assert.equal(last(topics.state("sim1", "led"))?.retain, false, "live delivery is not flagged retained");
    }
  });

  it("logs and drops bad payloads, is never sent unknown outputs, stays alive and keeps applying commands", async () => {
    const before = seen.length;
    const bad: [string, string][] = [
      [topics.set("sim1", "led"), "not json"],
      [topics.set("sim1", "led"), JSON.stringify({ value: "blink", req: "x" })],
      [topics.set("sim1", "led"), JSON.stringify({ value: "on" })],
      [topics.set("sim1", "led"), JSON.stringify({ value: "on", req: "x", extra: 1 })],
      [topics.set("sim1", "led"), "x".repeat(MAX_PAYLOAD_BYTES)],
    ];
    for (const [topic, payload] of bad) assert.deepEqual(await publish(web, topic, payload), { ok: true });
    // The web identity may command any name; the broker delivers to sim1 only its configured outputs
    // (the service would drop it too: device-state.test.ts).
    assert.deepEqual(await publish(web, topics.set("sim1", "fan"), encodeCommand({ value: "on", req: "x" })), {
      ok: true,
    });
    await waitUntil(
      () => (device.logs().match(/"event":"dropped message"/g) ?? []).length >= bad.length,
      `five drop logs\n${device.logs()}`,
    );
    await letMessagesArrive();
    assert.equal(device.proc.exitCode, null, "the service is still running");
    assert.doesNotMatch(device.logs(), /fan/, "the broker delivered a command for an output sim1 does not have");
    assert.equal(ledFile(), "off\n");
    assert.deepEqual(seen.slice(before), [], "no state was published for a dropped message");
    for (const line of device.logs().trim().split("\n"))
      assert.doesNotThrow(() => JSON.parse(line), `one JSON object per log line: ${line}`);
    await publish(web, topics.set("sim1", "led"), encodeCommand({ value: "on", req: "after-bad" }));
    await waitUntil(() => stateOf("led")?.req === "after-bad", "command after bad payloads");
    assert.equal(ledFile(), "on\n");
  });

  it("publishes input events from the simulated button", async () => {
    writeFileSync(join(state, "button.input"), "pressed\n");
    await waitUntil(() => last(topics.input("sim1", "button")), `input event\n${device.logs()}`);
    const ev = parseInput(last(topics.input("sim1", "button"))?.payload ?? "");
    assert.equal(ev.ok && ev.value.value, "pressed");
    writeFileSync(join(state, "button.input"), "released\n");
    await waitUntil(() => {
      const e = parseInput(last(topics.input("sim1", "button"))?.payload ?? "");
      return e.ok && e.value.value === "released";
    }, "released event");
  });

  it("reconnects after a broker restart, republishes online and state, and applies a command sent after it", async () => {
    const connects = () => (device.logs().match(/"event":"connected"/g) ?? []).length;
    const connectsBefore = connects();
    web.end(true);
    await broker.stop();
    await waitUntil(() => /"event":"disconnected; reconnecting"/.test(device.logs()), "device noticing the outage");
    await broker.start();
    web = await connectWithFiles(broker.port, { ca: pki.ca, ...(await pki.client(WEB_CLIENT_ID)) }, WEB_CLIENT_ID);
    seen = collect(web);
    await subscribe(web, [topics.state("sim1", "+"), topics.status("sim1")]);
    await waitUntil(() => connects() > connectsBefore, `reconnect\n${device.logs()}`, { timeoutMs: 40_000 });
    await waitUntil(() => last(topics.status("sim1"))?.payload === "online", "online after reconnect");
    await publish(web, topics.set("sim1", "led"), encodeCommand({ value: "off", req: "after-restart" }));
    await waitUntil(() => stateOf("led")?.req === "after-restart", `command after restart\n${device.logs()}`);
    assert.equal(ledFile(), "off\n");
  });

  it("leaves a retained offline (its Last Will) when the process is killed", async () => {
    device.proc.kill("SIGKILL");
    await device.exited;
    await waitUntil(() => last(topics.status("sim1"))?.payload === "offline", "LWT offline");
    assert.equal(last(topics.status("sim1"))?.retain, false);
  });

  it("publishes offline and exits 0 on SIGTERM", async () => {
    const again = runDevice(bundlePath, configPath);
    devices.push(again);
    await waitUntil(() => /"event":"connected"/.test(again.logs()), "second start");
    await waitUntil(() => last(topics.status("sim1"))?.payload === "online", "online");
    again.proc.kill("SIGTERM");
    assert.equal(await again.exited, 0, again.logs());
    await waitUntil(() => last(topics.status("sim1"))?.payload === "offline", "offline on shutdown");
    assert.match(again.logs(), /"event":"stopped"/);
  });

  it("logs only its own JSON lines, and mqtt.js's packet trace too when started with DEBUG (the bundle's debug stand-in)", async () => {
    const { DEBUG: _unset, ...quietEnv } = process.env;
    const quiet = runDevice(bundlePath, configPath, quietEnv);
    devices.push(quiet);
    await waitUntil(() => /"event":"connected"/.test(quiet.logs()), "quiet start");
    quiet.proc.kill("SIGTERM");
    assert.equal(await quiet.exited, 0, quiet.logs());
    for (const line of quiet.logs().trim().split("\n")) assert.doesNotThrow(() => JSON.parse(line), line);
    const loud = runDevice(bundlePath, configPath, {
      ...quietEnv,
      DEBUG: "mqttjs:client,mqtt-packet:*",
      DEBUG_COLORS: "0",
    });
    devices.push(loud);
    await waitUntil(() => /"event":"connected"/.test(loud.logs()), "start with DEBUG");
    loud.proc.kill("SIGTERM");
    assert.equal(await loud.exited, 0, loud.logs());
    assert.match(loud.logs(), /mqttjs:client connect :: sending queued packets/);
    assert.match(loud.logs(), /mqtt-packet:parser parse: current state/);
    await waitUntil(() => last(topics.status("sim1"))?.payload === "offline", "offline after the second stop");
  });

  it("with DIY_LATENCY_TRACE, writes a command's device hops in path order at exit (the click benchmark's breakdown)", async () => {
    const traceFile = join(tmp.dir, "device.trace");
    const traced = runDevice(bundlePath, configPath, { ...process.env, DIY_LATENCY_TRACE: traceFile });
    devices.push(traced);
    await waitUntil(() => /"event":"connected"/.test(traced.logs()), "traced start");
    // "connected" is logged before the SUBACK; "online" is published after it: a command sent before would be lost.
    await waitUntil(() => last(topics.status("sim1"))?.payload === "online", "traced device subscribed");
    assert.deepEqual(await publish(web, topics.set("sim1", "led"), encodeCommand({ value: "on", req: "trace1" })), {
      ok: true,
    });
    await waitUntil(() => stateOf("led")?.req === "trace1", `state with req trace1\n${traced.logs()}`);
    assert.equal(existsSync(traceFile), false, "nothing is written on the hot path");
    traced.proc.kill("SIGTERM");
    assert.equal(await traced.exited, 0, traced.logs());
    const hops = readFileSync(traceFile, "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter(([, , req]) => req === "trace1");
    assert.deepEqual(
      hops.map(([, hop]) => hop),
      ["device-received", "output-written", "state-published"],
    );
    const times = hops.map(([at]) => Number(at));
    assert.ok(
      times.every((t, i) => Number.isFinite(t) && t >= (times[i - 1] ?? 0)),
      times.join(" "),
    );
  });

  it("refuses to start with an invalid config and names the key", async () => {
    const badPath = join(tmp.dir, "bad.json");
    writeFileSync(badPath, JSON.stringify({ deviceId: "web", broker: {}, outputs: [], inputs: [] }));
    const bad = runDevice(bundlePath, badPath);
    devices.push(bad);
    assert.equal(await bad.exited, 1);
    assert.match(bad.logs(), /cannot start/);
    assert.match(bad.logs(), /deviceId/);
    assert.match(bad.logs(), /broker\.url/);
  });
});
