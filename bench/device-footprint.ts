// Device footprint: the bundled device service as it runs on a board (node device.js --config ...):
// resident memory and time from process start to connected / to retained `online`.
// Floor in the same run: mosquitto_sub with the same certificate (a C client that only connects).
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "mqtt";
import { topics } from "../protocol";
import { ensureLocalPki, startLocalBroker } from "../scripts/local-broker";
import { writeDevice } from "./lib/stack";
import { type Table, percentile, privateKiB, report, rssKiB } from "./lib/report";

const RUNS = Number(process.env.BENCH_FOOTPRINT_RUNS ?? 10);

interface Sample {
  connectMs: number;
  onlineMs: number;
  rssKiB: number;
  privateKiB: number;
}

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "bench-footprint-"));
  chmodSync(dir, 0o755);
  // Each "as <id>" line the broker logs marks a finished MQTT CONNECT.
  const connected = new Map<string, (at: number) => void>();
  const pki = await ensureLocalPki(join(dir, "pki"));
  const broker = await startLocalBroker({
    dir: join(dir, "broker"),
    pki,
    source: "bench/device-footprint.ts",
    devices: [{ id: "pi1", outputs: ["led"], inputs: [] }],
    onLog: (text) => {
      const at = performance.now();
      for (const m of text.matchAll(/New client connected from \S+ as (\S+)/g)) connected.get(m[1] ?? "")?.(at);
    },
  });
  const procs: ChildProcess[] = [];
  try {
    const dev = await pki.client("pi1");
    const web = await pki.client("web");
    const { code, command } = await writeDevice(dir, broker, pki);

    // The web identity watches pi1's retained status, as the page does.
    const watcher = connect(broker.url, {
      protocolVersion: 5,
      clientId: "web",
      ca: readFileSync(pki.ca),
      cert: readFileSync(web.cert),
      key: readFileSync(web.key),
      servername: "localhost",
    });
    let onOnline: ((at: number) => void) | undefined;
    watcher.on("message", (_t, payload) => {
      if (payload.toString() === "online") onOnline?.(performance.now());
    });
    await new Promise<void>((resolve) =>
      watcher.on("connect", () => watcher.subscribe(topics.status("pi1"), { qos: 1 }, () => resolve())),
    );

    const waitFor = (register: (cb: (at: number) => void) => void, what: string) =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} within 30 s`)), 30_000);
        register((at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    const stop = (p: ChildProcess) =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        p.once("exit", () => resolve());
        p.kill("SIGTERM");
      });

    const run = async (kind: "device" | "floor"): Promise<Sample> => {
      const clientId = "pi1";
      const conn = waitFor((cb) => connected.set(clientId, cb), "connect");
      const online = kind === "device" ? waitFor((cb) => (onOnline = cb), "online") : undefined;
      const t0 = performance.now();
      const p =
        kind === "device"
          ? spawn(process.execPath, command, { stdio: "ignore" })
          : spawn(
              "mosquitto_sub",
              [
                "--cafile",
                pki.ca,
                "--cert",
                dev.cert,
                "--key",
                dev.key,
                "-h",
                "localhost",
                "-p",
                String(broker.port),
                "-V",
                "5",
                "-i",
                clientId,
                "-t",
                topics.set("pi1", "led"),
              ],
              { stdio: "ignore" },
            );
      procs.push(p);
      const connectAt = await conn;
      const onlineAt = online ? await online : connectAt;
      // Resident memory once settled (the service idles like this for days).
      await new Promise((r) => setTimeout(r, 1000));
      const rss = rssKiB(p.pid ?? 0);
      const priv = privateKiB(p.pid ?? 0);
      await stop(p);
      onOnline = undefined;
      return { connectMs: connectAt - t0, onlineMs: onlineAt - t0, rssKiB: rss, privateKiB: priv };
    };

    const device: Sample[] = [];
    const floor: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      device.push(await run("device"));
      floor.push(await run("floor"));
    }
    watcher.end(true);
    const row = (label: string, s: Sample[], online: boolean) => [
      label,
      s.length,
      median(s.map((x) => x.rssKiB)) / 1024,
      median(s.map((x) => x.privateKiB)) / 1024,
      median(s.map((x) => x.connectMs)),
      online ? median(s.map((x) => x.onlineMs)) : "n/a",
      Math.max(...s.map((x) => (online ? x.onlineMs : x.connectMs))),
    ];
    const dRss = median(device.map((x) => x.privateKiB));
    const fRss = median(floor.map((x) => x.privateKiB));
    const table: Table = {
      title: `Device footprint: start -> online, ${RUNS} starts each (medians)`,
      columns: [
        "process",
        "starts",
        "RSS (MiB)",
        "private RSS (MiB)",
        "start -> connected (ms)",
        "start -> retained online (ms)",
        "worst start (ms)",
      ],
      rows: [
        row(
          `device service bundle (${(Buffer.byteLength(code) / 1024).toFixed(0)} KiB, Node ${process.version})`,
          device,
          true,
        ),
        row("floor: mosquitto_sub, same certificate", floor, false),
      ],
      notes: [
        `ratio device/floor: private RSS ${(dRss / fRss).toFixed(1)}×, start -> connected ${(median(device.map((x) => x.connectMs)) / median(floor.map((x) => x.connectMs))).toFixed(1)}×`,
        "RSS counts node's own executable pages (~35 MiB, mapped from disk, shared by every node process); private RSS is what the service itself holds",
      ],
    };
    report("device footprint", [table]);
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
