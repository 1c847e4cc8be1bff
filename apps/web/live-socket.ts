// The page's live connection: one WebSocket at /api/live carries its clicks up and the device states
// down, so a click costs one small frame each way instead of an HTTP request, its cookie and CSRF HMACs,
// Express's routing and a response (bench/click-latency.ts measures both paths). The HTTP API (POST
// .../outputs/:name, GET /api/events) stays for scripts and older pages, with the same rules:
// - the upgrade needs a valid session cookie, and an Origin (browsers always send one) that is ours:
//   a page on another site cannot open the socket with the user's cookie (cross-site WebSocket hijacking);
//   a session holds at most LIVE_MAX_SOCKETS_PER_SESSION sockets;
// - every command carries the session's CSRF token, as every state-changing HTTP request does;
// - frames are at most LIVE_MAX_FRAME_BYTES, and at most `commandRate` per second per socket, bad ones
//   included (on the server nginx rate-limits /api/ requests, but sees none of the frames inside a socket);
// - a bad frame gets an error frame and the socket stays up; logout and session expiry close it.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import { latencyTrace } from "../../protocol/trace";
import type { CommandSender } from "./broker";
import type { Logger } from "./log";
import type { PageUpdates } from "./page-updates";
import { readCookie, type Session, type Sessions } from "./session";
import type { DeviceStore, DeviceView, InputEvent } from "./state";

export const LIVE_PATH = "/api/live";
/** A command frame is ~150 bytes; anything past this closes the socket (1009, RFC 6455 7.4.1). */
export const LIVE_MAX_FRAME_BYTES = 1024;
/** Pings this often keep nginx's proxy_read_timeout from closing a quiet socket; no pong by the next: closed. */
export const LIVE_PING_MS = 25_000;
/** A page this far behind on reading (bytes queued) is dropped: it reconnects and gets a fresh snapshot. */
export const LIVE_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Per socket, as nginx's default for /api/ requests (infra/render/nginx.ts). */
export const DEFAULT_LIVE_COMMAND_RATE = { perSecond: 10, burst: 40 };

/**
 * Sockets one session may hold at once (tabs, reconnects): each has its own command rate, so a stolen cookie
 * opening socket after socket would otherwise multiply it. Past this the upgrade gets 429.
 */
export const LIVE_MAX_SOCKETS_PER_SESSION = 16;

/** Commands per socket whose answer is awaited; past this the oldest is forgotten (its device is gone). */
export const MAX_UNANSWERED = 1000;

/** Close codes (RFC 6455 7.4.2: 4000-4999 are the application's). The page logs in again on 4401. */
export const LIVE_CLOSE = { sessionEnded: 4401, tooSlow: 4008, shutdown: 1001 } as const;

/** What the page sends. `ref` is the page's own label for the command, echoed in the answer. */
const CommandFrame = z.strictObject({
  type: z.literal("command"),
  ref: z.string().max(64).optional(),
  csrf: z.string().max(100),
  device: z.string().max(64),
  output: z.string().max(64),
  value: z.enum(["on", "off", "toggle"]),
});
export type CommandFrame = z.infer<typeof CommandFrame>;

/** A command's outcome, from app.ts's command handling (shared with the HTTP route). */
export type CommandOutcome =
  | { ok: true; req: string; acked: Promise<void> }
  | { ok: false; status: number; error: string };

/** What the page receives. */
export type LiveFrame =
  | { type: "snapshot"; broker: "connected" | "disconnected"; devices: DeviceView[] }
  /** `answers`: the refs of this page's commands whose result this view is (their req is in it). */
  | { type: "device"; device: DeviceView; answers?: string[] }
  | { type: "input"; input: InputEvent }
  | { type: "broker"; broker: "connected" | "disconnected" }
  /** The command did not go out (status and error as the HTTP route's). */
  | { type: "refused"; ref?: string; req?: string; status: number; error: string };

export interface LiveSocketOptions {
  sessions: Sessions;
  cookieName: string;
  store: Pick<DeviceStore, "list">;
  broker: Pick<CommandSender, "connected">;
  /** Device changes, inputs and the broker link's state, as they happen (shared with /api/events). */
  updates: PageUpdates;
  logger: Logger;
  /** True when the upgrade's Origin header may open a socket (app.ts's rule for state-changing requests). */
  originAllowed(origin: string, req: IncomingMessage): boolean;
  /** Checks and sends one command; never throws. */
  command(device: string, output: string, value: CommandFrame["value"]): CommandOutcome;
  /** The client address for logs (behind nginx: X-Forwarded-For's last entry). */
  clientAddress(req: IncomingMessage): string | undefined;
  commandRate?: { perSecond: number; burst: number };
  pingMs?: number;
}

export interface LiveSockets {
  /** For the HTTP server's "upgrade" event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes the sockets of a session (logout). */
  closeSession(sid: string): void;
  /** Closes every socket (shutdown). */
  closeAll(): void;
}

export function createLiveSockets(opts: LiveSocketOptions): LiveSockets {
  const { sessions, store, broker, updates, logger: log } = opts;
  const rate = opts.commandRate ?? DEFAULT_LIVE_COMMAND_RATE;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIVE_MAX_FRAME_BYTES,
    perMessageDeflate: false, // compression of attacker-chosen frames next to secrets: no (and it costs CPU)
    clientTracking: false,
  });
  /** Each open page: its session, and what stops its updates. */
  const open = new Map<WebSocket, { session: Session; stopUpdates(): void }>();

  const refuse = (socket: Duplex, status: number, reason: string) => {
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
    );
  };

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    const path = (req.url ?? "").split("?")[0];
    if (path !== LIVE_PATH) {
      refuse(socket, 404, "Not Found");
      return;
    }
    const ip = opts.clientAddress(req);
    const origin = req.headers.origin;
    if (origin !== undefined && !opts.originAllowed(origin, req)) {
      log.warn("origin_refused", { origin, path: LIVE_PATH, ip });
      refuse(socket, 403, "Forbidden");
      return;
    }
    const session = sessions.verify(readCookie(req.headers.cookie, opts.cookieName));
    if (!session) {
      refuse(socket, 401, "Unauthorized");
      return;
    }
    let held = 0;
    for (const page of open.values()) if (page.session.sid === session.sid) held++;
    if (held >= LIVE_MAX_SOCKETS_PER_SESSION) {
      log.warn("live_too_many_sockets", { ip, held });
      refuse(socket, 429, "Too Many Requests");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, session, ip));
  }

  function serve(ws: WebSocket, session: Session, ip: string | undefined): void {
    const raw = ws as unknown as { _socket?: { setNoDelay?(b: boolean): void } };
    raw._socket?.setNoDelay?.(true);
    const send = (frame: LiveFrame) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > LIVE_MAX_BUFFERED_BYTES) {
        log.warn("live_client_too_slow", { ip, buffered: ws.bufferedAmount });
        ws.close(LIVE_CLOSE.tooSlow, "too far behind; reconnect");
        return;
      }
      ws.send(JSON.stringify(frame));
    };
    const status = () => (broker.connected ? "connected" : "disconnected") as "connected" | "disconnected";
    send({ type: "snapshot", broker: status(), devices: store.list() });

    // This page's commands still unanswered: req -> the page's ref. No "accepted" frame: the page learns
    // of a command again only when the device answers it (or the broker refuses it), so in between it is
    // not woken at all (measured: one frame less per click, bench/click-latency.ts).
    const mine = new Map<string, string>();
    const deviceChanged = (d: DeviceView) => {
      const answers: string[] = [];
      if (mine.size > 0)
        for (const o of d.outputs) {
          const ref = o.req === undefined ? undefined : mine.get(o.req);
          if (ref === undefined || o.req === undefined) continue;
          mine.delete(o.req);
          answers.push(ref);
        }
      send(answers.length ? { type: "device", device: d, answers } : { type: "device", device: d });
      if (latencyTrace.hook) for (const o of d.outputs) if (o.req) latencyTrace.hook("event-written", o.req);
    };
    const stopUpdates = updates.add({
      device: deviceChanged,
      input: (e) => send({ type: "input", input: e }),
      broker: (connected) => send({ type: "broker", broker: connected ? "connected" : "disconnected" }),
    });
    open.set(ws, { session, stopUpdates });

    // Token bucket: `burst` frames at once, refilled at `perSecond`.
    let tokens = rate.burst;
    let filledAt = performance.now();
    const takeToken = () => {
      const now = performance.now();
      tokens = Math.min(rate.burst, tokens + ((now - filledAt) / 1000) * rate.perSecond);
      filledAt = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    };

    // Every frame takes a token, good or bad, as nginx's limit counts every request: a flood of wrong-token
    // frames (a csrf_refused line each) or of garbage is cut like a flood of commands, and a flood costs the
    // log one line, not one per frame (journald's rate limit would then drop the lines fail2ban reads).
    let flooding = false;
    ws.on("message", (data, isBinary) => {
      latencyTrace.hook?.("request-received", undefined);
      const parsed = isBinary ? undefined : parseJson(data.toString());
      const ref = refOf(parsed?.value);
      if (!takeToken()) {
        if (!flooding) log.warn("live_rate_limited", { ip });
        flooding = true;
        return send({ type: "refused", ...ref, status: 429, error: "too many commands; slow down" });
      }
      flooding = false;
      if (isBinary) return send({ type: "refused", status: 400, error: "frames must be JSON text" });
      if (!parsed) return send({ type: "refused", status: 400, error: "frame is not valid JSON" });
      const frame = CommandFrame.safeParse(parsed.value);
      if (!frame.success)
        return send({
          type: "refused",
          ...ref,
          status: 400,
          error: 'frame must be {"type": "command", "csrf", "device", "output", "value": "on" | "off" | "toggle"}',
        });
      if (!sessions.checkCsrf(session.sid, frame.data.csrf)) {
        log.warn("csrf_refused", { path: LIVE_PATH, ip });
        return send({ type: "refused", ...ref, status: 403, error: "missing or wrong csrf token" });
      }
      const c = opts.command(frame.data.device, frame.data.output, frame.data.value);
      if (!c.ok) return send({ type: "refused", ...ref, status: c.status, error: c.error });
      if (mine.size >= MAX_UNANSWERED) mine.delete(mine.keys().next().value as string); // the oldest
      mine.set(c.req, ref.ref ?? "");
      c.acked.catch((e: { status?: number; message?: string }) => {
        mine.delete(c.req);
        // A refusal with a status says what went wrong (the HTTP route's 502/503); anything else is ours, and
        // its message stays in the log, as the HTTP route's error handler keeps it from the client.
        const known = typeof e?.status === "number";
        if (!known) log.error("live_command_failed", { req: c.req, error: String(e?.message ?? e) });
        send({
          type: "refused",
          ...ref,
          req: c.req,
          status: known ? (e.status as number) : 500,
          error: known ? (e.message ?? "") : "internal error",
        });
      });
    });

    // A peer that has not answered the last ping by the next one is gone (a phone off its network leaves the TCP
    // connection open for many minutes, and it would hold one of its session's places): terminated.
    let ponged = true;
    ws.on("pong", () => {
      ponged = true;
    });
    const ping = setInterval(() => {
      if (!ponged) {
        log.info("live_peer_gone", { ip });
        ws.terminate();
        return;
      }
      ponged = false;
      ws.ping();
    }, opts.pingMs ?? LIVE_PING_MS);
    const expiry = setTimeout(
      () => ws.close(LIVE_CLOSE.sessionEnded, "session expired"),
      Math.max(0, session.expires - Date.now()),
    );
    ws.on("error", () => ws.terminate());
    ws.on("close", () => {
      clearInterval(ping);
      clearTimeout(expiry);
      stopUpdates();
      open.delete(ws);
    });
  }

  return {
    handleUpgrade,
    closeSession(sid) {
      for (const [ws, page] of open) if (page.session.sid === sid) ws.close(LIVE_CLOSE.sessionEnded, "logged out");
    },
    closeAll() {
      for (const [ws, page] of open) {
        ws.close(LIVE_CLOSE.shutdown, "server shutting down");
        page.stopUpdates();
      }
      open.clear();
    },
  };
}

/** The frame's JSON value, or undefined when it is not JSON. */
function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** The frame's ref when it has a usable one, so even a refused frame's answer can be matched. */
function refOf(parsed: unknown): { ref?: string } {
  const ref = (parsed as { ref?: unknown } | null)?.ref;
  return typeof ref === "string" && ref.length <= 64 ? { ref } : {};
}
