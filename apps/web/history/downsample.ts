// The history's arithmetic, pure: bucketing readings into min/avg/max aggregates, merging partial
// aggregates (what the database's upsert does, so a bucket written in several flushes equals one
// written at once), accepting or refusing a reading's timestamp, and planning a history query
// (which table, which step, how many points). The store (history/store.ts) and its SQL follow these
// functions; test/unit/history-downsample.test.ts checks them with properties.

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** Resolution of the long-term table: one min/max/sum/count row per series and 5 minutes. */
export const AGGREGATE_STEP_MS = 5 * MINUTE_MS;

/** At most one raw row per series and second; faster readings still count in the aggregates. */
export const RAW_MIN_INTERVAL_MS = SECOND_MS;

/** Most points one history answer may hold (a chart is a few hundred pixels wide). */
export const MAX_POINTS = 2000;
/** Points aimed at when the caller gives no step. */
export const DEFAULT_POINTS = 400;

/** Steps the planner picks from when none is given: round numbers a person reads on an axis. */
export const STEP_LADDER_MS: readonly number[] = [
  SECOND_MS,
  5 * SECOND_MS,
  10 * SECOND_MS,
  30 * SECOND_MS,
  MINUTE_MS,
  5 * MINUTE_MS,
  15 * MINUTE_MS,
  30 * MINUTE_MS,
  HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
  DAY_MS,
  7 * DAY_MS,
];

export interface RetentionPolicy {
  /** Days raw readings and input events are kept. */
  rawDays: number;
  /** Days the 5-minute aggregates are kept. */
  aggregateDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { rawDays: 7, aggregateDays: 365 };

export interface Aggregate {
  min: number;
  max: number;
  /** Sum of the values: avg = sum / count, and sums of parts add up. */
  sum: number;
  count: number;
}

export interface Reading {
  /** Milliseconds since the epoch. */
  t: number;
  value: number;
}

export interface AggregatePoint extends Aggregate {
  /** Start of the bucket, milliseconds since the epoch. */
  t: number;
}

/** Start of the step-long bucket holding t (buckets are aligned to the epoch, so to UTC midnight for days). */
export function bucketStart(t: number, stepMs: number): number {
  if (!Number.isInteger(stepMs) || stepMs <= 0)
    throw new Error(`step must be a positive whole number of ms, got ${stepMs}`);
  return Math.floor(t / stepMs) * stepMs;
}

export function aggregateOf(values: readonly number[]): Aggregate {
  if (values.length === 0) throw new Error("an aggregate needs at least one value");
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, sum, count: values.length };
}

/** Two partial aggregates of one bucket as one: what the store's ON CONFLICT upsert computes. */
export function mergeAggregates(a: Aggregate, b: Aggregate): Aggregate {
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), sum: a.sum + b.sum, count: a.count + b.count };
}

export function average(a: Aggregate): number {
  return a.sum / a.count;
}

/** Readings into step-long buckets, sorted by time. */
export function downsample(readings: readonly Reading[], stepMs: number): AggregatePoint[] {
  const buckets = new Map<number, Aggregate>();
  for (const r of readings) {
    const t = bucketStart(r.t, stepMs);
    const one: Aggregate = { min: r.value, max: r.value, sum: r.value, count: 1 };
    const had = buckets.get(t);
    buckets.set(t, had ? mergeAggregates(had, one) : one);
  }
  return [...buckets.entries()].sort(([a], [b]) => a - b).map(([t, agg]) => ({ t, ...agg }));
}

/** Fine aggregates (e.g. 5-minute rows) into coarser buckets; stepMs must be a multiple of their step. */
export function rollUp(points: readonly AggregatePoint[], stepMs: number): AggregatePoint[] {
  const buckets = new Map<number, Aggregate>();
  for (const p of points) {
    const t = bucketStart(p.t, stepMs);
    const had = buckets.get(t);
    const part: Aggregate = { min: p.min, max: p.max, sum: p.sum, count: p.count };
    buckets.set(t, had ? mergeAggregates(had, part) : part);
  }
  return [...buckets.entries()].sort(([a], [b]) => a - b).map(([t, agg]) => ({ t, ...agg }));
}

export type Acceptance = { ok: true; t: number } | { ok: false; reason: string };

/** How far ahead of the server's clock a device's timestamp may be before it is not trusted. */
export const MAX_CLOCK_AHEAD_MS = MINUTE_MS;
/** How far behind the server's clock a live reading's timestamp may be before it is not trusted. */
export const MAX_CLOCK_BEHIND_MS = HOUR_MS;

/**
 * Decides the time a reading is stored at, or refuses it.
 * - A live reading carries the device's clock, and a board without a real-time clock reports 1970 (or
 *   any time) until NTP has synced: a timestamp more than a minute ahead or an hour behind the
 *   server is replaced by the receive time. Ahead would block every later reading; far behind would
 *   land outside the retention.
 * - A retained reading is the broker's stored copy, delivered again on every (re)subscribe: it is
 *   stored at its own time only when that is plausible and newer than what the series holds, and
 *   never at the receive time, which would record an old value as current.
 * A reading not after the series' last stored one is a replay and is refused, so nothing counts twice.
 */
export function acceptReadingTime(input: {
  /** The reading's own timestamp (ms), undefined when it did not parse. */
  at: number | undefined;
  /** The server's clock (ms). */
  now: number;
  /** Time of the series' last stored reading, if any. */
  lastAt: number | undefined;
  /** MQTT retain flag of the delivery: the broker's stored copy, not a new reading. */
  retained: boolean;
  /** Readings older than this (ms since epoch) are outside the retention. */
  oldest: number;
}): Acceptance {
  const { at, now, lastAt } = input;
  const plausible = at !== undefined && Number.isFinite(at) && at <= now + MAX_CLOCK_AHEAD_MS;
  let t: number;
  if (input.retained) {
    if (!plausible) return { ok: false, reason: "retained reading with a timestamp in the future or none" };
    t = Math.round(at as number);
    if (t < input.oldest) return { ok: false, reason: "retained reading older than the retention" };
  } else {
    t = plausible && (at as number) >= now - MAX_CLOCK_BEHIND_MS ? Math.round(at as number) : Math.round(now);
  }
  if (lastAt !== undefined && t <= lastAt)
    return { ok: false, reason: "not newer than the last stored reading (a replay)" };
  return { ok: true, t };
}

export interface HistoryQuery {
  /** Milliseconds since the epoch. */
  from: number;
  to: number;
  /** Bucket length in ms; chosen from the range when missing. */
  stepMs?: number;
}

export interface QueryPlan {
  /** raw: the last rawDays of readings; aggregate: the 5-minute table. */
  source: "raw" | "aggregate";
  from: number;
  to: number;
  stepMs: number;
}

export type PlanResult = ({ ok: true } & QueryPlan) | { ok: false; error: string };

function formatMs(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % HOUR_MS === 0) return `${ms / HOUR_MS}h`;
  if (ms % MINUTE_MS === 0) return `${ms / MINUTE_MS}m`;
  return `${ms / SECOND_MS}s`;
}

/** The smallest ladder step that gives at most `points` buckets over span (the largest rung otherwise). */
export function niceStep(spanMs: number, points = DEFAULT_POINTS): number {
  const want = spanMs / points;
  return STEP_LADDER_MS.find((s) => s >= want) ?? (STEP_LADDER_MS[STEP_LADDER_MS.length - 1] as number);
}

/**
 * Plans a history query: validates the range and step and picks the table. Raw readings answer when
 * the step is finer than 5 minutes and the whole range is still within the raw retention; otherwise
 * the 5-minute aggregates answer, with the step rounded up to a whole number of 5 minutes.
 */
export function planQuery(q: HistoryQuery, now: number, policy: RetentionPolicy): PlanResult {
  const { from, to } = q;
  if (!Number.isFinite(from) || !Number.isFinite(to)) return { ok: false, error: "from and to must be times" };
  if (from >= to) return { ok: false, error: "from must be before to" };
  const maxSpan = (policy.aggregateDays + 1) * DAY_MS;
  if (to - from > maxSpan)
    return { ok: false, error: `the range is longer than the history keeps (${policy.aggregateDays} days)` };
  let stepMs = q.stepMs ?? niceStep(to - from);
  if (!Number.isInteger(stepMs) || stepMs < SECOND_MS)
    return { ok: false, error: "step must be a whole number of seconds, at least 1" };
  if (stepMs > to - from) stepMs = Math.max(SECOND_MS, Math.ceil((to - from) / SECOND_MS) * SECOND_MS);
  const rawFrom = now - policy.rawDays * DAY_MS;
  const source: QueryPlan["source"] = stepMs < AGGREGATE_STEP_MS && from >= rawFrom ? "raw" : "aggregate";
  if (source === "aggregate") stepMs = Math.ceil(stepMs / AGGREGATE_STEP_MS) * AGGREGATE_STEP_MS;
  const points = Math.ceil((to - from) / stepMs) + 1;
  if (points > MAX_POINTS) {
    const least = Math.ceil((to - from) / (MAX_POINTS - 1) / SECOND_MS) * SECOND_MS;
    return {
      ok: false,
      error: `step ${formatMs(stepMs)} gives ${points} points for this range, more than ${MAX_POINTS}: use a step of at least ${Math.ceil(least / SECOND_MS)} s`,
    };
  }
  return { ok: true, source, from, to, stepMs };
}

/** Oldest times kept: rows before these are deleted by the retention pass. */
export function retentionCutoffs(now: number, policy: RetentionPolicy): { raw: number; aggregate: number } {
  return { raw: now - policy.rawDays * DAY_MS, aggregate: now - policy.aggregateDays * DAY_MS };
}

/** Whether a reading at t also gets a raw row, given the series' last raw row (at most one a second). */
export function keepsRawRow(t: number, lastRawAt: number | undefined): boolean {
  return lastRawAt === undefined || t - lastRawAt >= RAW_MIN_INTERVAL_MS;
}
