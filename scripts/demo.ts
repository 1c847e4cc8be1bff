// `npm run demo`: the whole device cloud on this machine. A local CA and certificates, the real
// mosquitto with the rendered mosquitto.conf + ACL, the web app with its history database, and two
// simulated devices (pi1: LED + button + CPU temperature + a simulated probe, bbb1: LED) whose "GPIO"
// are files in the state directory. Ctrl-C stops it all.
//
//   npm run demo                      state in .state/demo (reused on rerun), web on :3000 and
//   npm run demo -- --state-dir DIR   broker on :8883 when free, else any free port
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type RunningWeb, createLogger as createWebLogger, startWeb } from "../apps/web";
import type { SensorSettings } from "../infra/config";
import { createLogger as createDeviceLogger } from "../device/log";
import { type DeviceService, startDeviceService } from "../device/service";
import { deviceConfig } from "../infra/render/device-config";
import { MQTT_TLS_PORT } from "../infra/render/mosquitto";
import { webConfig as checkedWebConfig } from "../infra/render/web-config";
import { webDevices } from "../infra/server-input";
import { WEB_CLIENT_ID } from "../protocol";
import {
  MOSQUITTO_MISSING,
  type LocalBroker,
  ensureLocalPki,
  freePort,
  portIsFree,
  requireMosquitto,
  startLocalBroker,
} from "./local-broker";

export const DEFAULT_STATE_DIR = resolve(__dirname, "..", ".state", "demo");
const DEFAULT_WEB_PORT = 3000;

/** The demo's two boards, as the stack config would list them. */
export const DEMO_DEVICES = [
  { id: "pi1", label: "Raspberry Pi (simulated)", outputs: ["led"], inputs: ["button"], sensors: ["cpu", "probe"] },
  {
    id: "bbb1",
    label: "BeagleBone Black (simulated)",
    outputs: ["led"],
    inputs: [] as string[],
    sensors: [] as string[],
  },
] as const;

/** Seconds between two readings in the demo: often enough to see the chart move. */
export const DEMO_SENSOR_INTERVAL_SECONDS = 2;

/** Whether this machine's kernel shows a CPU temperature (most laptops and boards do; containers often not). */
function hasThermalZone(): boolean {
  try {
    return readdirSync("/sys/class/thermal").some((n) => n.startsWith("thermal_zone"));
  } catch {
    return false;
  }
}

/**
 * pi1's sensors: this machine's real CPU temperature when its kernel has a thermal zone (else a simulated
 * one around 45 °C), and a simulated probe whose value is `<name>.value` when that file exists.
 */
function demoSensors(dir: string): SensorSettings[] {
  return [
    {
      name: "cpu",
      intervalSeconds: DEMO_SENSOR_INTERVAL_SECONDS,
      backend: hasThermalZone()
        ? { type: "cpu-thermal" }
        : { type: "simulated", base: 45, amplitude: 6, periodSeconds: 600, noise: 0.4 },
    },
    {
      name: "probe",
      intervalSeconds: DEMO_SENSOR_INTERVAL_SECONDS,
      backend: { type: "simulated", file: join(dir, "probe.value"), periodSeconds: 900 },
    },
  ];
}

/** A demo board as a stack device entry: simulated outputs (`<name>.state`), inputs (`<name>.input`), sensors. */
function demoDevice(d: (typeof DEMO_DEVICES)[number], dir: string) {
  const simulated = (file: string) => ({ type: "simulated" as const, file: join(dir, file) });
  return {
    id: d.id,
    outputs: d.outputs.map((name) => ({ name, safeState: "off" as const, backend: simulated(`${name}.state`) })),
    inputs: d.inputs.map((name) => ({ name, backend: simulated(`${name}.input`) })),
    sensors: d.sensors.length > 0 ? demoSensors(dir) : [],
  };
}

export interface DemoOptions {
  stateDir?: string;
  /** 0 = any free port; default 8883 when free, else any free port. */
  brokerPort?: number;
  /** 0 = any free port; default 3000 when free, else any free port. */
  webPort?: number;
  /** Where the web app's and devices' JSON log lines go; default `<stateDir>/demo.log`. */
  logFile?: string;
}

export interface DemoFiles {
  webUrl: string;
  brokerUrl: string;
  ca: string;
  /** Client certificate files by identity (web, pi1, bbb1). */
  clients: Record<string, { cert: string; key: string }>;
  /** Simulated files: outputs hold on/off, inputs take "pressed"/"released", sensors a number (optional). */
  devices: Record<
    string,
    { outputs: Record<string, string>; inputs: Record<string, string>; sensors: Record<string, string> }
  >;
  passwordFile: string;
}

export interface RunningDemo {
  webUrl: string;
  brokerUrl: string;
  password: string;
  /** True when this run generated the password (the CLI prints it only then). */
  passwordCreated: boolean;
  stateDir: string;
  files: DemoFiles;
  devices: DeviceService[];
  broker: LocalBroker;
  /** The running web app (a new one after restartWeb). */
  readonly web: RunningWeb;
  /** Stops the web app and starts it again on the same port, as systemd restarts diy-web (open pages reconnect). */
  restartWeb(): Promise<void>;
  stop(): Promise<void>;
}

async function pickPort(requested: number | undefined, preferred: number): Promise<number> {
  if (requested !== undefined) return requested === 0 ? freePort() : requested;
  return (await portIsFree(preferred)) ? preferred : freePort();
}

/** Reads the stored secret, or creates it (mode 0600). */
function secret(path: string, bytes: number): { value: string; created: boolean } {
  if (existsSync(path)) {
    const value = readFileSync(path, "utf8").trim();
    if (value) return { value, created: false };
  }
  const value = randomBytes(bytes).toString("base64url");
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { value, created: true };
}

/** Starts broker, web app and the simulated devices; everything it started is stopped by stop(). */
export async function startDemo(opts: DemoOptions = {}): Promise<RunningDemo> {
  requireMosquitto();
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  mkdirSync(stateDir, { recursive: true });
  chmodSync(stateDir, 0o755); // mosquitto, dropped to its own user when run as root, must reach its files
  const logFile = opts.logFile ?? join(stateDir, "demo.log");
  const appendLog = (line: string) => writeFileSync(logFile, `${line}\n`, { flag: "a" });

  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  try {
    const pki = await ensureLocalPki(join(stateDir, "pki"));
    const clients: DemoFiles["clients"] = {};
    for (const cn of [WEB_CLIENT_ID, ...DEMO_DEVICES.map((d) => d.id)]) clients[cn] = await pki.client(cn);

    const broker = await startLocalBroker({
      dir: join(stateDir, "broker"),
      pki,
      port: await pickPort(opts.brokerPort, MQTT_TLS_PORT),
      source: "npm run demo",
      devices: DEMO_DEVICES,
      ownProcessGroup: true,
      onLog: (text) => {
        for (const line of text.trimEnd().split("\n")) appendLog(JSON.stringify({ src: "mosquitto", line }));
      },
    });
    stops.push(() => broker.stop());

    const password = secret(join(stateDir, "password"), 12);
    const sessionSecret = secret(join(stateDir, "session-secret"), 32);
    // The boards as the stack would list them, their simulated lines and sensors in files under the state dir.
    const devices = DEMO_DEVICES.map((d) => demoDevice(d, join(stateDir, "devices", d.id)));
    // Through the web app's own schema, as the program renders /etc/diy-web/config.json (infra/render/web-config.ts),
    // with the page's devices chosen as the program chooses them (infra/server-input.ts webDevices).
    const webConfig = checkedWebConfig({
      listen: { host: "127.0.0.1", port: await pickPort(opts.webPort, DEFAULT_WEB_PORT) },
      broker: {
        url: broker.url,
        ca: pki.ca,
        cert: clients[WEB_CLIENT_ID]?.cert ?? "",
        key: clients[WEB_CLIENT_ID]?.key ?? "",
      },
      devices: webDevices(devices).map((w) => ({ ...w, label: DEMO_DEVICES.find((d) => d.id === w.id)?.label })),
      // Plain http on loopback: a Secure cookie would never come back.
      cookieSecure: false,
      // Kept across runs of the demo, like the server keeps it across restarts.
      history: { file: join(stateDir, "history.db") },
      // Logged-out sessions stay logged out across runs.
      stateDir: join(stateDir, "web"),
    });
    const runWeb = () =>
      startWeb(webConfig, {
        password: password.value,
        sessionSecret: sessionSecret.value,
        logger: createWebLogger({ sink: (e) => appendLog(JSON.stringify({ src: "web", ...e })) }),
      });
    let web = await runWeb();
    stops.push(() => web.close());

    const services: DeviceService[] = [];
    const deviceFiles: DemoFiles["devices"] = {};
    for (const d of devices) {
      const dir = join(stateDir, "devices", d.id);
      mkdirSync(dir, { recursive: true });
      deviceFiles[d.id] = {
        outputs: Object.fromEntries(d.outputs.map((o) => [o.name, o.backend.file])),
        inputs: Object.fromEntries(d.inputs.map((i) => [i.name, i.backend.file])),
        sensors: Object.fromEntries(
          d.sensors.flatMap((x) =>
            x.backend.type === "simulated" && x.backend.file ? [[x.name, x.backend.file]] : [],
          ),
        ),
      };
      // The board's config.json as the program renders it (infra/render/device-config.ts, through the device
      // service's own schema), pointed at the demo's certificates and state directory instead of the board's paths.
      const config = deviceConfig({
        deviceId: d.id,
        board: "generic",
        broker: { host: "127.0.0.1", port: broker.port },
        outputs: d.outputs,
        inputs: d.inputs,
        sensors: d.sensors,
        paths: { ca: pki.ca, cert: clients[d.id]?.cert ?? "", key: clients[d.id]?.key ?? "", stateDir: dir },
      });
      const device = await startDeviceService({
        config,
        log: createDeviceLogger({ base: { src: "device", deviceId: d.id }, write: appendLog }),
      });
      services.push(device);
      stops.push(() => device.stop());
    }

    const files: DemoFiles = {
      webUrl: web.url,
      brokerUrl: broker.url,
      ca: pki.ca,
      clients,
      devices: deviceFiles,
      passwordFile: join(stateDir, "password"),
    };
    writeFileSync(join(stateDir, "demo.json"), `${JSON.stringify(files, null, 2)}\n`);
    return {
      webUrl: web.url,
      brokerUrl: broker.url,
      password: password.value,
      passwordCreated: password.created,
      stateDir,
      files,
      devices: services,
      broker,
      get web() {
        return web;
      },
      async restartWeb() {
        await web.close();
        web = await runWeb();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function parseArgs(argv: string[]): DemoOptions {
  const opts: DemoOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    const a = argv[i];
    if (a === "--state-dir") opts.stateDir = next();
    else if (a === "--web-port") opts.webPort = Number(next());
    else if (a === "--broker-port") opts.brokerPort = Number(next());
    else throw new Error(`unknown option ${a} (options: --state-dir DIR, --web-port N, --broker-port N)`);
  }
  return opts;
}

async function cli(): Promise<void> {
  let demo: RunningDemo;
  try {
    demo = await startDemo(parseArgs(process.argv.slice(2)));
  } catch (err) {
    const message = (err as Error).message;
    process.stderr.write(`demo: ${message === MOSQUITTO_MISSING ? message : `cannot start: ${message}`}\n`);
    process.exit(1);
  }
  const out = (s = "") => process.stdout.write(`${s}\n`);
  out("DIY Device Cloud demo is running.");
  out();
  out(`  Open      ${demo.webUrl}`);
  out(
    demo.passwordCreated
      ? `  Password  ${demo.password}   (shown once; stored in ${demo.files.passwordFile}, mode 0600)`
      : `  Password  stored in ${demo.files.passwordFile} (created on the first run)`,
  );
  out(`  Broker    ${demo.brokerUrl} (mTLS; certificates in ${join(demo.stateDir, "pki")})`);
  out(
    `  Devices   pi1 (led, button, sensors cpu + probe), bbb1 (led): simulated; files in ${join(demo.stateDir, "devices")}`,
  );
  out(`  Press     echo pressed > ${demo.files.devices.pi1?.inputs.button}`);
  out(`  Probe     echo 30.5 > ${demo.files.devices.pi1?.sensors.probe}   (rm it to go back to the simulated signal)`);
  out(`  History   ${join(demo.stateDir, "history.db")} (kept across runs)`);
  out(`  Details   ${join(demo.stateDir, "demo.json")}; logs in ${join(demo.stateDir, "demo.log")}`);
  out();
  out("Ctrl-C stops everything.");
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    out("\nstopping...");
    demo.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

if (require.main === module) void cli();
