// The history's JSON API, mounted under /api by app.ts behind the session check:
//   GET /api/devices/:id/sensors/:name/history?from=&to=&step=   min/avg/max per step
//   GET /api/devices/:id/events?from=&to=&limit=                  input events, newest first
// from/to are ISO 8601 times or milliseconds since the epoch (default: the last hour, to now); step is
// seconds or a duration like 30s, 5m, 1h, 1d (default: what gives ~400 points). Every refusal says why.
import express, { type NextFunction, type Request, type Response } from "express";
import { rateLimit } from "express-rate-limit";
import { isDeviceId, isIoName } from "../../protocol";
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "./history/downsample";
import type { HistoryStore } from "./history/store";
import type { DeviceStore } from "./state";

export const MAX_EVENTS = 1000;
export const DEFAULT_EVENTS = 100;
/** History queries per client address and minute: a year's query costs the app tens of milliseconds. */
export const HISTORY_QUERIES_PER_MINUTE = 120;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const UNIT_MS: Record<string, number> = { s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };

/** A time parameter: ISO 8601 or milliseconds since the epoch. */
export function parseTime(name: string, raw: unknown, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (typeof raw !== "string") throw new ApiError(400, `${name} must be given once`);
  const t = /^\d{1,15}$/.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(t))
    throw new ApiError(400, `${name} must be an ISO 8601 time (2026-11-01T12:00:00Z) or milliseconds since 1970`);
  return t;
}

/** A step parameter: seconds, or a number with s/m/h/d. */
export function parseStep(raw: unknown): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string") throw new ApiError(400, "step must be given once");
  const m = /^(\d{1,7})([smhd]?)$/.exec(raw);
  if (!m) throw new ApiError(400, "step must be seconds or a duration like 30s, 5m, 1h, 1d");
  return Number(m[1]) * (UNIT_MS[m[2] || "s"] as number);
}

function printable(s: string): string {
  return s.slice(0, 40).replace(/[^\x20-\x7e]/g, "?");
}

export function historyRoutes(opts: {
  store: DeviceStore;
  history: HistoryStore | undefined;
  requireSession: (req: Request, res: Response, next: NextFunction) => void;
}): express.Router {
  const now = () => opts.history?.time() ?? Date.now();
  const r = express.Router();
  const limiter = rateLimit({
    windowMs: MINUTE_MS,
    limit: HISTORY_QUERIES_PER_MINUTE,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    handler: (_req, res) => {
      res.status(429).json({ error: "too many history queries; wait a minute" });
    },
  });
  const device = (req: Request) => {
    const id = String(req.params.id);
    const d = isDeviceId(id) ? opts.store.get(id) : undefined;
    if (!d) throw new ApiError(404, `no device "${printable(id)}"`);
    if (!opts.history) throw new ApiError(404, "no history is kept (the web config has no history)");
    return { d, history: opts.history };
  };

  r.get("/devices/:id/sensors/:name/history", opts.requireSession, limiter, (req, res) => {
    const { d, history } = device(req);
    const name = String(req.params.name);
    if (!isIoName(name) || !d.sensors.some((s) => s.name === name))
      throw new ApiError(404, `device "${d.id}" has no sensor "${printable(name)}"`);
    const to = parseTime("to", req.query.to, now());
    const from = parseTime("from", req.query.from, to - HOUR_MS);
    const stepMs = parseStep(req.query.step);
    const result = history.query(d.id, name, { from, to, ...(stepMs === undefined ? {} : { stepMs }) });
    if (!result.ok) throw new ApiError(400, result.error);
    const a = result.answer;
    res.json({
      device: a.device,
      sensor: a.sensor,
      unit: a.unit,
      source: a.source,
      from: new Date(a.from).toISOString(),
      to: new Date(a.to).toISOString(),
      step: a.step / SECOND_MS,
      points: { t: a.t, min: a.min, avg: a.avg, max: a.max, count: a.count },
    });
  });

  r.get("/devices/:id/events", opts.requireSession, limiter, (req, res) => {
    const { d, history } = device(req);
    const to = parseTime("to", req.query.to, now());
    const from = parseTime("from", req.query.from, to - DAY_MS);
    if (from >= to) throw new ApiError(400, "from must be before to");
    const rawLimit = req.query.limit;
    let limit = DEFAULT_EVENTS;
    if (rawLimit !== undefined) {
      if (typeof rawLimit !== "string" || !/^\d{1,5}$/.test(rawLimit) || Number(rawLimit) < 1)
        throw new ApiError(400, `limit must be a whole number from 1 to ${MAX_EVENTS}`);
      limit = Math.min(Number(rawLimit), MAX_EVENTS);
    }
    res.json({ device: d.id, events: history.events(d.id, { from, to, limit }) });
  });
  return r;
}
