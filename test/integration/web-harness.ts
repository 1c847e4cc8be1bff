// Real broker for the web tests: a local CA (infra/render/x509), mosquitto.conf and ACL rendered by
// infra/render, and the Debian mosquitto binary on a free loopback port. Restartable on the same
// port, always stopped by the caller (t.after / after).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { renderMosquittoConf } from "../../infra/render/mosquitto";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import { renderStableCrl } from "../../infra/render/crl";
import { type Pem, certNotAfter, createCa, issueCert } from "../../infra/render/x509";
import { type AclModel, type AclUser, type DeviceAcl, aclModel } from "../../protocol";
import { type Daemon, giveToDaemon, shareWithDaemon, startDaemon } from "./daemons-support";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";

export interface ClientFiles {
  cert: string;
  key: string;
}

export interface IssuedFiles extends ClientFiles {
  serial: string;
  notAfter: string;
}

export interface TestBroker {
  dir: string;
  port: number;
  url: string;
  caFile: string;
  /** Issues a client certificate with this CN (device id, or "web") and writes it to files. */
  client(cn: string): Promise<IssuedFiles>;
  /** A new certificate for `cn` (a rotation): client() and connect() use it from now on; old files stay. */
  reissue(cn: string): Promise<IssuedFiles>;
  /** Connects an MQTT 5 client with a certificate for `cn` (or with these certificate files). */
  connect(cn: string, opts?: mqtt.IClientOptions, files?: ClientFiles): Promise<MqttClient>;
  /** Rewrites the ACL (revoked devices denied by name) and the CRL (needs `crl`), then restarts: a push. */
  configure(push: { revoked?: readonly string[]; crlSerials?: readonly string[] }): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
  /** Stops the broker and removes the temp dir. */
  cleanup(): Promise<void>;
}

export interface TestBrokerOptions {
  /** The broker's whole ACL model (default: aclModel of `devices`). */
  acl?: AclModel;
  /** The stack's devices with their outputs and inputs: the ACL grants each exactly those. */
  devices?: readonly DeviceAcl[];
  /** ACL users beside the stack's (a test's own observer). */
  extraAclUsers?: readonly AclUser[];
  /** Run with a CRL (crlfile), empty until configure() names serials. */
  crl?: boolean;
}

export async function startTestBroker(name = "web", opts: TestBrokerOptions = {}): Promise<TestBroker> {
  const tmp = tempDir(name, { daemonsMayEnter: true });
  const ca: Pem = await createCa({ commonName: "diy test CA", days: 2 });
  const caFile = join(tmp.dir, "ca.pem");
  writeFileSync(caFile, ca.certPem);
  const server = await issueCert(ca, {
    commonName: "localhost",
    kind: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    days: 2,
  });
  const serverCert = join(tmp.dir, "server.pem");
  const serverKey = join(tmp.dir, "server.key");
  writeFileSync(serverCert, server.certPem);
  writeFileSync(serverKey, server.keyPem, { mode: 0o600 });
  shareWithDaemon(serverKey, "mosquitto");
  const data = join(tmp.dir, "data");
  mkdirSync(data);
  giveToDaemon(data, "mosquitto");
  const port = await freePort();
  const aclFile = join(tmp.dir, "acl");
  const writeAcl = (revoked: readonly string[]) => {
    const acl = opts.acl ?? aclModel({ devices: opts.devices ?? [], revoked });
    writeFileSync(
      aclFile,
      renderMosquittoAcl({ users: [...acl.users, ...(opts.extraAclUsers ?? [])], source: "web integration test" }),
    );
  };
  writeAcl([]);
  const crlFile = join(tmp.dir, "crl.pem");
  const writeCrl = async (serials: readonly string[]) =>
    writeFileSync(
      crlFile,
      await renderStableCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, revokedSerials: serials }),
    );
  if (opts.crl) await writeCrl([]);
  const conf = join(tmp.dir, "mosquitto.conf");
  writeFileSync(
    conf,
    renderMosquittoConf({
      source: "web integration test",
      listener: { port, bindAddress: "127.0.0.1" },
      tls: { cafile: caFile, certfile: serverCert, keyfile: serverKey, ...(opts.crl ? { crlfile: crlFile } : {}) },
      aclFile,
      persistenceDir: data,
      log: { to: "stderr" },
    }),
  );

  let daemon: Daemon | undefined;
  let previousOutput = "";
  const start = async () => {
    daemon = await startDaemon("mosquitto", ["-c", conf], /mosquitto version [\d.]+ running/);
  };
  const stop = async () => {
    if (!daemon) return;
    previousOutput += daemon.output();
    await daemon.stop();
    daemon = undefined;
  };
  await start();

  const issued = new Map<string, IssuedFiles>();
  const reissue = async (cn: string): Promise<IssuedFiles> => {
    const c = await issueCert(ca, { commonName: cn, kind: "client", days: 2 });
    const name = issued.has(cn) ? `${cn}.${c.serial}` : cn;
    const files = {
      cert: join(tmp.dir, `${name}.pem`),
      key: join(tmp.dir, `${name}.key`),
      serial: c.serial,
      notAfter: certNotAfter(c.certPem),
    };
    writeFileSync(files.cert, c.certPem);
    writeFileSync(files.key, c.keyPem, { mode: 0o600 });
    issued.set(cn, files);
    return files;
  };
  const client = async (cn: string): Promise<IssuedFiles> => issued.get(cn) ?? reissue(cn);

  return {
    dir: tmp.dir,
    port,
    url: `mqtts://127.0.0.1:${port}`,
    caFile,
    client,
    reissue,
    async connect(cn, opts = {}, given) {
      const files = given ?? (await client(cn));
      const { readFileSync } = await import("node:fs");
      return new Promise((resolve, reject) => {
        const c = mqtt.connect({
          protocol: "mqtts",
          host: "127.0.0.1",
          port,
          protocolVersion: 5,
          clientId: `${cn}-${Math.random().toString(36).slice(2, 8)}`,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ca: readFileSync(caFile),
          cert: readFileSync(files.cert),
          key: readFileSync(files.key),
          ...opts,
        });
        c.once("connect", () => resolve(c));
        c.once("error", (err) => {
          c.end(true);
          reject(err);
        });
      });
    },
    restart: async () => {
      await stop();
      await start();
    },
    async configure(push) {
      writeAcl(push.revoked ?? []);
      if (push.crlSerials) {
        if (!opts.crl) throw new Error("start the broker with { crl: true } to push a CRL");
        await writeCrl(push.crlSerials);
      }
      await stop();
      await start();
    },
    stop,
    output: () => previousOutput + (daemon?.output() ?? ""),
    async cleanup() {
      await stop();
      tmp.cleanup();
    },
  };
}

/** Logs in to a running web app; returns the cookie header and the CSRF token. */
export async function login(base: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password }),
  });
  if (res.status !== 200) throw new Error(`login failed: HTTP ${res.status} ${await res.text()}`);
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie, csrf: csrfToken };
}

export interface SseEvent {
  event: string;
  data: unknown;
  /** performance.now() when the event was parsed. */
  at: number;
}

/** Follows GET /api/events like a browser's EventSource (one connection, no auto-retry). */
export async function openEvents(base: string, cookie: string) {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/events`, {
    headers: { cookie, accept: "text/event-stream" },
    signal: ac.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}`);
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let sep = buf.indexOf("\n\n");
        while (sep >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length) events.push({ event, data: JSON.parse(data.join("\n")), at: performance.now() });
          for (const w of waiters) w();
          sep = buf.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
    ended = true;
    for (const w of waiters) w();
  })();
  return {
    events,
    get ended() {
      return ended;
    },
    /** Resolves with the first event (from `from` on) matching `match`. */
    async next(match: (e: SseEvent) => boolean, what: string, from = 0, timeoutMs = 10_000): Promise<SseEvent> {
      const found = () => events.slice(from).find(match);
      const hit = found();
      if (hit) return hit;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no SSE event: ${what}; got ${JSON.stringify(events.map((e) => e.event))}`));
        }, timeoutMs);
        const check = () => {
          const e = found();
          if (e) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(e);
          } else if (ended) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`SSE stream ended before: ${what}`));
          }
        };
        waiters.add(check);
      });
    },
    close: () => ac.abort(),
  };
}
