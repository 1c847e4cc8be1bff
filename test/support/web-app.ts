// The web app in-process for tests that need no broker: createWebApp on a real HTTP server, wired as
// apps/web/server.ts wires it (its "upgrade" events go to the live socket), with a command sender that records.
import { EventEmitter } from "node:events";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebApp, type WebAppOptions, createWebApp } from "../../apps/web/app";
import { type BrokerRejectedError, BrokerUnavailableError, type CommandSender } from "../../apps/web/broker";
import { memoryLogger } from "../../apps/web/log";
import type { DeviceStore } from "../../apps/web/state";

/** As BrokerLink.sendCommand: publishes with the req it is given and resolves with it once acknowledged. */
export class RecordingSender extends EventEmitter implements CommandSender {
  connected = true;
  /** Set to refuse publishes as BrokerLink reports an MQTT 5 PUBACK failure (mosquitto's ACL: reason 135). */
  refuseWith: BrokerRejectedError | Error | undefined;
  sent: [string, string, string][] = [];
  reqs: string[] = [];
  async sendCommand(deviceId: string, output: string, value: string, req = "unset"): Promise<string> {
    if (!this.connected) throw new BrokerUnavailableError("broker not connected");
    if (this.refuseWith) throw this.refuseWith;
    this.sent.push([deviceId, output, value]);
    this.reqs.push(req);
    return req;
  }
}

export const TEST_WEB_PASSWORD = "correct horse battery staple";
export const TEST_SESSION_SECRET = "0123456789abcdef0123456789abcdef";

export interface TestWebApp {
  /** http://127.0.0.1:port */
  base: string;
  web: WebApp;
  server: Server;
  /** Ends the streams and sockets (as on shutdown) and stops the server; safe to call twice. */
  close(): Promise<void>;
}

/** Password and secret default to the constants above, the cookie to its plain-http name. */
export async function startWebApp(
  options: Pick<WebAppOptions, "store" | "broker" | "logger"> & Partial<WebAppOptions>,
): Promise<TestWebApp> {
  const web = createWebApp({
    password: TEST_WEB_PASSWORD,
    sessionSecret: TEST_SESSION_SECRET,
    cookieSecure: false,
    ...options,
  });
  const server = createServer(web.app);
  server.on("upgrade", web.live.handleUpgrade);
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  let closing: Promise<void> | undefined;
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    web,
    server,
    close() {
      closing ??= new Promise((r) => {
        web.closeStreams();
        server.closeAllConnections();
        server.close(() => r());
      });
      return closing;
    },
  };
}

/** A test app with a recording sender and a memory log, and a way to log in as the page does. */
export interface RecordingWebApp extends TestWebApp {
  sender: RecordingSender;
  store: DeviceStore;
  log: ReturnType<typeof memoryLogger>;
  /** POST /api/login with the test password: the session cookie (name=value) and its CSRF token. */
  login(): Promise<{ cookie: string; csrf: string }>;
}

export async function startRecordingWebApp(
  store: DeviceStore,
  extra: Partial<WebAppOptions> = {},
): Promise<RecordingWebApp> {
  const logger = memoryLogger();
  const sender = new RecordingSender();
  const started = await startWebApp({ store, broker: sender, logger, ...extra });
  return {
    ...started,
    sender,
    store,
    log: logger,
    async login() {
      const res = await fetch(`${started.base}/api/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ password: TEST_WEB_PASSWORD }),
      });
      if (res.status !== 200) throw new Error(`login answered ${res.status}`);
      const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] as string;
      return { cookie, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
    },
  };
}
