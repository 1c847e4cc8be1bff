// Broker capacity: how many idle mTLS devices the rendered mosquitto config holds, and what each
// costs in broker RSS. Baseline in the same run: a minimal mTLS mosquitto (listener + certs only).
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { ensureLocalPki, freePort, startLocalBroker } from "../scripts/local-broker";
import { type Table, fmt, report, rssKiB } from "./lib/report";
import { type TlsMaterial, mqttConnect } from "./lib/mqtt-connect";

const TARGET = Number(process.env.BENCH_DEVICES ?? 10_000);
const IN_FLIGHT = 100;
// A 1 GiB micro instance runs Debian, nginx, postfix, fail2ban and the web app beside mosquitto;
// measured on the VM tier's server those take ~300 MiB, leaving ~700 MiB for the broker.
const MICRO_BROKER_BUDGET_MIB = 700;

interface Run {
  label: string;
  pid: number;
  reached: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  seconds: number;
  firstError?: string;
}

async function fill(label: string, pid: number, port: number, tlsm: TlsMaterial): Promise<Run> {
  const sockets: TLSSocket[] = [];
  const rssBeforeKiB = rssKiB(pid);
  const started = process.hrtime.bigint();
  let next = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < TARGET && !firstError) {
      const i = next++;
      try {
        sockets.push(await mqttConnect(port, `${label}-${i}`, tlsm));
      } catch (err) {
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Let the broker settle its buffers before reading RSS.
  await new Promise((r) => setTimeout(r, 1500));
  const rssAfterKiB = rssKiB(pid);
  for (const s of sockets) s.destroy();
  return { label, pid, reached: sockets.length, rssBeforeKiB, rssAfterKiB, seconds, firstError };
}

async function stockMosquitto(dir: string, pki: Awaited<ReturnType<typeof ensureLocalPki>>) {
  const port = await freePort();
  const conf = join(dir, "stock.conf");
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `cafile ${pki.ca}`,
      `certfile ${pki.server.cert}`,
      `keyfile ${pki.server.key}`,
      "require_certificate true",
      "use_identity_as_username true",
      "",
    ].join("\n"),
  );
  const proc = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    proc.stderr.on("data", (d: Buffer) => {
      out += d.toString();
      if (/running/.test(out)) resolve();
    });
    proc.once("exit", (c) => reject(new Error(`stock mosquitto exited ${c}: ${out}`)));
  });
  return { port, pid: proc.pid ?? 0, stop: () => proc.kill("SIGTERM") };
}

/** The process whose command line names this config file. */
function pidOf(confPath: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(confPath)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  throw new Error(`no process runs with ${confPath}`);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "bench-capacity-"));
  chmodSync(dir, 0o755); // mosquitto drops to its own user and must reach the certificates
  const nofile = Number(readFileSync("/proc/self/limits", "utf8").match(/Max open files\s+(\d+)/)?.[1] ?? 0);
  try {
    const pki = await ensureLocalPki(join(dir, "pki"));
    const cert = await pki.client("loadgen");
    // One certificate for every load connection (distinct client ids): issuing 10,000 certificates
    // would measure the CA, not the broker. Per-connection broker cost does not depend on it.
    const tlsm: TlsMaterial = { ca: readFileSync(pki.ca), cert: readFileSync(cert.cert), key: readFileSync(cert.key) };

    const stock = await stockMosquitto(dir, pki);
    const base = await fill("stock", stock.pid, stock.port, tlsm);
    stock.stop();

    const broker = await startLocalBroker({ dir: join(dir, "broker"), pki, source: "bench/broker-capacity.ts" });
    const pid = pidOf(broker.confPath);
    const ours = await fill("rendered", pid, broker.port, tlsm);
    await broker.stop();

    const perConn = (r: Run) => (r.rssAfterKiB - r.rssBeforeKiB) / Math.max(1, r.reached);
    const table: Table = {
      title: `Broker capacity: idle mTLS devices (target ${TARGET}, open-files limit ${nofile})`,
      columns: [
        "broker config",
        "devices connected",
        "broker RSS before (MiB)",
        "after (MiB)",
        "KiB per device",
        "connects/s",
        "first error",
      ],
      rows: [base, ours].map((r) => [
        r.label === "stock" ? "minimal mTLS mosquitto (baseline)" : "rendered server config",
        r.reached,
        r.rssBeforeKiB / 1024,
        r.rssAfterKiB / 1024,
        perConn(r),
        r.reached / r.seconds,
        r.firstError ?? "none",
      ]),
      notes: [
        `ratio rendered/baseline KiB per device: ${fmt(perConn(ours) / perConn(base))}×`,
        `projected for a 1 GiB micro (${MICRO_BROKER_BUDGET_MIB} MiB left for mosquitto): ~${Math.floor((MICRO_BROKER_BUDGET_MIB * 1024) / perConn(ours)).toLocaleString("en")} devices`,
      ],
    };
    report("broker capacity", [table]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
