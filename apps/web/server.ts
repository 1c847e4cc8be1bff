// Wires the pieces: device store <- broker link -> HTTP app, listening on config.listen (listen.ts).
// startWeb is what main.ts, the demo and the tests call.
import { mkdirSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { join } from "node:path";
import { IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { WEB_CLIENT_ID, iotThingName } from "../../protocol";
import { latencyTrace } from "../../protocol/trace";
import { startOfflineAlerts } from "./alerts";
import { createWebApp } from "./app";
import { BrokerLink, readBrokerTls } from "./broker";
import { type WebConfigInput, type WebSecrets, parseWebConfig, secretsFromEnv } from "./config";
import { HistoryStore } from "./history/store";
import { listenOn } from "./listen";
import { startSensorAlerts } from "./sensor-alerts";
import { HomeAssistantDiscovery, haDevices } from "./homeassistant";
import { IotCoreProfile } from "./iot-profile";
import { type Logger, createLogger } from "./log";
import { REVOCATIONS_FILE, fileRevocations } from "./revocations";
import { DeviceStore } from "./state";

export interface StartWebOptions extends Partial<WebSecrets> {
  logger?: Logger;
  /** Login attempts per window per client address (tests lower or raise it). */
  loginRateLimit?: { windowMs: number; limit: number };
  /** First reconnect delay to the broker; doubles up to 30 s. */
  reconnectMinMs?: number;
  publicDir?: string;
  /** sendmail for offline alerts (tests pass a recorder); default /usr/sbin/sendmail. */
  sendmailPath?: string;
  /** Shortest time between two republishes of the Home Assistant configs after birth messages. */
  homeAssistantMinIntervalMs?: number;
  /** broker kind iot-core: the retained-message API client (tests point it at a local endpoint). */
  iotDataClient?: IoTDataPlaneClient;
}

export interface RunningWeb {
  /** http://host:port the app listens on, or unix:/path of its socket. */
  url: string;
  /** The TCP port; 0 on a unix socket. */
  port: number;
  /** Device state; observe status changes with store.on("status", ...) (offline alerts). */
  store: DeviceStore;
  broker: BrokerLink;
  /** Readings and input events over time; undefined when the config has no history. */
  history?: HistoryStore;
  /** Home Assistant discovery; undefined when the config has no homeAssistant. */
  homeAssistant?: HomeAssistantDiscovery;
  /** The iot-core broker profile; undefined with mosquitto. */
  iotCore?: IotCoreProfile;
  close(): Promise<void>;
}

/**
 * Starts the app: validates the config (throws ConfigError), connects to the broker (reconnecting
 * forever in the background) and listens. Secrets default to DIY_WEB_PASSWORD / DIY_SESSION_SECRET.
 */
export async function startWeb(input: WebConfigInput, opts: StartWebOptions = {}): Promise<RunningWeb> {
  const config = parseWebConfig(input);
  const secrets =
    opts.password && opts.sessionSecret
      ? { password: opts.password, sessionSecret: opts.sessionSecret }
      : secretsFromEnv(process.env);
  const log = opts.logger ?? createLogger();
  // Opened before the broker link, so retained messages on connect are recorded too (and a database
  // that cannot be opened stops the start before anything connects).
  const history = config.history
    ? HistoryStore.open({
        file: config.history.file,
        retention: { rawDays: config.history.rawDays, aggregateDays: config.history.aggregateDays },
        maxBytes: config.history.maxMegabytes * 1024 * 1024,
        log,
      }).start()
    : undefined;
  const store = new DeviceStore(config.devices);
  // The broker profile: only the connection knows which broker it talks to.
  const iot = config.broker.kind === "iot-core" ? config.broker.iot : undefined;
  const broker = new BrokerLink(config.broker.url, readBrokerTls(config.broker), store, log, {
    ...(opts.reconnectMinMs ? { reconnectMinMs: opts.reconnectMinMs } : {}),
    // IoT Core: the client id is the thing name its policy admits (protocol/iot-core.ts).
    ...(iot ? { clientId: iotThingName(iot.thingPrefix, WEB_CLIENT_ID) } : {}),
  });
  // The instance role's credentials (SDK default chain) sign the retained-message API calls.
  const iotData = iot
    ? (opts.iotDataClient ??
      new IoTDataPlaneClient({
        region: iot.region,
        endpoint: iot.dataEndpoint ?? `https://${new URL(config.broker.url).hostname}`,
      }))
    : undefined;
  const iotCore = iot && iotData ? new IotCoreProfile(iot.thingPrefix, store, iotData, log) : undefined;
  if (iotCore) broker.attach(iotCore);

  const homeAssistant = config.homeAssistant
    ? new HomeAssistantDiscovery(haDevices(config), broker, log, {
        ...(opts.homeAssistantMinIntervalMs !== undefined ? { minIntervalMs: opts.homeAssistantMinIntervalMs } : {}),
      })
    : undefined;
  if (homeAssistant) broker.attach(homeAssistant);

  // The click benchmark (protocol/trace.ts): first listener, the moment a device's state is parsed.
  if (latencyTrace.hook)
    store.prependListener("change", (d) => {
      for (const o of d.outputs) if (o.req) latencyTrace.hook?.("state-received", o.req);
    });
  store.on("status", (s) => log.info("device_status", { device: s.deviceId, online: s.online, previous: s.previous }));
  if (history) {
    store.on("input", (e) => history.recordEvent({ device: e.deviceId, input: e.name, value: e.value, at: e.at }));
    store.on("sensor", (r) =>
      history.recordReading({
        device: r.deviceId,
        sensor: r.name,
        value: r.value,
        unit: r.unit,
        at: r.at,
        retained: r.retained,
      }),
    );
  }
  // Offline alerts (apps/web/alerts.ts, ops): observe store "status" events, configured by config.alerts.
  const alerter = config.alerts
    ? startOfflineAlerts(store, config.alerts, {
        log: (line) => log.info("alert", { line }),
        ...(opts.sendmailPath ? { sendmailPath: opts.sendmailPath } : {}),
      })
    : undefined;
  // Threshold alerts (apps/web/sensor-alerts.ts) share the alert address and rate limit of config.alerts.
  const sensorAlerter = config.alerts
    ? startSensorAlerts(store, config.devices, config.alerts, {
        log: (line) => log.info("alert", { line }),
        ...(opts.sendmailPath ? { sendmailPath: opts.sendmailPath } : {}),
      })
    : undefined;

  if (config.stateDir) mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const web = createWebApp({
    store,
    broker,
    password: secrets.password,
    sessionSecret: secrets.sessionSecret,
    logger: log,
    cookieSecure: config.cookieSecure,
    // Only nginx can open the socket: the address it adds to X-Forwarded-For is the client's.
    behindProxy: "socket" in config.listen,
    ...(config.publicOrigin ? { publicOrigin: config.publicOrigin } : {}),
    ...(config.liveCommandRate ? { liveCommandRate: config.liveCommandRate } : {}),
    ...(opts.loginRateLimit ? { loginRateLimit: opts.loginRateLimit } : {}),
    ...(opts.publicDir ? { publicDir: opts.publicDir } : {}),
    ...(history ? { history } : {}),
    ...(config.stateDir ? { revocations: fileRevocations(join(config.stateDir, REVOCATIONS_FILE), log) } : {}),
  });

  const server: Server = createServer(web.app);
  server.on("upgrade", web.live.handleUpgrade);
  // Only when the click benchmark traces (protocol/trace.ts): otherwise no listener at all.
  if (latencyTrace.hook) server.prependListener("request", () => latencyTrace.hook?.("request-received", undefined));
  const { url, port } = await listenOn(server, config.listen);
  log.info("web_listening", { url, devices: config.devices.length });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    store,
    broker,
    ...(history ? { history } : {}),
    ...(homeAssistant ? { homeAssistant } : {}),
    ...(iotCore ? { iotCore } : {}),
    close() {
      closing ??= (async () => {
        alerter?.stop();
        sensorAlerter?.stop();
        homeAssistant?.stop();
        web.closeStreams();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await broker.close();
        if (iotData && !opts.iotDataClient) iotData.destroy();
        history?.close();
        log.info("web_stopped", {});
      })();
      return closing;
    },
  };
}
