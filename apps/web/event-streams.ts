// GET /api/events: Server-Sent Events for scripts and older pages (the page itself uses /api/live). The same
// limits as the live socket, since a logged-in client holds the stream open as long as it likes:
// - a session holds at most EVENTS_MAX_STREAMS_PER_SESSION streams (a stolen cookie opening stream after
//   stream would otherwise hold a listener and a copy of every update each); past it: 429;
// - a client that stops reading is dropped once EVENTS_MAX_BUFFERED_BYTES wait for it (Node buffers what
//   res.write cannot hand to the kernel, without bound), rather than growing the app's memory until its
//   session expires;
// - every stream is fed by page-updates.ts, one set of listeners for all of them and the live sockets.
import type { Response } from "express";
import { latencyTrace } from "../../protocol/trace";
import type { CommandSender } from "./broker";
import type { Logger } from "./log";
import type { PageUpdates } from "./page-updates";
import type { Session } from "./session";
import type { DeviceStore } from "./state";

/** A quiet stream gets a comment this often, so nginx's proxy_read_timeout does not close it. */
export const SSE_HEARTBEAT_MS = 25_000;
/** As the live socket's LIVE_MAX_SOCKETS_PER_SESSION. */
export const EVENTS_MAX_STREAMS_PER_SESSION = 16;
/** As the live socket's LIVE_MAX_BUFFERED_BYTES: the client reconnects (EventSource does) and gets a fresh snapshot. */
export const EVENTS_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface EventStreamOptions {
  store: Pick<DeviceStore, "list">;
  broker: Pick<CommandSender, "connected">;
  /** Device changes, inputs and the broker link's state, as they happen (shared with the live socket). */
  updates: PageUpdates;
  logger: Logger;
}

export interface EventStreams {
  /** Serves one stream to a request that passed requireSession; answers 429 past the session's limit. */
  serve(res: Response, session: Session, ip: string | undefined): void;
  /** Ends the streams of one session (logout). */
  closeSession(sid: string): void;
  /** Ends every stream (shutdown). */
  closeAll(): void;
}

export function createEventStreams(opts: EventStreamOptions): EventStreams {
  const { store, broker, updates, logger: log } = opts;
  const open = new Map<Response, { sid: string }>();

  function serve(res: Response, session: Session, ip: string | undefined): void {
    let held = 0;
    for (const s of open.values()) if (s.sid === session.sid) held++;
    if (held >= EVENTS_MAX_STREAMS_PER_SESSION) {
      log.warn("events_too_many_streams", { ip, held });
      res.status(429).json({ error: "too many event streams for this session; close one" });
      return;
    }
    res.status(200);
    res.setHeader("Content-Type", "text/event-stream; charset=utf-8");
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("X-Accel-Buffering", "no"); // nginx: do not buffer the stream
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    const write = (text: string) => {
      if (res.writableEnded || res.destroyed) return;
      if (res.writableLength > EVENTS_MAX_BUFFERED_BYTES) {
        log.warn("events_client_too_slow", { ip, buffered: res.writableLength });
        res.destroy(); // end() would wait behind what is queued
        return;
      }
      res.write(text);
    };
    const send = (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    write("retry: 2000\n\n");
    send("snapshot", { broker: broker.connected ? "connected" : "disconnected", devices: store.list() });
    const stopUpdates = updates.add({
      device: (d) => {
        send("device", d);
        if (latencyTrace.hook) for (const o of d.outputs) if (o.req) latencyTrace.hook("event-written", o.req);
      },
      input: (e) => send("input", e),
      broker: (connected) => send("broker", { broker: connected ? "connected" : "disconnected" }),
    });
    open.set(res, { sid: session.sid });
    const heartbeat = setInterval(() => write(": ping\n\n"), SSE_HEARTBEAT_MS);
    // End the stream when the session expires; a page then asks to log in again.
    const expiry = setTimeout(() => res.end(), Math.max(0, session.expires - Date.now()));
    res.on("close", () => {
      clearInterval(heartbeat);
      clearTimeout(expiry);
      stopUpdates();
      open.delete(res);
    });
  }

  return {
    serve,
    closeSession(sid) {
      for (const [res, s] of open) if (s.sid === sid) res.end();
    },
    closeAll() {
      for (const res of open.keys()) res.end();
    },
  };
}
