// Wires the pieces: device store <- broker link -> HTTP app, listening on config.listen.
// startWeb is what main.ts, the demo and the tests call.
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { startOfflineAlerts } from "./alerts";
import { createWebApp } from "./app";
import { BrokerLink, readBrokerTls } from "./broker";
import { type WebConfigInput, type WebSecrets, parseWebConfig, secretsFromEnv } from "./config";
import { type Logger, createLogger } from "./log";
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
}

export interface RunningWeb {
  /** http://host:port the app listens on. */
  url: string;
  port: number;
  /** Device state; observe status changes with store.on("status", ...) (offline alerts). */
  store: DeviceStore;
  broker: BrokerLink;
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
  const store = new DeviceStore(config.devices);
  const broker = new BrokerLink(config.broker.url, readBrokerTls(config.broker), store, log, {
    ...(opts.reconnectMinMs ? { reconnectMinMs: opts.reconnectMinMs } : {}),
  });

  store.on("status", (s) => log.info("device_status", { device: s.deviceId, online: s.online, previous: s.previous }));
  // Offline alerts (apps/web/alerts.ts, ops): observe store "status" events, configured by config.alerts.
  const alerter = config.alerts
    ? startOfflineAlerts(store, config.alerts, {
        log: (line) => log.info("alert", { line }),
        ...(opts.sendmailPath ? { sendmailPath: opts.sendmailPath } : {}),
      })
    : undefined;

  const web = createWebApp({
    store,
    broker,
    password: secrets.password,
    sessionSecret: secrets.sessionSecret,
    logger: log,
    cookieSecure: config.cookieSecure,
    ...(config.publicOrigin ? { publicOrigin: config.publicOrigin } : {}),
    ...(opts.loginRateLimit ? { loginRateLimit: opts.loginRateLimit } : {}),
    ...(opts.publicDir ? { publicDir: opts.publicDir } : {}),
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = web.app.listen(config.listen.port, config.listen.host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  const url = `http://${host}:${port}`;
  log.info("web_listening", { url, devices: config.devices.length });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    store,
    broker,
    close() {
      closing ??= (async () => {
        alerter?.stop();
        web.closeStreams();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await broker.close();
        log.info("web_stopped", {});
      })();
      return closing;
    },
  };
}
