// The local stack the benchmarks measure: the rendered broker, the web app and simulated devices,
// wired the way the demo and the server wire them.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningWeb, createLogger, startWeb } from "../../apps/web";
import type { DeviceConfig } from "../../device/config";
import { bundle } from "../../infra/bundle";
import { topics, webUserRules } from "../../protocol";
import { type LocalBroker, type LocalPki, ensureLocalPki, startLocalBroker } from "../../scripts/local-broker";

/**
 * Identities of the C-client baseline (bench/click-latency.ts). The broker binds the client id to the
 * certificate, so each baseline connection needs its own: a commander and a watcher with the web
 * app's rights, and an echo that writes pi1's state (pi1 itself reads the commands).
 */
export const BASELINE_IDS = { command: "bench-command", watch: "bench-watch", echo: "bench-echo" } as const;

export interface BenchStack {
  dir: string;
  pki: LocalPki;
  broker: LocalBroker;
  web: RunningWeb;
  password: string;
  /** The device service: the bundled device.js in its own process, as on a board. */
  device: { pid: number; stop(): Promise<void> };
  stateDir: string;
  stop(): Promise<void>;
}

/**
 * Writes the bundled device service and a config for simulated device pi1 (one LED) into `dir`, as
 * the install script lays them out on a board. Returns the node arguments that start it.
 */
export async function writeDevice(
  dir: string,
  broker: LocalBroker,
  pki: LocalPki,
): Promise<{ stateDir: string; code: string; command: string[] }> {
  const cert = await pki.client("pi1");
  const stateDir = join(dir, "device");
  mkdirSync(stateDir, { recursive: true });
  const config: DeviceConfig = {
    deviceId: "pi1",
    broker: { url: broker.url, ca: pki.ca, cert: cert.cert, key: cert.key, servername: "localhost" },
    outputs: [{ name: "led", safeState: "off", backend: { type: "simulated" } }],
    inputs: [],
    stateDir,
  };
  const code = bundle("device").code;
  writeFileSync(join(dir, "device.json"), JSON.stringify(config));
  writeFileSync(join(dir, "device.js"), code);
  return { stateDir, code, command: [join(dir, "device.js"), "--config", join(dir, "device.json")] };
}

export interface BenchStackOptions {
  /** Extra node flags for the device process (e.g. --cpu-prof). */
  deviceNodeArgs?: string[];
  /** The device writes its per-hop timestamps here at exit (protocol/trace.ts). */
  deviceTraceFile?: string;
}

export async function startBenchStack(name: string, opts: BenchStackOptions = {}): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  chmodSync(dir, 0o755); // mosquitto drops to its own user and must reach its files
  const pki = await ensureLocalPki(join(dir, "pki"));
  const broker = await startLocalBroker({
    dir: join(dir, "broker"),
    pki,
    source: `bench/${name}`,
    devices: [{ id: "pi1", outputs: ["led"], inputs: [] }],
    extraAclUsers: [
      { username: BASELINE_IDS.command, rules: [...webUserRules] },
      { username: BASELINE_IDS.watch, rules: [...webUserRules] },
      { username: BASELINE_IDS.echo, rules: [{ access: "write", topic: topics.state("pi1", "led") }] },
    ],
  });
  const webCert = await pki.client("web");
  const password = "bench-password";
  const web = await startWeb(
    {
      listen: { host: "127.0.0.1", port: 0 },
      broker: { url: broker.url, ca: pki.ca, cert: webCert.cert, key: webCert.key, servername: "localhost" },
      devices: [{ id: "pi1", outputs: ["led"], inputs: [] }],
      cookieSecure: false,
    },
    {
      password,
      sessionSecret: "bench-session-secret-0123456789abcdef",
      logger: createLogger({ level: "error", sink: () => {} }),
      loginRateLimit: { windowMs: 60_000, limit: 1000 },
    },
  );
  const { stateDir, command } = await writeDevice(dir, broker, pki);
  const proc: ChildProcess = spawn(process.execPath, [...(opts.deviceNodeArgs ?? []), ...command], {
    stdio: "ignore",
    env: opts.deviceTraceFile ? { ...process.env, DIY_LATENCY_TRACE: opts.deviceTraceFile } : process.env,
  });
  const device = {
    pid: proc.pid ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
  const deadline = Date.now() + 30_000;
  while (web.store.get("pi1")?.online !== true) {
    if (Date.now() > deadline) throw new Error("the device never came online");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    pki,
    broker,
    web,
    password,
    device,
    stateDir,
    async stop() {
      await device.stop();
      await web.close();
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
