// Broker capacity: how many idle mTLS devices the rendered mosquitto config holds, and what each
// costs in broker RSS. Baseline in the same run: a minimal mTLS mosquitto (listener + certs only).
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { issueCerts } from "../infra/render/x509";
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

async function fill(label: string, pid: number, port: number, tlsOf: (i: number) => TlsMaterial): Promise<Run> {
  const sockets: TLSSocket[] = [];
  const rssBeforeKiB = rssKiB(pid);
  const started = process.hrtime.bigint();
  let next = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < TARGET && !firstError) {
      const i = next++;
      try {
        sockets.push(await mqttConnect(port, `${label}-${i}`, tlsOf(i)));
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
    // One identity per connection, as in a real fleet: the rendered broker binds the client id to the
    // certificate CN, so connections sharing a certificate would throw each other off. The
    // certificates share one key pair (10,000 key generations would measure the CA, not the broker).
    const ca = readFileSync(pki.ca);
    const ids = Array.from({ length: TARGET }, (_, i) => `load-${i}`);
    const caPem = { certPem: ca.toString(), keyPem: readFileSync(join(pki.dir, "ca.key"), "utf8") };
    const issued = await issueCerts(
      caPem,
      ids.map((commonName) => ({ commonName, kind: "client" as const })),
      { shareKey: true },
    );
    const key = Buffer.from(issued[0]?.keyPem ?? "");
    const certs = issued.map((c) => Buffer.from(c.certPem));
    const tlsOf = (i: number): TlsMaterial => ({ ca, cert: certs[i] ?? Buffer.alloc(0), key });

    const stock = await stockMosquitto(dir, pki);
    const base = await fill("stock", stock.pid, stock.port, tlsOf);
    stock.stop();

    // The ACL a stack of this many devices gets: one user block each, with its own names.
    const broker = await startLocalBroker({
      dir: join(dir, "broker"),
      pki,
      source: "bench/broker-capacity.ts",
      devices: ids.map((id) => ({ id, outputs: ["led"], inputs: ["button"] })),
    });
    const pid = pidOf(broker.confPath);
    const ours = await fill("rendered", pid, broker.port, tlsOf);
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
