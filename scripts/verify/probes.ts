// What verify observes over the network: TCP, HTTP(S), TLS handshakes, MQTT connects and the web app's
// device list. Each probe reports what it saw and never decides pass or fail (scripts/verify/verdicts.ts).
import { type IncomingHttpHeaders, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, Socket } from "node:net";
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from "node:tls";
import WebSocket from "ws";
import { LIVE_PATH } from "../../apps/web/live-socket";
import { CSRF_HEADER } from "../../apps/web/session";
import { connectOnce, type MqttTls } from "../mqtt-once";
import type { DeviceSeen, LiveSeen, MqttAttempt, PortProbe, PortState, TlsObservation } from "./verdicts";

/** TLS settings that verify `name` whatever address is dialled (forwarded ports dial 127.0.0.1). */
export function tlsFor(name: string, ca: string | undefined) {
  return {
    ...(ca ? { ca } : {}), // undefined: Node's bundled public roots (Let's Encrypt's ISRG roots among them)
    // SNI carries DNS names only (RFC 6066 3): none for an IP address.
    ...(isIP(name) === 0 ? { servername: name } : {}),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
}

/** The Host header for a name: an IPv6 address goes in brackets (RFC 7230 5.4, RFC 3986 3.2.2). */
export const hostHeader = (name: string): string => (isIP(name) === 6 ? `[${name}]` : name);

/** Connects once; open/closed/filtered/unreachable. With `readBanner`, returns the first line the server sends. */
export function probePort(
  host: string,
  port: number,
  timeoutMs: number,
  readBanner = false,
): Promise<{ state: PortState; banner?: string }> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let done = false;
    const finish = (r: { state: PortState; banner?: string }) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => finish(socket.connecting ? { state: "filtered" } : { state: "open" }));
    socket.once("connect", () => {
      if (!readBanner) return finish({ state: "open" });
      let buf = "";
      socket.on("data", (d: Buffer) => {
        buf += d.toString("latin1");
        const nl = buf.indexOf("\n");
        if (nl >= 0 || buf.length > 255) finish({ state: "open", banner: buf.slice(0, nl >= 0 ? nl : 255).trimEnd() });
      });
      socket.once("end", () => finish({ state: "open", banner: buf.trimEnd() }));
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") finish({ state: "closed" });
      else if (err.code === "ETIMEDOUT") finish({ state: "filtered" });
      else if (socket.connecting) finish({ state: "unreachable" });
      else finish({ state: "open" });
    });
    socket.connect(port, host);
  });
}

/** Probes every port, `concurrency` at a time; results in the order given. */
export async function scanPorts(
  host: string,
  ports: readonly number[],
  localPort: (p: number) => number,
  timeoutMs: number,
  concurrency = 32,
): Promise<PortProbe[]> {
  const results: PortProbe[] = new Array(ports.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ports.length; i = next++) {
      const port = ports[i] ?? 0;
      results[i] = { port, state: (await probePort(host, localPort(port), timeoutMs)).state };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ports.length) }, worker));
  return results;
}

/** Plain HTTP GET with the public name in Host; the redirect is not followed. */
export function httpGet(
  host: string,
  port: number,
  name: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; location?: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(
      { host, port, path, headers: { host: hostHeader(name) }, timeout: timeoutMs, agent: false },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => resolve({ error: err.message }));
    req.end();
  });
}

/** One TLS handshake (no client certificate): does the server's chain verify, for this name? */
export function observeTls(
  host: string,
  port: number,
  name: string,
  ca: string | undefined,
  timeoutMs: number,
): Promise<TlsObservation | { error: string }> {
  return new Promise((resolve) => {
    const { checkServerIdentity: identity, ...tls } = tlsFor(name, ca);
    // rejectUnauthorized false so that the reason is reported; nothing is sent over this connection.
    const socket = tlsConnect({ host, port, ...tls, rejectUnauthorized: false, timeout: timeoutMs });
    let done = false;
    const finish = (r: TlsObservation | { error: string }) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(r);
    };
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const identityError = cert && Object.keys(cert).length ? identity(name, cert)?.message : "no certificate";
      finish({
        authorized: socket.authorized,
        ...(socket.authorizationError ? { authorizationError: String(socket.authorizationError) } : {}),
        ...(identityError ? { identityError } : {}),
        ...(cert?.valid_to ? { validTo: new Date(cert.valid_to) } : {}),
        protocol: socket.getProtocol() ?? undefined,
        ...(cert?.issuer?.CN ? { issuer: String(cert.issuer.CN) } : {}),
      });
    });
    socket.on("timeout", () => finish({ error: `no handshake within ${timeoutMs} ms` }));
    socket.on("error", (err: NodeJS.ErrnoException) =>
      finish({ error: err.code ? `${err.code}: ${err.message}` : err.message }),
    );
  });
}

export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTPS request that verifies the server (chain and name) before anything is sent. */
export function httpsCall(
  host: string,
  port: number,
  name: string,
  ca: string | undefined,
  req: { method?: string; path: string; headers?: Record<string, string>; body?: string },
  timeoutMs: number,
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const r = httpsRequest(
      {
        host,
        port,
        method: req.method ?? "GET",
        path: req.path,
        headers: {
          host: hostHeader(name),
          ...(req.body !== undefined
            ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(req.body)) }
            : {}),
          ...req.headers,
        },
        ...tlsFor(name, ca),
        rejectUnauthorized: true,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          if (body.length < 1_000_000) body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    r.on("timeout", () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on("error", reject);
    r.end(req.body);
  });
}

/** One MQTT connect; what the broker (or TLS) answered. The connection is closed at once. */
export async function mqttAttempt(
  host: string,
  port: number,
  tls: MqttTls,
  clientId: string,
  timeoutMs: number,
): Promise<MqttAttempt> {
  try {
    const client = await connectOnce(port, tls, clientId, { host, connectTimeoutMs: timeoutMs });
    client.end(true);
    return { accepted: true };
  } catch (err) {
    const e = err as Error & { code?: string | number };
    return { accepted: false, ...(e.code !== undefined ? { code: e.code } : {}), message: e.message };
  }
}

/**
 * Logs in to the web app, reads GET /api/devices and logs out (the session ends at once). The password
 * goes only to a server whose chain and name verified: httpsCall refuses anything else.
 */
export async function webDevices(
  host: string,
  port: number,
  name: string,
  ca: string | undefined,
  password: string,
  timeoutMs: number,
): Promise<{ broker: string; devices: DeviceSeen[]; live: LiveSeen } | { error: string }> {
  const call = (req: Parameters<typeof httpsCall>[4]) => httpsCall(host, port, name, ca, req, timeoutMs);
  let login: HttpsAnswer;
  try {
    login = await call({ method: "POST", path: "/api/login", body: JSON.stringify({ password }) });
  } catch (err) {
    return { error: `login: ${(err as Error).message}` };
  }
  if (login.status !== 200)
    return {
      error: `login refused (${login.status}${login.status === 401 ? ": wrong web password" : ""}${login.status === 429 ? ": too many attempts, wait" : ""})`,
    };
  const setCookie = login.headers["set-cookie"]?.[0] ?? "";
  const cookie = setCookie.split(";")[0] ?? "";
  let csrf = "";
  try {
    csrf = String((JSON.parse(login.body) as { csrfToken?: unknown }).csrfToken ?? "");
  } catch {}
  try {
    // A web app that has just (re)connected to the broker knows no status yet: ask again for a moment.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await call({ path: "/api/devices", headers: { cookie } });
      if (res.status !== 200) return { error: `GET /api/devices answered ${res.status} after login` };
      const body = JSON.parse(res.body) as { broker?: unknown; devices?: unknown };
      if (!Array.isArray(body.devices)) return { error: "GET /api/devices: no device list in the answer" };
      const seen = {
        broker: String(body.broker ?? "unknown"),
        devices: body.devices.map((d: { id?: unknown; online?: unknown }) => ({
          id: String(d.id),
          online: d.online === true ? true : d.online === false ? false : null,
        })),
      };
      const settled = seen.broker === "connected" && seen.devices.every((d) => d.online !== null);
      if (settled || Date.now() >= deadline)
        return { ...seen, live: await liveSnapshot(host, port, name, ca, cookie, timeoutMs) };
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    return { error: `GET /api/devices: ${(err as Error).message}` };
  } finally {
    await call({ method: "POST", path: "/api/logout", headers: { cookie, [CSRF_HEADER]: csrf } }).catch(
      () => undefined,
    );
  }
}

/**
 * Opens the page's live socket (wss://<name>/api/live) with the session's cookie and reads its first frame, the
 * snapshot: nginx passes the upgrade through and the app serves it.
 */
export function liveSnapshot(
  host: string,
  port: number,
  name: string,
  ca: string | undefined,
  cookie: string,
  timeoutMs: number,
): Promise<LiveSeen> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://${hostHeader(host)}:${port}${LIVE_PATH}`, {
      ...tlsFor(name, ca),
      rejectUnauthorized: true,
      // No Origin: verify is a script, not a page (the app checks an Origin only when one is sent, as browsers do).
      headers: { host: hostHeader(name), cookie },
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
    });
    let done = false;
    const finish = (seen: LiveSeen) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(seen);
    };
    const timer = setTimeout(() => finish({ error: `no snapshot within ${timeoutMs} ms` }), timeoutMs);
    ws.on("unexpected-response", (_req, res) => finish({ status: res.statusCode ?? 0 }));
    ws.on("error", (err) => finish({ error: err.message }));
    ws.on("close", (code) => finish({ error: `closed before its snapshot (code ${code})` }));
    ws.on("message", (data) => {
      try {
        const f = JSON.parse(data.toString()) as { type?: unknown; broker?: unknown; devices?: unknown };
        if (f.type === "snapshot" && Array.isArray(f.devices))
          return finish({ snapshot: { broker: String(f.broker), devices: f.devices.length } });
        finish({ error: `first frame is not a snapshot: ${data.toString().slice(0, 80)}` });
      } catch {
        finish({ error: "first frame is not JSON" });
      }
    });
  });
}
