// The web app from a test's side: log in as a browser does and follow its Server-Sent Events or its live socket.
import { WebSocket } from "ws";
import type { LiveFrame } from "../../apps/web/live-socket";

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

/** POSTs a value for a device's output as the page does: session cookie, CSRF token, JSON body {value}. */
export function postCommand(
  base: string,
  session: { cookie: string; csrf: string },
  deviceId: string,
  output: string,
  value: string,
): Promise<Response> {
  return fetch(`${base}/api/devices/${deviceId}/outputs/${output}`, {
    method: "POST",
    headers: { cookie: session.cookie, "x-csrf-token": session.csrf, "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
}

export interface SseEvent {
  event: string;
  data: unknown;
  /** performance.now() when the event was parsed. */
  at: number;
}

/** What arrives over one stream, kept in order, and a way to wait for the first that matches. */
function arrivals<T>(stream: string, nameOf: (t: T) => string) {
  const items: T[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const wake = () => {
    for (const w of waiters) w();
  };
  return {
    items,
    push(t: T) {
      items.push(t);
      wake();
    },
    end() {
      ended = true;
      wake();
    },
    get ended() {
      return ended;
    },
    /** Resolves with the first item (from `from` on) matching `match`. */
    next(match: (t: T) => boolean, what: string, from = 0, timeoutMs = 10_000): Promise<T> {
      const found = () => items.slice(from).find(match);
      const hit = found();
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${stream} event: ${what}; got ${JSON.stringify(items.map(nameOf))}`));
        }, timeoutMs);
        const check = () => {
          const t = found();
          if (t) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(t);
          } else if (ended) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`${stream} stream ended before: ${what}`));
          }
        };
        waiters.add(check);
      });
    },
  };
}

/** Follows GET /api/events like a browser's EventSource (one connection, no auto-retry). */
export async function openEvents(base: string, cookie: string) {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/events`, {
    headers: { cookie, accept: "text/event-stream" },
    signal: ac.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}`);
  const events = arrivals<SseEvent>("SSE", (e) => e.event);
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
          sep = buf.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
    events.end();
  })();
  return {
    events: events.items,
    get ended() {
      return events.ended;
    },
    next: events.next,
    close: () => ac.abort(),
  };
}

/** The upgrade to /api/live was answered with an HTTP status instead of 101. */
export class LiveRefused extends Error {
  constructor(readonly status: number) {
    super(`live socket refused: HTTP ${status}`);
  }
}

export interface LiveOptions {
  cookie?: string;
  /** The Origin header a browser would send (the page's origin). */
  origin?: string;
  /** For wss:// through nginx: the CA and the name the server certificate is for. */
  ca?: string;
  servername?: string;
}

/**
 * Opens the page's live socket (apps/web/live-socket.ts) as a browser does: the session cookie and an Origin.
 * Rejects with LiveRefused when the upgrade is answered with a status (401, 403, 429, ...).
 */
export function openLive(url: string, opts: LiveOptions = {}) {
  const ws = new WebSocket(url, {
    headers: opts.cookie ? { cookie: opts.cookie } : {},
    ...(opts.origin ? { origin: opts.origin } : {}),
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.servername ? { servername: opts.servername } : {}),
  });
  const frames = arrivals<LiveFrame & { at: number }>("live", (f) => f.type);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => {
      frames.end();
      resolve({ code, reason: reason.toString() });
    }),
  );
  ws.on("message", (data) => frames.push({ ...(JSON.parse(data.toString()) as LiveFrame), at: performance.now() }));
  const client = {
    frames: frames.items,
    next: frames.next,
    /** Sends one frame (a command object, or raw text). */
    send: (frame: object | string) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    closed,
    close: () => ws.close(),
  };
  return new Promise<typeof client>((resolve, reject) => {
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (req, res) => {
      res.resume();
      req.destroy();
      reject(new LiveRefused(res.statusCode ?? 0));
    });
    ws.on("error", reject); // after a rejection, a no-op
  });
}
