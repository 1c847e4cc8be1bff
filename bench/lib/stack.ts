// The local stack the benchmarks measure: the rendered broker, the web app and simulated devices,
// wired the way the server wires them: the bundled web.js and device.js each in a process of its own.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WebConfigInput } from "../../apps/web/config";
import type { DeviceConfig } from "../../device/config";
import { bundle } from "../../infra/bundle";
import { topics, webUserRules } from "../../protocol";
import {
  type LocalBroker,
  type LocalPki,
  ensureLocalPki,
  freePort,
  startLocalBroker,
} from "../../scripts/local-broker";

/**
 * Identities of the C-client baseline (bench/click-latency.ts). The broker binds the client id to the
 * certificate, so each baseline connection needs its own: a commander and a watcher with the web
 * app's rights, and an echo that writes pi1's state (pi1 itself reads the commands).
 */
export const BASELINE_IDS = { command: "bench-command", watch: "bench-watch", echo: "bench-echo" } as const;

/** A bundled service (web.js, device.js) running in its own node process. */
export interface NodeService {
  pid: number;
  /** SIGTERM, then resolves when it has exited (its trace and CPU profile are written by then). */
  stop(): Promise<void>;
}

export interface BenchStack {
  dir: string;
  pki: LocalPki;
  broker: LocalBroker;
  /** The web app: the bundled web.js with its config file and secrets in the environment, as diy-web.service runs it. */
  web: NodeService & { url: string };
  /** The session the stack logged in with to see the device online: the page's cookie and CSRF token. */
  session: { cookie: string; csrf: string };
  /** The device service: the bundled device.js in its own process, as on a board. */
  device: NodeService;
  stateDir: string;
  stop(): Promise<void>;
}

/**
 * Where the simulated LED's file lives. It stands in for a GPIO line, which is memory, not disk: on tmpfs its
 * atomic write (temp file + rename) costs what the write itself costs, 14 µs measured here. On ext4 the
 * rename over the old file also forces the new file's blocks out at the next journal commit (auto_da_alloc,
 * ext4(5)): 140 µs a write here, a cost no board pays to set a line.
 */
const SIMULATED_LINE_DIR = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

/**
 * Writes the bundled device service and a config for simulated device pi1 (one LED) into `dir`, as
 * the install script lays them out on a board. Returns the node arguments that start it.
 */
export async function writeDevice(
  dir: string,
  broker: LocalBroker,
  pki: LocalPki,
  stateDir = join(dir, "device"),
): Promise<{ stateDir: string; code: string; command: string[] }> {
  const cert = await pki.client("pi1");
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

/** Per process: extra node flags (e.g. --cpu-prof) and where it writes its per-hop timestamps at exit (protocol/trace.ts). */
export interface ServiceOptions {
  nodeArgs?: string[];
  traceFile?: string;
}

export interface BenchStackOptions {
  device?: ServiceOptions;
  web?: ServiceOptions;
}

/** Starts `node [nodeArgs] <args>`; its stdout and stderr (the service's log) go to `logFile`, as to the journal. */
function startNodeService(
  args: string[],
  logFile: string,
  opts: ServiceOptions,
  env: Record<string, string> = {},
): NodeService {
  const log = openSync(logFile, "a");
  const proc: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], {
    stdio: ["ignore", log, log],
    env: { ...process.env, ...env, ...(opts.traceFile ? { DIY_LATENCY_TRACE: opts.traceFile } : {}) },
  });
  closeSync(log);
  return {
    pid: proc.pid ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { headers });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: "" }; // not listening yet
  }
}

/** The rendered broker on a fresh local CA, with pi1's ACL and the C-client baseline's identities. */
export interface BenchBroker {
  dir: string;
  pki: LocalPki;
  broker: LocalBroker;
  stop(): Promise<void>;
}

export async function startBenchBroker(name: string): Promise<BenchBroker> {
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
  return {
    dir,
    pki,
    broker,
    async stop() {
      await broker.stop();
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startBenchStack(name: string, opts: BenchStackOptions = {}): Promise<BenchStack> {
  const bench = await startBenchBroker(name);
  const { dir, pki, broker } = bench;
  const webCert = await pki.client("web");
  const password = "bench-password";
  const port = await freePort(); // the web app's config names its port (0 would leave it unknown here)
  const webConfig: WebConfigInput = {
    listen: { host: "127.0.0.1", port },
    broker: { url: broker.url, ca: pki.ca, cert: webCert.cert, key: webCert.key, servername: "localhost" },
    devices: [{ id: "pi1", outputs: ["led"], inputs: [] }],
    cookieSecure: false,
    // The page's clicks come one after another as fast as the path answers (~600/s), not a person's pace.
    liveCommandRate: { perSecond: 1_000_000, burst: 1_000_000 },
  };
  writeFileSync(join(dir, "web.json"), JSON.stringify(webConfig));
  writeFileSync(join(dir, "web.js"), bundle("web").code);
  const web = {
    ...startNodeService(
      [join(dir, "web.js"), "--config", join(dir, "web.json")],
      join(dir, "web.log"),
      opts.web ?? {},
      {
        DIY_WEB_PASSWORD: password,
        DIY_SESSION_SECRET: "bench-session-secret-0123456789abcdef",
      },
    ),
    url: `http://127.0.0.1:${port}`,
  };
  const { stateDir, command } = await writeDevice(
    dir,
    broker,
    pki,
    mkdtempSync(join(SIMULATED_LINE_DIR, "bench-device-")),
  );
  const device = startNodeService(command, join(dir, "device.log"), opts.device ?? {});
  // Ready when the web app is connected to the broker and lists pi1 online (its retained status).
  const deadline = Date.now() + 30_000;
  while ((await get(`${web.url}/healthz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`the web app never answered on ${web.url} (see ${dir}/web.log)`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const login = await fetch(`${web.url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password }),
  });
  if (login.status !== 200) throw new Error(`login: HTTP ${login.status}`);
  const session = {
    cookie: (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    csrf: ((await login.json()) as { csrfToken: string }).csrfToken,
  };
  for (;;) {
    if (Date.now() > deadline) throw new Error(`the device never came online (see ${dir}/device.log)`);
    const list = await get(`${web.url}/api/devices`, { cookie: session.cookie });
    const devices =
      list.status === 200 ? (JSON.parse(list.body) as { devices: { id: string; online?: boolean }[] }).devices : [];
    if (devices.some((d) => d.id === "pi1" && d.online)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    pki,
    broker,
    web,
    session,
    device,
    stateDir,
    async stop() {
      await device.stop();
      await web.stop();
      await bench.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
