// Sensors end to end with the real pieces: the device service reading a fake sysfs tree and a simulated
// probe -> real mosquitto (rendered config and ACL, mTLS) -> the web app -> the history database -> the
// JSON API; then a restart of the web app keeps the history, the broker's ACL keeps a device out of other
// devices' sensors, and a flood of readings stays bounded.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { memoryLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import { parseDeviceConfig } from "../../device/config";
import { silentLogger } from "../../device/log";
import { type DeviceService, startDeviceService } from "../../device/service";
import { encodeSensor, topics } from "../../protocol";
import { publish } from "../support/mqtt";
import { login } from "./web-harness";
import { waitUntil } from "../support/wait";
import { type TestBroker, startTestBroker } from "../support/broker";

const PASSWORD = "sensors-history-password";
const SECRET = "sensors-history-session-secret-0123456789";

interface HistoryBody {
  unit: string;
  source: string;
  points: { t: number[]; min: number[]; avg: number[]; max: number[]; count: number[] };
}

describe("sensors: device -> mosquitto -> web app -> history -> API", () => {
  let broker: TestBroker;
  let device: DeviceService;
  let web: RunningWeb | undefined;
  let webCert: { cert: string; key: string };
  const historyFile = () => join(broker.dir, "state", "history.db");
  let sys = "";
  let probeFile = "";
  const spare: MqttClient[] = [];

  const startApp = async (log = memoryLogger()) =>
    startWeb(
      {
        listen: { host: "127.0.0.1", port: 0 },
        broker: { url: broker.url, ca: broker.caFile, cert: webCert.cert, key: webCert.key },
        devices: [
          { id: "sim1", outputs: [], inputs: [], sensors: [{ name: "cpu" }, { name: "probe" }] },
          { id: "flood1", outputs: [], inputs: [], sensors: [{ name: "t" }] },
        ],
        cookieSecure: false,
        history: { file: historyFile() },
      },
      { password: PASSWORD, sessionSecret: SECRET, logger: log, reconnectMinMs: 200 },
    );

  async function history(w: RunningWeb, path: string): Promise<HistoryBody> {
    const { cookie } = await login(w.url, PASSWORD);
    const res = await fetch(`${w.url}${path}`, { headers: { cookie } });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as HistoryBody;
  }

  before(async () => {
    broker = await startTestBroker("sensors", {
      devices: [
        { id: "sim1", outputs: [], inputs: [], sensors: ["cpu", "probe"] },
        { id: "flood1", outputs: [], inputs: [], sensors: ["t"] },
      ],
    });
    webCert = await broker.client("web");
    const devCert = await broker.client("sim1");
    sys = join(broker.dir, "sys");
    mkdirSync(join(sys, "class/thermal/thermal_zone0"), { recursive: true });
    writeFileSync(join(sys, "class/thermal/thermal_zone0/type"), "cpu-thermal\n");
    writeFileSync(join(sys, "class/thermal/thermal_zone0/temp"), "47250\n");
    probeFile = join(broker.dir, "sim1", "probe.value");
    mkdirSync(join(broker.dir, "sim1"), { recursive: true });
    writeFileSync(probeFile, "21.5\n");
    web = await startApp();
    device = await startDeviceService({
      config: parseDeviceConfig({
        deviceId: "sim1",
        broker: { url: broker.url, ca: broker.caFile, cert: devCert.cert, key: devCert.key },
        outputs: [],
        inputs: [],
        sensors: [
          { name: "cpu", intervalSeconds: 1, backend: { type: "cpu-thermal" } },
          { name: "probe", intervalSeconds: 1, backend: { type: "simulated", file: probeFile } },
        ],
        stateDir: join(broker.dir, "sim1"),
      }),
      log: silentLogger,
      env: { sysfsRoot: sys },
    });
  });

  after(async () => {
    for (const c of spare) c.end(true);
    await device?.stop();
    await web?.close();
    await broker?.cleanup();
  });

  it("charts what the board reads: the last value on the page, the series in the database and the API", async () => {
    const w = web as RunningWeb;
    await waitUntil(
      () => w.store.get("sim1")?.sensors.find((s) => s.name === "cpu")?.value === 47.25,
      "cpu on the page",
    );
    const probe = w.store.get("sim1")?.sensors.find((s) => s.name === "probe");
    await waitUntil(() => w.store.get("sim1")?.sensors.find((s) => s.name === "probe")?.value === 21.5, "probe");
    assert.equal(w.store.get("sim1")?.sensors[0]?.unit, "°C");
    assert.ok(w.store.get("sim1")?.lastSeen, "a live reading counts as seen");
    // The probe changes: the next readings carry the new value.
    writeFileSync(probeFile, "23\n");
    await waitUntil(() => w.store.get("sim1")?.sensors.find((s) => s.name === "probe")?.value === 23, "probe 23");
    // Committed once a second; the API answers from the database.
    const body = await waitUntil(async () => {
      const b = await history(w, `/api/devices/sim1/sensors/probe/history?from=${Date.now() - 120_000}&step=1`);
      return b.points.t.length >= 3 && b.points.max.includes(23) ? b : undefined;
    }, "three seconds of probe history");
    assert.equal(body.unit, "°C");
    assert.equal(body.source, "raw");
    assert.ok(body.points.min.includes(21.5), `the old value is in the history too: ${JSON.stringify(body.points)}`);
    assert.ok(probe);
  });

  it("keeps the history across a restart of the web app, without counting the retained reading twice", async () => {
    const w = web as RunningWeb;
    await waitUntil(async () => {
      const b = await history(w, "/api/devices/sim1/sensors/cpu/history?step=1h");
      return b.points.count.reduce((a, c) => a + c, 0) >= 3;
    }, "three cpu readings stored");
    await device.stop(); // no new readings: what is stored is what the restarted app must show
    await new Promise((r) => setTimeout(r, 1500)); // the last commit
    const before = await history(w, "/api/devices/sim1/sensors/cpu/history?step=1h");
    const total = before.points.count.reduce((a, b) => a + b, 0);
    assert.ok(total >= 3, `cpu readings stored: ${total}`);
    await w.close();
    web = await startApp();
    const restarted = web;
    // The broker hands over the retained last reading on subscribe; it must not become a new row.
    await waitUntil(() => restarted.store.get("sim1")?.sensors[0]?.value === 47.25, "retained cpu reading");
    await new Promise((r) => setTimeout(r, 1500));
    const afterRestart = await history(restarted, "/api/devices/sim1/sensors/cpu/history?step=1h");
    assert.deepEqual(afterRestart.points.count, before.points.count);
    assert.deepEqual(afterRestart.points.avg, before.points.avg);
  });

  it("refuses a device's reading on another device's sensor at the broker (MQTT 5 Not authorized)", async () => {
    const intruder = await broker.connect("sim1", { clientId: "sim1" });
    spare.push(intruder);
    const r = await publish(intruder, topics.sensor("flood1", "t"), encodeSensor(99, "°C"), true);
    assert.equal(r.ok, false);
    assert.equal((r as { reasonCode?: number }).reasonCode, 0x87);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(web?.store.get("flood1")?.sensors[0]?.value, null, "nothing reached the web app");
  });

  it("bounds a flood of readings: at most one raw row a second, every reading in the aggregate, the app responsive", async () => {
    const w = web as RunningWeb;
    await broker.client("flood1");
    const flood = await broker.connect("flood1", { clientId: "flood1" });
    spare.push(flood);
    const started = Date.now();
    const N = 3000;
    const base = Date.now();
    for (let i = 0; i < N; i++)
      flood.publish(topics.sensor("flood1", "t"), encodeSensor(i % 100, "°C", new Date(base + i)), { qos: 0 });
    await waitUntil(() => w.store.get("flood1")?.sensors[0]?.value === (N - 1) % 100, "the last flooded reading", {
      timeoutMs: 30_000,
    });
    const elapsed = Date.now() - started;
    const health = await fetch(`${w.url}/healthz`);
    assert.equal(health.status, 200, "the app still answers");
    const agg = await waitUntil(
      async () => {
        const b = await history(
          w,
          `/api/devices/flood1/sensors/t/history?from=${base - 60_000}&to=${base + 3_600_000}&step=1h`,
        );
        const n = b.points.count.reduce((a, c) => a + c, 0);
        return n >= N ? b : undefined;
      },
      "every flooded reading aggregated",
      { timeoutMs: 20_000 },
    );
    assert.equal(
      agg.points.count.reduce((a, c) => a + c, 0),
      N,
    );
    assert.equal(Math.min(...agg.points.min), 0);
    assert.equal(Math.max(...agg.points.max), 99);
    const raw = await history(
      w,
      `/api/devices/flood1/sensors/t/history?from=${base - 1000}&to=${base + 60_000}&step=1`,
    );
    const rawRows = raw.points.count.reduce((a, c) => a + c, 0);
    assert.ok(
      rawRows <= Math.ceil((N + elapsed) / 1000) + 1,
      `${rawRows} raw rows for ${N} readings over ${elapsed} ms: at most one a second`,
    );
  });
});
