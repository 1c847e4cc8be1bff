// The HTTP side: login, CSRF, JSON API, Server-Sent Events, static page, health. Built from its
// dependencies so tests and the demo run it in-process (see server.ts for the wiring).
import express, { type NextFunction, type Request, type Response } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import helmet from "helmet";
import { z } from "zod";
import { isDeviceId, isIoName } from "../../protocol";
import { ASSET_PATHS, loadAssets } from "./assets";
import { CoalescedChanges } from "./coalesce";
import { BrokerRejectedError, BrokerUnavailableError, type CommandSender, newRequestId } from "./broker";
import { ApiError, historyRoutes } from "./history-api";
import type { HistoryStore } from "./history/store";
import type { Logger } from "./log";
import { type CommandOutcome, type LiveSockets, createLiveSockets } from "./live-socket";
import { createEventStreams } from "./event-streams";
import { PageUpdates } from "./page-updates";
import { PendingCommands } from "./pending-commands";
import {
  CSRF_HEADER,
  type RevocationList,
  type Session,
  type Sessions,
  createSessions,
  passwordMatches,
  readCookie,
  sessionCookie,
  sessionCookieName,
} from "./session";
import type { DeviceStore } from "./state";

export const BODY_LIMIT = "1kb";

export interface WebAppOptions {
  store: DeviceStore;
  broker: CommandSender;
  password: string;
  sessionSecret: string;
  logger: Logger;
  /** Secure flag on the session cookie (and CSP upgrade-insecure-requests). Default true. */
  cookieSecure?: boolean;
  /**
   * The app listens where only nginx can connect (listen.socket) and takes the client address from the
   * X-Forwarded-For entry nginx appends. Default false: the peer's address, forwarding headers ignored.
   */
  behindProxy?: boolean;
  /** When set, state-changing requests with an Origin header must come from it. */
  publicOrigin?: string;
  /** Login attempts per window per client address. Default 10 per 15 minutes. */
  loginRateLimit?: { windowMs: number; limit: number };
  /** Directory of index.html, app.js, style.css. Default: embedded in the bundle, else public/ beside this file. */
  publicDir?: string;
  sessionTtlMs?: number;
  /** Where logouts are remembered; default in memory (server.ts passes a file in the state directory). */
  revocations?: RevocationList;
  /** Sensor and input history for /api/devices/:id/sensors/:name/history and /events. */
  history?: HistoryStore;
  /** Commands per second per live socket (live-socket.ts); default as nginx's limit for /api/. */
  liveCommandRate?: { perSecond: number; burst: number };
  /** How often the live socket pings each page (live-socket.ts LIVE_PING_MS); tests shorten it. */
  livePingMs?: number;
}

export interface WebApp {
  app: express.Express;
  sessions: Sessions;
  /** The page's WebSocket (/api/live): hand it the HTTP server's "upgrade" events. */
  live: LiveSockets;
  /** Ends every open event stream and live socket (on shutdown). */
  closeStreams(): void;
}

const CommandBody = z.strictObject({ value: z.enum(["on", "off", "toggle"]) });
type CommandBody = z.infer<typeof CommandBody>;
const LoginBody = z.strictObject({ password: z.string().min(1).max(1024) });

type Authed = Request & { session?: Session };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createWebApp(opts: WebAppOptions): WebApp {
  const { store, broker, logger: log } = opts;
  const secure = opts.cookieSecure ?? true;
  const sessions = createSessions({
    secret: opts.sessionSecret,
    password: opts.password,
    ...(opts.sessionTtlMs ? { ttlMs: opts.sessionTtlMs } : {}),
    ...(opts.revocations ? { revocations: opts.revocations } : {}),
  });
  const cookieName = sessionCookieName(secure);
  const pending = new PendingCommands(); // commands sent whose state has not reached the page yet
  // Device updates for the page, at most a few per second each, but a command's answer at once.
  const changes = new CoalescedChanges(store, undefined, (d) => pending.answers(d));
  const updates = new PageUpdates({ changes, store, broker });
  const events = createEventStreams({ store, broker, updates, logger: log });

  const app = express();
  app.disable("x-powered-by");
  // Behind nginx, on a socket only nginx can open, the last X-Forwarded-For entry is the address nginx saw
  // (it appends $remote_addr); anywhere else forwarding headers are whatever the sender wrote: ignored.
  app.set("trust proxy", opts.behindProxy ? 1 : false);
  app.set("etag", false);

  // The app owns the headers that describe its page (CSP, framing, referrer, sniffing, permissions): it
  // knows what the page loads, and the demo serves it without nginx. HSTS describes the TLS endpoint, so
  // nginx, which terminates TLS, owns it (infra/render/nginx.ts); the app sends none.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", "data:"],
          connectSrc: ["'self'"],
          manifestSrc: ["'self'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          objectSrc: ["'none'"],
          ...(secure ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: false,
      xFrameOptions: { action: "deny" }, // as frame-ancestors 'none', for browsers without CSP level 2
      crossOriginEmbedderPolicy: true,
      referrerPolicy: { policy: "no-referrer" },
    }),
  );
  app.use((_req, res, next) => {
    res.setHeader("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    next();
  });

  // One log line per request, written when it finishes: at info for a request that went wrong (4xx, 5xx),
  // at debug otherwise. On the server nginx already keeps the access log of every request; logging each
  // answered click again cost ~0.08 ms of the click at p50 (the line is written just as the device's state
  // comes back; bench/click-latency.ts, paired runs).
  // DIY_WEB_LOG_LEVEL=debug logs them all.
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      log[res.statusCode >= 400 ? "info" : "debug"]("http", {
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
        ip: req.ip,
      });
    });
    next();
  });

  app.get("/healthz", (_req, res) => {
    const connected = broker.connected;
    res
      .status(connected ? 200 : 503)
      .json({ status: connected ? "ok" : "degraded", broker: connected ? "connected" : "disconnected" });
  });

  // Static page: plain files, no inline script (CSP).
  const assets = loadAssets(opts.publicDir);
  app.get([...ASSET_PATHS], (req, res) => {
    const name = req.path === "/" ? "index.html" : req.path.slice(1);
    const a = assets.get(name);
    if (!a) return res.status(404).json({ error: "not found" });
    res.setHeader("Content-Type", a.type);
    res.setHeader("Cache-Control", "no-cache");
    res.send(a.body);
  });

  const api = express.Router();
  api.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    next();
  });

  // Reject cross-site state changes early: Origin must match when the browser sends one.
  api.use((req, _res, next) => {
    if (req.method === "GET" || req.method === "HEAD") return next();
    const origin = req.get("origin");
    if (origin && !originAllowed(origin, req.get("host"), opts.publicOrigin)) {
      log.warn("origin_refused", { origin, path: req.path, ip: req.ip });
      return next(new HttpError(403, "cross-origin request refused"));
    }
    next();
  });

  api.use(express.json({ limit: BODY_LIMIT, strict: true, type: "application/json" }));

  const loginLimiter = rateLimit({
    windowMs: opts.loginRateLimit?.windowMs ?? 15 * 60 * 1000,
    limit: opts.loginRateLimit?.limit ?? 10,
    skipSuccessfulRequests: true, // only failed attempts count
    // On the socket without X-Forwarded-For (only nginx's group can connect) there is no address: one key.
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? "unix-socket"),
    standardHeaders: "draft-8",
    legacyHeaders: false,
    handler: (req, res) => {
      log.warn("login_rate_limited", { ip: req.ip });
      res.status(429).json({ error: "too many login attempts; wait a few minutes" });
    },
  });

  api.post("/login", loginLimiter, (req, res) => {
    const body = LoginBody.safeParse(req.body);
    if (!body.success) throw new HttpError(400, 'body must be JSON {"password": "..."}');
    if (!passwordMatches(body.data.password, opts.password)) {
      // fail2ban can watch for this event (journald, diy-web.service).
      log.warn("login_failed", { ip: req.ip });
      return res.status(401).json({ error: "wrong password" });
    }
    const s = sessions.issue();
    res.setHeader("Set-Cookie", sessionCookie({ secure, value: s.cookieValue, maxAgeSeconds: sessions.ttlMs / 1000 }));
    log.info("login", { ip: req.ip });
    res.json({ authenticated: true, csrfToken: s.csrfToken });
  });

  api.get("/session", (req, res) => {
    const s = sessions.verify(readCookie(req.get("cookie"), cookieName));
    res.json(s ? { authenticated: true, csrfToken: sessions.csrfToken(s.sid) } : { authenticated: false });
  });

  const requireSession = (req: Authed, _res: Response, next: NextFunction) => {
    const s = sessions.verify(readCookie(req.get("cookie"), cookieName));
    if (!s) return next(new HttpError(401, "log in first"));
    req.session = s;
    next();
  };
  const requireCsrf = (req: Authed, _res: Response, next: NextFunction) => {
    if (!req.session || !sessions.checkCsrf(req.session.sid, req.get(CSRF_HEADER))) {
      log.warn("csrf_refused", { path: req.path, ip: req.ip });
      return next(new HttpError(403, "missing or wrong X-CSRF-Token header"));
    }
    next();
  };

  api.post("/logout", requireSession, requireCsrf, (req: Authed, res) => {
    if (req.session) {
      sessions.revoke(req.session);
      // This session's open event streams and sockets end too.
      events.closeSession(req.session.sid);
      live.closeSession(req.session.sid);
    }
    res.setHeader("Set-Cookie", sessionCookie({ secure, value: "", maxAgeSeconds: 0 }));
    res.json({ authenticated: false });
  });

  api.get("/devices", requireSession, (_req, res) => {
    res.json({ broker: broker.connected ? "connected" : "disconnected", devices: store.list() });
  });

  // One command, from the HTTP route or the page's live socket: checked, sent, its answer expected.
  const targetError = (id: string, name: string): HttpError | undefined => {
    if (!isDeviceId(id) || !store.has(id)) return new HttpError(404, `no device "${printable(id)}"`);
    if (!isIoName(name) || !store.hasOutput(id, name))
      return new HttpError(404, `device "${id}" has no output "${printable(name)}"`);
    return undefined;
  };
  const command = (id: string, name: string, value: CommandBody["value"]): CommandOutcome => {
    const refused = targetError(id, name);
    if (refused) return { ok: false, status: refused.status, error: refused.message };
    const req = newRequestId();
    pending.expect(id, name, req);
    const acked = broker.sendCommand(id, name, value, req).then(
      () => log.info("command_sent", { device: id, output: name, value, req }),
      (e: unknown) => {
        pending.forget(req);
        if (e instanceof BrokerRejectedError) {
          log.error("command_refused_by_broker", {
            device: id,
            output: name,
            reasonCode: e.reasonCode,
            error: e.message,
          });
          throw new HttpError(502, e.message);
        }
        if (e instanceof BrokerUnavailableError) {
          log.warn("command_broker_unavailable", { device: id, output: name, error: e.message });
          throw new HttpError(503, "broker unavailable; try again shortly");
        }
        throw e;
      },
    );
    return { ok: true, req, acked };
  };

  api.post("/devices/:id/outputs/:name", requireSession, requireCsrf, async (req: Authed, res) => {
    const id = String(req.params.id);
    const name = String(req.params.name);
    const refused = targetError(id, name);
    if (refused) throw refused;
    if (req.body === undefined)
      throw new HttpError(
        400,
        'body must be JSON {"value": "on" | "off" | "toggle"} with Content-Type application/json',
      );
    const body = CommandBody.safeParse(req.body);
    if (!body.success) throw new HttpError(400, 'body must be {"value": "on" | "off" | "toggle"}');
    const c = command(id, name, body.data.value);
    if (!c.ok) throw new HttpError(c.status, c.error);
    await c.acked;
    res.status(202).json({ req: c.req });
  });

  // Live updates: a snapshot, then one event per device change (event-streams.ts).
  api.get("/events", requireSession, (req: Authed, res) => {
    if (req.session) events.serve(res, req.session, req.ip);
  });

  api.use(historyRoutes({ store, history: opts.history, requireSession }));

  api.use((_req, _res, next) => next(new HttpError(404, "no such API endpoint")));
  app.use("/api", api);
  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });

  // Every error ends here: a status and a message, never a crash or a stack trace to the client.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, message } = httpErrorOf(err);
    if (status >= 500 && !(err instanceof HttpError))
      log.error("http_error", { path: req.path, error: errorText(err) });
    else if (!(err instanceof HttpError)) log.warn("http_bad_request", { path: req.path, status, error: message });
    if (res.headersSent) return res.end();
    res.status(status).json({ error: message });
  });

  const live = createLiveSockets({
    sessions,
    cookieName,
    store,
    broker,
    updates,
    logger: log,
    originAllowed: (origin, req) => originAllowed(origin, req.headers.host, opts.publicOrigin),
    command,
    clientAddress: (req) =>
      opts.behindProxy
        ? (req.headers["x-forwarded-for"]?.toString().split(",").at(-1)?.trim() ?? "unix-socket")
        : req.socket.remoteAddress,
    ...(opts.liveCommandRate ? { commandRate: opts.liveCommandRate } : {}),
    ...(opts.livePingMs ? { pingMs: opts.livePingMs } : {}),
  });

  return {
    app,
    sessions,
    live,
    closeStreams: () => {
      live.closeAll();
      events.closeAll();
      changes.close();
    },
  };
}

function httpErrorOf(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError || err instanceof ApiError) return { status: err.status, message: err.message };
  const e = err as { type?: string; status?: number };
  switch (e?.type) {
    case "entity.parse.failed":
      return { status: 400, message: "body is not valid JSON" };
    case "entity.too.large":
      return { status: 400, message: `body is larger than ${BODY_LIMIT}` };
    case "encoding.unsupported":
    case "charset.unsupported":
      return { status: 400, message: "body must be UTF-8 JSON" };
    case "request.aborted":
      return { status: 400, message: "request aborted" };
  }
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500)
    return { status: e.status, message: "bad request" };
  return { status: 500, message: "internal error" };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A user-supplied path segment made safe to echo in a message. */
function printable(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40).replace(/[^\x20-\x7e]/g, "?")}...` : s.replace(/[^\x20-\x7e]/g, "?");
}

function originAllowed(origin: string, host: string | undefined, publicOrigin?: string): boolean {
  if (publicOrigin) return origin === new URL(publicOrigin).origin;
  // Without a configured origin: the Origin's host must be the Host the request was sent to.
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
