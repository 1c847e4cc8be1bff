// The attack suite's target: the demo as an attacker meets it. The real mosquitto with the rendered
// config and ACL (web-harness startTestBroker), the real web app, and real device services with the
// simulated backend, each with its own certificate. Used by every test/integration/attack-*.test.ts.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { type LogEntry, createLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import { parseDeviceConfig } from "../../device/config";
import { silentLogger } from "../../device/log";
import { type DeviceService, startDeviceService } from "../../device/service";
import { type OutputValue, aclModel } from "../../protocol";
import { login, postCommand } from "./web-harness";
import { waitUntil } from "../support/wait";
import { type TestBroker, startTestBroker } from "../support/broker";

export const ATTACK_PASSWORD = "attack-suite-password";
/** The web app's session secret: a test that must mint a validly signed cookie (one already expired) uses it. */
export const ATTACK_SESSION_SECRET = "attack-suite-session-secret-0123456789";

export interface SimDeviceSpec {
  id: string;
  outputs?: string[];
  inputs?: string[];
  /** Simulated sensors sampled every second; `<name>.value` in the device's dir sets the reading. */
  sensors?: { name: string; unit?: string }[];
  /** false: configured in the stack (ACL, web app) with no service running: its key is the attacker's. */
  service?: boolean;
}

/** An identity the attack tests add to the broker ACL to watch everything: reads `#`, writes nothing. */
export const OBSERVER = "observer";

export interface Applied {
  output: string;
  value: OutputValue;
  req: string;
}

export interface SimDevice {
  id: string;
  /** The service's state directory: a simulated input `<name>` is pressed by writing `<name>.input`. */
  dir: string;
  readonly service: DeviceService;
  /** Every command the running service applied, in order (kept across restarts). */
  applied: Applied[];
  /** How often the service lost its broker connection (restarts not counted). */
  readonly disconnects: number;
  /** What the simulated output line holds now ("" before the service first wrote it). */
  line(output: string): string;
  /** Stops the service (it publishes `offline`) and starts a new one with the same config, as systemd would. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSimDevice(broker: TestBroker, spec: SimDeviceSpec): Promise<SimDevice> {
  const creds = await broker.client(spec.id);
  const dir = join(broker.dir, `device-${spec.id}`);
  mkdirSync(dir, { recursive: true });
  const outputs = spec.outputs ?? ["led"];
  const config = parseDeviceConfig({
    deviceId: spec.id,
    broker: { url: broker.url, ca: broker.caFile, cert: creds.cert, key: creds.key },
    outputs: outputs.map((name) => ({ name, safeState: "off", backend: { type: "simulated" } })),
    inputs: (spec.inputs ?? []).map((name) => ({ name, backend: { type: "simulated" } })),
    sensors: (spec.sensors ?? []).map((x) => ({
      name: x.name,
      ...(x.unit ? { unit: x.unit } : {}),
      intervalSeconds: 1,
      backend: { type: "simulated", file: join(dir, `${x.name}.value`) },
    })),
    stateDir: dir,
  });
  const applied: Applied[] = [];
  let disconnects = 0;
  const start = async () => {
    const s = await startDeviceService({ config, log: silentLogger });
    s.events.on("applied", (a: Applied) => applied.push(a));
    s.events.on("disconnected", () => disconnects++);
    await waitUntil(() => s.isConnected(), `${spec.id} connected${`\nbroker log:\n${broker.output()}`}`);
    return s;
  };
  let service = await start();
  return {
    id: spec.id,
    dir,
    get service() {
      return service;
    },
    applied,
    get disconnects() {
      return disconnects;
    },
    line: (output) => {
      const file = join(dir, `${output}.state`);
      return existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    },
    async restart() {
      await service.stop();
      service = await start();
    },
    stop: () => service.stop(),
  };
}

export interface AttackStack {
  broker: TestBroker;
  /** The running web app (a new one after restartWeb). */
  readonly web: RunningWeb;
  /** The logged-in user's cookie header and CSRF token (from the first web app). */
  session: { cookie: string; csrf: string };
  /** The web app's log lines. */
  log: { entries: LogEntry[] };
  devices: Record<string, SimDevice>;
  /** POSTs a command as the logged-in user; resolves with the HTTP status (and the req on 202). */
  command(deviceId: string, output: string, value: "on" | "off" | "toggle"): Promise<{ status: number; req?: string }>;
  /** Stops the web app and starts it again on the same config and state directory, as systemd would. */
  restartWeb(opts?: { password?: string }): Promise<void>;
  cleanup(): Promise<void>;
}

export interface AttackStackOptions {
  /** Integrations.homeAssistant on: the web app announces every device, the broker knows the HA identity. */
  homeAssistant?: boolean;
  /** Shortest time between two republishes of the Home Assistant configs (apps/web/homeassistant.ts). */
  homeAssistantMinIntervalMs?: number;
  /** Each web log line (level info and up) as the app writes it to stdout, for journald: one JSON object. */
  onLogLine?: (json: string) => void;
  /**
   * The web app listens as on the server, behind nginx: on a unix socket (web.url is `unix:PATH`), trusting the
   * X-Forwarded-For entry its one proxy appends. The test then stands where nginx stands (viaProxy).
   */
  behindProxy?: boolean;
}

/** The name of this process's group in /etc/group (the socket's group when the test stands in for nginx). */
function ownGroupName(): string {
  const gid = String(process.getgid?.() ?? 0);
  const line = readFileSync("/etc/group", "utf8")
    .split("\n")
    .find((l) => l.split(":")[2] === gid);
  const name = line?.split(":")[0];
  if (!name) throw new Error(`no group ${gid} in /etc/group`);
  return name;
}

/**
 * One HTTP request to the web app the way nginx sends it: over its unix socket (`unix:PATH` from web.url),
 * X-Forwarded-For naming the client. Resolves with the status.
 */
export function viaProxy(
  webUrl: string,
  path: string,
  clientIp: string,
  init: { method?: string; body?: string } = {},
): Promise<number> {
  if (!webUrl.startsWith("unix:")) throw new Error(`viaProxy needs a web app on a socket, got ${webUrl}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath: webUrl.slice("unix:".length),
        path,
        method: init.method ?? "GET",
        headers: {
          host: "localhost",
          "x-forwarded-for": clientIp,
          ...(init.body === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(init.body) }),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/**
 * Broker (its ACL listing every device with its names, plus the observer), web app (knowing every
 * device) and one device service per spec that has one, all connected.
 */
export async function startAttackStack(
  name: string,
  specs: readonly SimDeviceSpec[],
  opts: AttackStackOptions = {},
): Promise<AttackStack> {
  const webDevices = specs.map((s) => ({
    id: s.id,
    outputs: s.outputs ?? ["led"],
    inputs: s.inputs ?? [],
    sensors: (s.sensors ?? []).map((x) => ({ name: x.name })),
  }));
  const aclDevices = webDevices.map((d) => ({ ...d, sensors: d.sensors.map((x) => x.name) }));
  const broker = await startTestBroker(name, {
    acl: aclModel({ devices: aclDevices, ...(opts.homeAssistant ? { homeAssistant: aclDevices } : {}) }),
    extraAclUsers: [{ username: OBSERVER, rules: [{ access: "read", topic: "#" }] }],
  });
  const devices: Record<string, SimDevice> = {};
  let web: RunningWeb | undefined;
  try {
    for (const spec of specs) if (spec.service !== false) devices[spec.id] = await startSimDevice(broker, spec);
    const webCert = await broker.client("web");
    const entries: LogEntry[] = [];
    const logger = createLogger({
      level: "debug",
      sink: (e) => {
        entries.push(e);
        // What the default sink writes (apps/web/log.ts), at the service's default level.
        if (e.level !== "debug") opts.onLogLine?.(JSON.stringify(e));
      },
    });
    const log = { entries };
    const config = {
      listen: opts.behindProxy
        ? { socket: join(broker.dir, "web.sock"), group: ownGroupName() }
        : { host: "127.0.0.1", port: 0 },
      broker: { url: broker.url, ca: broker.caFile, cert: webCert.cert, key: webCert.key },
      devices: webDevices,
      ...(opts.homeAssistant
        ? {
            homeAssistant: {
              devices: Object.fromEntries(
                specs.map((s) => [
                  s.id,
                  {
                    model: "simulated board",
                    units: Object.fromEntries((s.sensors ?? []).map((x) => [x.name, x.unit ?? "°C"])),
                  },
                ]),
              ),
            },
          }
        : {}),
      cookieSecure: false,
      stateDir: join(broker.dir, "web-state"),
    };
    const startApp = async (password: string) => {
      const app = await startWeb(config, {
        password,
        sessionSecret: ATTACK_SESSION_SECRET,
        logger,
        reconnectMinMs: 200,
        ...(opts.homeAssistantMinIntervalMs !== undefined
          ? { homeAssistantMinIntervalMs: opts.homeAssistantMinIntervalMs }
          : {}),
      });
      web = app;
      await waitUntil(
        () => app.broker.connected && specs.every((s) => s.service === false || app.store.get(s.id)?.online === true),
        "web app connected and every device online",
      );
      return app;
    };
    let running = await startApp(ATTACK_PASSWORD);
    // Behind the proxy the test speaks HTTP over the socket itself (viaProxy); no session is opened for it.
    const session = opts.behindProxy ? { cookie: "", csrf: "" } : await login(running.url, ATTACK_PASSWORD);
    return {
      broker,
      get web() {
        return running;
      },
      session,
      log,
      devices,
      async command(deviceId, output, value) {
        if (opts.behindProxy) throw new Error("command() needs the TCP web app (behindProxy off)");
        const res = await postCommand(running.url, session, deviceId, output, value);
        const body = (await res.json().catch(() => ({}))) as { req?: string };
        return { status: res.status, ...(body.req ? { req: body.req } : {}) };
      },
      async restartWeb(restart = {}) {
        await running.close();
        running = await startApp(restart.password ?? ATTACK_PASSWORD);
      },
      async cleanup() {
        await running.close();
        for (const d of Object.values(devices)) await d.stop();
        await broker.cleanup();
      },
    };
  } catch (err) {
    await web?.close();
    for (const d of Object.values(devices)) await d.stop();
    await broker.cleanup();
    throw err;
  }
}
