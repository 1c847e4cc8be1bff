// Connect storm: N real device services (simulated GPIO, each with its own certificate) are online;
// the broker restarts; how long until every one is online again, and is any stuck?
// Baseline in the same run: the same N as plain mqtt.js clients with mqtt.js's own fixed 1 s reconnect.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MqttClient, connect } from "mqtt";
import { silentLogger } from "../device/log";
import { type DeviceService, startDeviceService } from "../device/service";
import { type LocalBroker, ensureLocalPki, startLocalBroker } from "../scripts/local-broker";
import { type Table, percentile, report } from "./lib/report";

const N = Number(process.env.BENCH_STORM_DEVICES ?? 1000);
const STUCK_AFTER_MS = 120_000;

interface Storm {
  label: string;
  online: number;
  allBackMs: number;
  p50Ms: number;
  p99Ms: number;
  stuck: number;
}

/** Restarts the broker and waits until every client has reconnected (or STUCK_AFTER_MS passes). */
async function storm(
  label: string,
  broker: LocalBroker,
  onConnect: (cb: (i: number) => void) => void,
  count: number,
): Promise<Storm> {
  const back = new Map<number, number>();
  let t0 = 0;
  onConnect((i) => {
    if (t0 > 0 && !back.has(i)) back.set(i, performance.now() - t0);
  });
  await broker.stop();
  await broker.start();
  t0 = performance.now();
  const deadline = t0 + STUCK_AFTER_MS;
  while (back.size < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const times = [...back.values()].sort((a, b) => a - b);
  return {
    label,
    online: count,
    allBackMs: back.size === count ? (times.at(-1) ?? 0) : Number.NaN,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    stuck: count - back.size,
  };
}

async function waitAll(pred: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + STUCK_AFTER_MS;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "bench-storm-"));
  chmodSync(dir, 0o755);
  const services: DeviceService[] = [];
  const plain: MqttClient[] = [];
  let broker: LocalBroker | undefined;
  try {
    const pki = await ensureLocalPki(join(dir, "pki"));
    const ids = Array.from({ length: N }, (_, i) => `storm-${i}`);
    broker = await startLocalBroker({
      dir: join(dir, "broker"),
      pki,
      source: "bench/connect-storm.ts",
      devices: ids.map((id) => ({ id, outputs: ["led"], inputs: [] })),
    });
    const certs = [];
    for (const id of ids) certs.push(await pki.client(id));

    // The product: device services, each with its own identity and reconnect backoff.
    for (const [i, id] of ids.entries()) {
      const stateDir = join(dir, "state", id);
      mkdirSync(stateDir, { recursive: true });
      const cert = certs[i];
      if (!cert) throw new Error("missing cert");
      services.push(
        await startDeviceService({
          log: silentLogger,
          config: {
            deviceId: id,
            broker: { url: broker.url, ca: pki.ca, cert: cert.cert, key: cert.key, servername: "localhost" },
            outputs: [{ name: "led", safeState: "off", backend: { type: "simulated" } }],
            inputs: [],
            stateDir,
          },
        }),
      );
    }
    await waitAll(() => services.every((s) => s.isConnected()), `${N} device services online`);
    const product = await storm(
      "device service (backoff 2^n with jitter)",
      broker,
      (cb) => services.forEach((s, i) => s.events.on("connected", () => cb(i))),
      N,
    );
    await Promise.all(services.splice(0).map((s) => s.stop()));

    // Baseline: mqtt.js as it comes, reconnecting every 1 s.
    const ca = readFileSync(pki.ca);
    for (const [i, id] of ids.entries()) {
      const cert = certs[i];
      if (!cert) throw new Error("missing cert");
      plain.push(
        connect(broker.url, {
          protocolVersion: 5,
          clientId: `${id}-plain`,
          ca,
          cert: readFileSync(cert.cert),
          key: readFileSync(cert.key),
          servername: "localhost",
          reconnectPeriod: 1000,
        }),
      );
    }
    for (const c of plain) c.on("error", () => {});
    await waitAll(() => plain.every((c) => c.connected), `${N} plain clients online`);
    const baseline = await storm(
      "mqtt.js default (fixed 1 s reconnect)",
      broker,
      (cb) => plain.forEach((c, i) => c.on("connect", () => cb(i))),
      N,
    );

    const table: Table = {
      title: `Connect storm: ${N} devices reconnecting after a broker restart`,
      columns: [
        "clients",
        "online before",
        "all back (ms)",
        "p50 (ms)",
        "p99 (ms)",
        `stuck after ${STUCK_AFTER_MS / 1000} s`,
      ],
      rows: [product, baseline].map((s) => [s.label, s.online, s.allBackMs, s.p50Ms, s.p99Ms, s.stuck]),
      notes: [`ratio all-back device service / baseline: ${(product.allBackMs / baseline.allBackMs).toFixed(2)}×`],
    };
    report("connect storm", [table]);
  } finally {
    await Promise.allSettled(services.map((s) => s.stop()));
    for (const c of plain) c.end(true);
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
