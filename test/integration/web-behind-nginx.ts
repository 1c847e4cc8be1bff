// The web app as it runs on the server, for tests that reach it as a browser does: on its unix socket (nginx's
// workers' group may open it), with the cookieSecure and publicOrigin the program configures, behind the real
// nginx on the shipped site (nginx-harness.ts), a real mosquitto and one simulated board, sim1 with an LED.
import { join } from "node:path";
import { type Logger, memoryLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import { type TestBroker, startTestBroker } from "../support/broker";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";
import { type SimDevice, startSimDevice } from "./attack-support";
import { FIXTURES, renderFixture } from "./daemons-fixtures";
import { type RunningNginx, startShippedNginx } from "./nginx-harness";

export const SIM_LABEL = "Simulated board";

export interface WebBehindNginx {
  broker: TestBroker;
  device: SimDevice;
  nginx: RunningNginx;
  /** The running web app (a new one after startWeb). */
  readonly web: RunningWeb;
  /** Stops the web app, as a restart of diy-web does: nginx answers 502 meanwhile. */
  stopWeb(): Promise<void>;
  /** Starts it again on the same socket with the same config and secrets (sessions stay valid). */
  startWeb(): Promise<void>;
  /** The page's origin: the server certificate's name and nginx's port (the app's publicOrigin). */
  origin: string;
  /** What a client on this machine needs to trust nginx: the stack CA and the name the certificate is for. */
  tls: { ca: string; servername: string };
  log: Logger & { entries: ReturnType<typeof memoryLogger>["entries"] };
  stop(): Promise<void>;
}

/** Starts it all (sim1 online in the web app when it resolves); stop() stops what it started. */
export async function startWebBehindNginx(name: string, password: string): Promise<WebBehindNginx> {
  const tmp = tempDir(name);
  const log = memoryLogger();
  const stops: (() => Promise<void>)[] = [async () => tmp.cleanup()];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  try {
    const broker = await startTestBroker(name, { devices: [{ id: "sim1", outputs: ["led"], inputs: [] }] });
    stops.push(() => broker.cleanup());
    const device = await startSimDevice(broker, { id: "sim1" });
    stops.push(() => device.stop());
    const fixture = FIXTURES[0];
    if (!fixture) throw new Error("no stack fixture");
    const r = await renderFixture(fixture);
    const socket = join(tmp.dir, "web.sock");
    // nginx first: the app's publicOrigin names nginx's port (on the server, the stack's address).
    const nginx = await startShippedNginx(tmp.dir, r, `http://unix:${socket}:`);
    stops.push(() => nginx.stop());
    const origin = `https://localhost:${nginx.httpsPort}`;
    const cert = await broker.client("web");
    const run = () =>
      startWeb(
        {
          listen: { socket, group: "www-data" } as never,
          broker: { url: broker.url, ca: broker.caFile, cert: cert.cert, key: cert.key },
          devices: [{ id: "sim1", label: SIM_LABEL, outputs: ["led"], inputs: [] }],
          cookieSecure: true, // as the server's config.json (infra/server-input.ts)
          publicOrigin: origin,
        },
        { password, sessionSecret: `${name}-session-secret-0123456789`, logger: log, reconnectMinMs: 200 },
      );
    let web = await run();
    stops.push(() => web.close());
    await waitUntil(() => web.store.get("sim1")?.online === true, "sim1 online in the web app");
    return {
      broker,
      device,
      nginx,
      get web() {
        return web;
      },
      stopWeb: () => web.close(),
      async startWeb() {
        web = await run();
      },
      origin,
      tls: { ca: r.ca.certPem, servername: "localhost" },
      log,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
