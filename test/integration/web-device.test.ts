// Web app + real mosquitto (rendered config, real certs) + the real device service with the
// simulated backend: the click path end to end without a browser.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { memoryLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import type { DeviceView } from "../../apps/web/state";
import { parseDeviceConfig } from "../../device/config";
import { silentLogger } from "../../device/log";
import { type DeviceService, startDeviceService } from "../../device/service";
import { topics } from "../../protocol";
import { login, openEvents, postCommand } from "./web-harness";
import { commandFrame, openLive } from "../support/live-socket";
import { waitUntil } from "../support/wait";
import { type TestBroker, startTestBroker } from "../support/broker";

const PASSWORD = "integration-password";
const SECRET = "integration-session-secret-0123456789";

function ledOf(e: { data: unknown }, id: string): DeviceView["outputs"][number] | undefined {
  const d = e.data as DeviceView;
  return d.id === id ? d.outputs.find((o) => o.name === "led") : undefined;
}

describe("web app + mosquitto + simulated device", () => {
  let broker: TestBroker;
  let web: RunningWeb;
  let device: DeviceService;
  let ledFile = "";
  const log = memoryLogger();
  const spare: MqttClient[] = [];

  before(async () => {
    broker = await startTestBroker("web-device", {
      devices: [
        { id: "sim1", outputs: ["led"], inputs: [] },
        { id: "sim2", outputs: ["led"], inputs: [] },
      ],
    });
    const webCert = await broker.client("web");
    const devCert = await broker.client("sim1");
    ledFile = join(broker.dir, "sim1", "led.state");
    device = await startDeviceService({
      config: parseDeviceConfig({
        deviceId: "sim1",
        broker: { url: broker.url, ca: broker.caFile, cert: devCert.cert, key: devCert.key },
        outputs: [{ name: "led", safeState: "off", backend: { type: "simulated", file: ledFile } }],
        inputs: [],
        stateDir: join(broker.dir, "sim1"),
      }),
      log: silentLogger,
    });
    web = await startWeb(
      {
        listen: { host: "127.0.0.1", port: 0 },
        broker: { url: broker.url, ca: broker.caFile, cert: webCert.cert, key: webCert.key },
        devices: [
          { id: "sim1", label: "Simulated board", outputs: ["led"], inputs: [] },
          // Configured, with no service running: the malformed payloads below come under its identity.
          { id: "sim2", outputs: ["led"], inputs: [] },
        ],
        cookieSecure: false,
      },
      { password: PASSWORD, sessionSecret: SECRET, logger: log, reconnectMinMs: 200 },
    );
    await waitUntil(
      () => web.broker.connected && web.store.get("sim1")?.online === true,
      "web connected and sim1 online",
    );
  });

  after(async () => {
    for (const c of spare) c.end(true);
    await web?.close();
    await device?.stop();
    await broker?.cleanup();
  });

  it("POST on: the simulated LED file turns on and the SSE stream reports the new state with the command's req", async () => {
    const { cookie, csrf } = await login(web.url, PASSWORD);
    const sse = await openEvents(web.url, cookie);
    try {
      const snap = await sse.next((e) => e.event === "snapshot", "snapshot");
      assert.equal((snap.data as { broker: string }).broker, "connected");
      const start = performance.now();
      const res = await postCommand(web.url, { cookie, csrf }, "sim1", "led", "on");
      assert.equal(res.status, 202);
      const { req } = (await res.json()) as { req: string };
      assert.match(req, /^[A-Za-z0-9_-]+$/);
      const ev = await sse.next(
        (e) => e.event === "device" && ledOf(e, "sim1")?.req === req,
        "device event with our req",
      );
      assert.equal(ledOf(ev, "sim1")?.value, "on");
      assert.equal(readFileSync(ledFile, "utf8").trim(), "on");
      const devices = (await (await fetch(`${web.url}/api/devices`, { headers: { cookie } })).json()) as {
        devices: DeviceView[];
      };
      assert.equal(devices.devices[0]?.outputs[0]?.value, "on");
      // A figure for the report, not an assertion (no wall-clock asserts).
      console.log(`# POST -> SSE state event: ${(ev.at - start).toFixed(1)} ms`);
    } finally {
      sse.close();
    }
  });

  it("drops malformed MQTT payloads with a log line; the app keeps its state and keeps serving", async () => {
    const before = [web.store.get("sim1"), web.store.get("sim2")];
    // A device's own identity may write its state topic (one connection per identity: not sim1's,
    // which would take the running service's place).
    const rogue = await broker.connect("sim2");
    spare.push(rogue);
    // (A payload over the protocol's cap never gets here: the broker refuses it, attack-retained.test.ts.)
    const bad = ["not json", '{"value":"blink","at":"2026-01-01T00:00:00Z"}', '{"value":"on"}', "x".repeat(1024), ""];
    for (const p of bad) await rogue.publishAsync(topics.state("sim2", "led"), p, { qos: 1 });
    await rogue.publishAsync(topics.status("sim2"), "sleepy", { qos: 1 });
    await waitUntil(
      () => log.entries.filter((e) => e.event === "mqtt_message_dropped").length >= bad.length + 1,
      "drop log lines",
    );
    const dropped = log.entries.filter((e) => e.event === "mqtt_message_dropped");
    assert.ok(dropped.every((e) => typeof e.reason === "string" && typeof e.topic === "string"));
    assert.deepEqual([web.store.get("sim1"), web.store.get("sim2")], before);
    assert.equal((await fetch(`${web.url}/healthz`)).status, 200);
  });

  it("bad HTTP input gets 404/400/403 and the next good command still works", async () => {
    const { cookie, csrf } = await login(web.url, PASSWORD);
    const h = { cookie, "x-csrf-token": csrf, "content-type": "application/json" };
    const post = (path: string, body: string, headers: Record<string, string> = h) =>
      fetch(`${web.url}${path}`, { method: "POST", headers, body });
    assert.equal((await post("/api/devices/nope/outputs/led", '{"value":"on"}')).status, 404);
    assert.equal((await post("/api/devices/sim1/outputs/nope", '{"value":"on"}')).status, 404);
    assert.equal((await post("/api/devices/sim1/outputs/led", "{bad")).status, 400);
    assert.equal(
      (await post("/api/devices/sim1/outputs/led", JSON.stringify({ value: "x".repeat(4096) }))).status,
      400,
    );
    assert.equal(
      (await post("/api/devices/sim1/outputs/led", '{"value":"on"}', { cookie, "content-type": "application/json" }))
        .status,
      403,
    );
    const ok = await post("/api/devices/sim1/outputs/led", '{"value":"off"}');
    assert.equal(ok.status, 202);
    await waitUntil(() => readFileSync(ledFile, "utf8").trim() === "off", "LED off");
  });

  it("after a broker restart the web app and the device reconnect and a new command is applied", async () => {
    const { cookie, csrf } = await login(web.url, PASSWORD);
    const sse = await openEvents(web.url, cookie);
    try {
      await sse.next((e) => e.event === "snapshot", "snapshot");
      await broker.restart();
      await sse.next(
        (e) => e.event === "broker" && (e.data as { broker: string }).broker === "disconnected",
        "broker disconnected event",
      );
      await waitUntil(async () => (await fetch(`${web.url}/healthz`)).status === 200, "web reconnected", {
        timeoutMs: 20_000,
      });
      await waitUntil(() => device.isConnected(), "device reconnected", { timeoutMs: 20_000 });
      await sse.next(
        (e) => e.event === "broker" && (e.data as { broker: string }).broker === "connected",
        "broker connected event",
      );
      const before = readFileSync(ledFile, "utf8").trim();
      const res = await postCommand(web.url, { cookie, csrf }, "sim1", "led", "toggle");
      assert.equal(res.status, 202);
      const { req } = (await res.json()) as { req: string };
      const want = before === "on" ? "off" : "on";
      const ev = await sse.next(
        (e) => e.event === "device" && ledOf(e, "sim1")?.req === req,
        "state after restart",
        0,
        15_000,
      );
      assert.equal(ledOf(ev, "sim1")?.value, want);
      assert.equal(readFileSync(ledFile, "utf8").trim(), want);
    } finally {
      sse.close();
    }
  });

  it("answers 503 while the broker is down, over HTTP and the live socket, never crashing", async () => {
    const { cookie, csrf } = await login(web.url, PASSWORD);
    const live = await openLive(web.url, { cookie, origin: web.url });
    await broker.stop();
    try {
      await waitUntil(() => !web.broker.connected, "web sees the broker gone");
      const res = await postCommand(web.url, { cookie, csrf }, "sim1", "led", "on");
      assert.equal(res.status, 503);
      assert.equal((await fetch(`${web.url}/healthz`)).status, 503);
      await live.next((f) => f.type === "broker" && f.broker === "disconnected", "the page told the broker is gone");
      live.send(commandFrame(csrf, "sim1", "led", "on", "down"));
      const refused = await live.next((f) => f.type === "refused", "the live command refused");
      assert.equal(refused.status, 503);
      assert.equal(refused.ref, "down");
      assert.match(refused.error ?? "", /broker unavailable/);
    } finally {
      await broker.restart();
    }
    await waitUntil(() => web.broker.connected, "web reconnected", { timeoutMs: 20_000 });
    await live.next((f) => f.type === "broker" && f.broker === "connected", "the page told the broker is back");
    live.close();
  });
});

describe("web app with an identity the broker ACL refuses", () => {
  it("surfaces the MQTT 5 PUBACK 'Not authorized' as HTTP 502, not 202, and on the live socket as refused 502 with the req", async (t) => {
    const broker = await startTestBroker("web-acl", { devices: [{ id: "sim1", outputs: ["led"], inputs: [] }] });
    t.after(() => broker.cleanup());
    // A device certificate in the web app's place: the ACL lets it write only its own topics.
    const wrong = await broker.client("sim9");
    const log = memoryLogger();
    const web = await startWeb(
      {
        listen: { host: "127.0.0.1", port: 0 },
        broker: { url: broker.url, ca: broker.caFile, cert: wrong.cert, key: wrong.key },
        devices: [{ id: "sim1", outputs: ["led"] }],
        cookieSecure: false,
      },
      { password: PASSWORD, sessionSecret: SECRET, logger: log },
    );
    t.after(() => web.close());
    await waitUntil(() => web.broker.connected, "connected");
    const watcher = await broker.connect("sim1");
    t.after(() => watcher.end(true));
    const received: string[] = [];
    watcher.on("message", (topic) => received.push(topic));
    await watcher.subscribeAsync(topics.set("sim1", "+"), { qos: 1 });
    const { cookie, csrf } = await login(web.url, PASSWORD);
    const res = await postCommand(web.url, { cookie, csrf }, "sim1", "led", "on");
    assert.equal(res.status, 502);
    assert.match(((await res.json()) as { error: string }).error, /Not authorized/i);
    const refused = log.entries.find((e) => e.event === "command_refused_by_broker");
    assert.equal(refused?.reasonCode, 0x87);
    const live = await openLive(web.url, { cookie, origin: web.url });
    t.after(() => live.close());
    live.send(commandFrame(csrf, "sim1", "led", "on", "acl"));
    const frame = await live.next((f) => f.type === "refused", "the live command refused");
    assert.equal(frame.status, 502);
    assert.equal(frame.ref, "acl");
    assert.match(frame.error ?? "", /Not authorized/i);
    assert.match(frame.req ?? "", /^[A-Za-z0-9_-]{12}$/, "the req it was published with");
    assert.deepEqual(
      log.entries.filter((e) => e.event === "command_refused_by_broker").map((e) => e.reasonCode),
      [0x87, 0x87],
      "logged for the HTTP and the live command alike",
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(received, [], "the device received nothing");
  });
});
