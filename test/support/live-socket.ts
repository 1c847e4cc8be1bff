// The page's live socket (/api/live, apps/web/live-socket.ts) from a test's side: open it as a browser does
// (cookie, Origin), read its frames, see how it closed; or see what an upgrade that is refused answers.
import { WebSocket } from "ws";

/** A frame the server sent (apps/web/live-socket.ts LiveFrame, as the page parses it). */
export interface LiveFrameSeen {
  type: string;
  ref?: string;
  req?: string;
  status?: number;
  error?: string;
  answers?: string[];
  broker?: string;
  device?: { id: string; outputs: { name: string; value: string | null; req?: string }[] };
}

export interface UpgradeAttempt {
  /** Request path; default /api/live. */
  path?: string;
  /** The Cookie header, as the browser would send it. */
  cookie?: string;
  /** The Origin header; none when undefined (a script, not a browser). */
  origin?: string;
  /** wss:// (through nginx): the CA to trust and the name the server certificate is for. */
  tls?: { ca: string; servername: string };
  /** false: the client does not answer pings (a peer gone without closing). Default true, as browsers. */
  autoPong?: boolean;
}

function urlOf(base: string, path = "/api/live"): string {
  return `${base.replace(/^http/, "ws")}${path}`;
}

function open(base: string, a: UpgradeAttempt): WebSocket {
  return new WebSocket(urlOf(base, a.path), {
    headers: a.cookie ? { cookie: a.cookie } : {},
    ...(a.origin ? { origin: a.origin } : {}),
    ...(a.tls ?? {}),
    ...(a.autoPong === false ? { autoPong: false } : {}),
  });
}

/** The HTTP status an upgrade gets: 101 when the socket opened (it is closed again at once). */
export function upgradeStatus(base: string, a: UpgradeAttempt = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = open(base, a);
    ws.once("open", () => {
      ws.terminate();
      resolve(101);
    });
    ws.once("unexpected-response", (req, res) => {
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    ws.once("error", (e) => reject(e));
  });
}

export interface LiveClient {
  ws: WebSocket;
  /** Every frame received, in order (JSON-parsed). */
  frames: LiveFrameSeen[];
  /** Resolves with the first frame from index `from` on that matches. */
  next(match: (f: LiveFrameSeen) => boolean, what: string, from?: number, timeoutMs?: number): Promise<LiveFrameSeen>;
  /** Sends a text frame: an object is JSON-encoded, a string goes as it is. */
  send(frame: unknown): void;
  /** The close code and reason, once the socket closed; rejects if it stays open past the timeout. */
  closed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  readonly isOpen: boolean;
  close(): void;
}

/** Opens the socket (rejects with `HTTP <status>` when the upgrade is refused) and waits for the snapshot. */
export async function openLive(base: string, a: UpgradeAttempt = {}): Promise<LiveClient> {
  const ws = open(base, a);
  const frames: LiveFrameSeen[] = [];
  const waiters = new Set<() => void>();
  let isOpen = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => {
      isOpen = false;
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    }),
  );
  ws.on("message", (data) => {
    frames.push(JSON.parse(data.toString()) as LiveFrameSeen);
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => {
      isOpen = true;
      resolve();
    });
    ws.once("unexpected-response", (req, res) => {
      res.resume();
      req.destroy();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    ws.once("error", reject);
  });
  ws.on("error", () => {}); // a close the test provoked (1009) must not throw
  const client: LiveClient = {
    ws,
    frames,
    next(match, what, from = 0, timeoutMs = 10_000) {
      const found = () => frames.slice(from).find(match);
      const hit = found();
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no live frame: ${what}; got ${JSON.stringify(frames.slice(-5))}`));
        }, timeoutMs);
        const check = () => {
          const f = found();
          if (f || !isOpen) {
            clearTimeout(timer);
            waiters.delete(check);
            if (f) resolve(f);
            else reject(new Error(`live socket closed before: ${what}`));
          }
        };
        waiters.add(check);
      });
    },
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    closed: (timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("live socket still open")), timeoutMs);
        void closed.then((c) => {
          clearTimeout(timer);
          resolve(c);
        });
      }),
    get isOpen() {
      return isOpen;
    },
    close: () => ws.close(),
  };
  await client.next((f) => f.type === "snapshot", "snapshot");
  return client;
}

/** A command frame as apps/web/public/app.js sends it. */
export function commandFrame(
  csrf: string,
  device: string,
  output: string,
  value: "on" | "off" | "toggle",
  ref?: string,
): Record<string, string> {
  return { type: "command", ...(ref === undefined ? {} : { ref }), csrf, device, output, value };
}
