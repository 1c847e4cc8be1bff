// Sensor readings and input events over time, in the history database (history/database.ts).
// Writes are queued in memory and committed in one transaction a second (SQLite's cost is per
// commit, not per row); the queue, the raw rows per series and the stored events per input are
// capped, so a flooding device costs bounded memory and disk. Every reading also lands in its
// 5-minute aggregate (min/max/sum/count, merged by upsert), which outlives the raw rows.
import { statSync } from "node:fs";
import type { Statement } from "node-sqlite3-wasm";
import type { Logger } from "../log";
import { type OpenedDatabase, openHistoryDatabase } from "./database";
import {
  AGGREGATE_STEP_MS,
  type HistoryQuery,
  type QueryPlan,
  type RetentionPolicy,
  MINUTE_MS,
  acceptReadingTime,
  downsample,
  keepsRawRow,
  planQuery,
  retentionCutoffs,
} from "./downsample";

export interface HistoryOptions {
  /** The database file, e.g. /var/lib/diy-web/history.db. */
  file: string;
  retention: RetentionPolicy;
  /** Largest size of the database file (SQLite's max_page_count). */
  maxBytes: number;
  log: Logger;
  now?: () => number;
  /** How often queued writes are committed. */
  flushIntervalMs?: number;
  /** How often the retention pass runs. */
  pruneIntervalMs?: number;
  /** Readings and events queued between commits at most; more are dropped (and counted). */
  maxPending?: number;
  /** Input events stored per device input and minute at most. */
  maxEventsPerMinute?: number;
}

export const DEFAULT_MAX_PENDING = 20_000;
export const DEFAULT_MAX_EVENTS_PER_MINUTE = 60;
const DROP_LOG_INTERVAL_MS = MINUTE_MS;

export interface ReadingInput {
  device: string;
  sensor: string;
  value: number;
  unit: string;
  /** The reading's ISO time as the device sent it. */
  at?: string;
  /** MQTT retain flag: the broker's stored copy, delivered again on subscribe. */
  retained: boolean;
}

export interface EventInput {
  device: string;
  input: string;
  value: string;
  at?: string;
  retained?: boolean;
}

export type RecordResult = { ok: true } | { ok: false; reason: string };

/** A history answer: parallel arrays (what a chart library takes), one entry per bucket. */
export interface SeriesAnswer {
  device: string;
  sensor: string;
  unit: string;
  source: QueryPlan["source"];
  from: number;
  to: number;
  step: number;
  t: number[];
  min: number[];
  avg: number[];
  max: number[];
  count: number[];
}

export interface StoredEvent {
  t: number;
  input: string;
  value: string;
}

interface SeriesState {
  id: number | undefined;
  lastAt: number | undefined;
  lastRawAt: number | undefined;
  unit: string;
}

interface PendingReading {
  key: string;
  t: number;
  value: number;
  raw: boolean;
}

interface PendingEvent {
  device: string;
  input: string;
  t: number;
  value: string;
}

const key = (device: string, sensor: string) => `${device}\u0000${sensor}`;

export class HistoryStore {
  private readonly opened: OpenedDatabase;
  private readonly now: () => number;
  private readonly series = new Map<string, SeriesState>();
  private pendingReadings: PendingReading[] = [];
  private pendingEvents: PendingEvent[] = [];
  private readonly eventWindows = new Map<string, { minute: number; count: number }>();
  private readonly dropped = new Map<string, number>();
  private droppedTotal = 0;
  private lastDropLog = 0;
  private readonly stmts: Record<
    "seriesGet" | "seriesInsert" | "seriesUpdate" | "rawInsert" | "aggUpsert" | "eventInsert",
    Statement
  >;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(private readonly opts: HistoryOptions) {
    this.now = opts.now ?? Date.now;
    this.opened = openHistoryDatabase(opts.file, { maxBytes: opts.maxBytes });
    if (this.opened.claim.staleOwner) {
      const owner = this.opened.claim.staleOwner;
      opts.log.warn("history_stale_lock_removed", {
        file: opts.file,
        previousPid: owner === "unknown" ? null : owner.pid,
      });
    }
    const db = this.opened.db;
    this.stmts = {
      seriesGet: db.prepare("SELECT id, unit, last_t, last_raw_t FROM series WHERE device = ? AND sensor = ?"),
      seriesInsert: db.prepare("INSERT INTO series (device, sensor, unit) VALUES (?, ?, ?)"),
      seriesUpdate: db.prepare("UPDATE series SET unit = ?, last_t = ?, last_raw_t = ? WHERE id = ?"),
      rawInsert: db.prepare("INSERT OR IGNORE INTO raw (series, t, v) VALUES (?, ?, ?)"),
      // mergeAggregates (history/downsample.ts) in SQL.
      aggUpsert: db.prepare(
        `INSERT INTO agg5m (series, t, min, max, sum, n) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (series, t) DO UPDATE SET
           min = min(agg5m.min, excluded.min), max = max(agg5m.max, excluded.max),
           sum = agg5m.sum + excluded.sum, n = agg5m.n + excluded.n`,
      ),
      eventInsert: db.prepare("INSERT INTO events (device, input, t, value) VALUES (?, ?, ?, ?)"),
    };
  }

  /** Opens the database (claiming it, replaying a crashed run's WAL) and runs a first retention pass. */
  static open(opts: HistoryOptions): HistoryStore {
    const store = new HistoryStore(opts);
    store.prune();
    return store;
  }

  /** Starts the commit and retention timers (tests call flush()/prune() themselves instead). */
  start(): this {
    const flushEvery = this.opts.flushIntervalMs ?? 1000;
    const pruneEvery = this.opts.pruneIntervalMs ?? 60 * MINUTE_MS;
    this.timers.push(setInterval(() => this.flushSafely(), flushEvery).unref());
    this.timers.push(setInterval(() => this.pruneSafely(), pruneEvery).unref());
    return this;
  }

  get file(): string {
    return this.opts.file;
  }

  /** The store's clock (ms): what "now" means for retention and for default query ranges. */
  time(): number {
    return this.now();
  }

  private drop(reason: string, n = 1): RecordResult {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
    this.droppedTotal += n;
    return { ok: false, reason };
  }

  private pendingCount(): number {
    return this.pendingReadings.length + this.pendingEvents.length;
  }

  private state(device: string, sensor: string): SeriesState {
    const k = key(device, sensor);
    let s = this.series.get(k);
    if (!s) {
      const row = this.stmts.seriesGet.get([device, sensor]);
      s = row
        ? {
            id: Number(row.id),
            unit: String(row.unit),
            lastAt: row.last_t === null ? undefined : Number(row.last_t),
            lastRawAt: row.last_raw_t === null ? undefined : Number(row.last_raw_t),
          }
        : { id: undefined, unit: "", lastAt: undefined, lastRawAt: undefined };
      this.series.set(k, s);
    }
    return s;
  }

  /** Queues one reading. Refusals (replays, a full queue, a bad value) are counted, never thrown. */
  recordReading(r: ReadingInput): RecordResult {
    if (this.closed) return { ok: false, reason: "history is closed" };
    if (!Number.isFinite(r.value)) return this.drop("value is not a finite number");
    if (this.pendingCount() >= (this.opts.maxPending ?? DEFAULT_MAX_PENDING)) return this.drop("write queue full");
    const s = this.state(r.device, r.sensor);
    const now = this.now();
    const parsed = r.at === undefined ? undefined : Date.parse(r.at);
    const accepted = acceptReadingTime({
      at: Number.isNaN(parsed) ? undefined : parsed,
      now,
      lastAt: s.lastAt,
      retained: r.retained,
      oldest: retentionCutoffs(now, this.opts.retention).raw,
    });
    if (!accepted.ok) return this.drop(accepted.reason);
    const raw = keepsRawRow(accepted.t, s.lastRawAt);
    s.lastAt = accepted.t;
    if (raw) s.lastRawAt = accepted.t;
    s.unit = r.unit;
    this.pendingReadings.push({ key: key(r.device, r.sensor), t: accepted.t, value: r.value, raw });
    return { ok: true };
  }

  /** Queues one input event; at most maxEventsPerMinute per device input are kept. */
  recordEvent(e: EventInput): RecordResult {
    if (this.closed) return { ok: false, reason: "history is closed" };
    if (e.retained) return this.drop("retained input event (a replay)");
    if (this.pendingCount() >= (this.opts.maxPending ?? DEFAULT_MAX_PENDING)) return this.drop("write queue full");
    const now = this.now();
    const minute = Math.floor(now / MINUTE_MS);
    const wk = key(e.device, e.input);
    const w = this.eventWindows.get(wk);
    if (!w || w.minute !== minute) this.eventWindows.set(wk, { minute, count: 1 });
    else if (w.count >= (this.opts.maxEventsPerMinute ?? DEFAULT_MAX_EVENTS_PER_MINUTE))
      return this.drop("input events over the per-minute cap");
    else w.count++;
    const parsed = e.at === undefined ? Number.NaN : Date.parse(e.at);
    const t = acceptReadingTime({
      at: Number.isNaN(parsed) ? undefined : parsed,
      now,
      lastAt: undefined,
      retained: false,
      oldest: 0,
    });
    this.pendingEvents.push({ device: e.device, input: e.input, t: t.ok ? t.t : now, value: e.value });
    return { ok: true };
  }

  /**
   * Commits everything queued in one transaction. A failed commit (the file reached maxBytes, a disk
   * error) drops that batch with one log line; the app keeps running.
   */
  flush(): { written: number; dropped: number } {
    if (this.closed) return { written: 0, dropped: 0 };
    const readings = this.pendingReadings;
    const events = this.pendingEvents;
    this.pendingReadings = [];
    this.pendingEvents = [];
    this.logDrops();
    if (readings.length === 0 && events.length === 0) return { written: 0, dropped: 0 };
    const db = this.opened.db;
    const s = this.stmts;
    try {
      db.exec("BEGIN");
      const touched = new Map<string, SeriesState>();
      const byKey = new Map<string, PendingReading[]>();
      for (const r of readings) {
        const list = byKey.get(r.key);
        if (list) list.push(r);
        else byKey.set(r.key, [r]);
      }
      for (const [k, list] of byKey) {
        const st = this.series.get(k);
        if (!st) continue;
        if (st.id === undefined) {
          const [device, sensor] = k.split("\u0000") as [string, string];
          st.id = Number(s.seriesInsert.run([device, sensor, st.unit]).lastInsertRowid);
        }
        for (const r of list) if (r.raw) s.rawInsert.run([st.id, r.t, r.value]);
        for (const a of downsample(list, AGGREGATE_STEP_MS))
          s.aggUpsert.run([st.id, a.t, a.min, a.max, a.sum, a.count]);
        touched.set(k, st);
      }
      for (const st of touched.values())
        s.seriesUpdate.run([st.unit, st.lastAt ?? null, st.lastRawAt ?? null, st.id ?? null]);
      for (const e of events) s.eventInsert.run([e.device, e.input, e.t, e.value]);
      db.exec("COMMIT");
      return { written: readings.length + events.length, dropped: 0 };
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      // The in-memory series state may now be ahead of the file: read it again on the next reading.
      this.series.clear();
      const n = readings.length + events.length;
      this.drop("database write failed", n);
      const full = /full/i.test((err as Error).message);
      this.opts.log.error("history_write_failed", {
        error: (err as Error).message,
        dropped: n,
        ...(full
          ? {
              fix: `the history reached its size limit (${this.opts.maxBytes} bytes): raise it or shorten the retention`,
            }
          : {}),
      });
      return { written: 0, dropped: n };
    }
  }

  private flushSafely(): void {
    try {
      this.flush();
    } catch (err) {
      this.opts.log.error("history_flush_failed", { error: (err as Error).message });
    }
  }

  private pruneSafely(): void {
    try {
      this.prune();
    } catch (err) {
      this.opts.log.error("history_prune_failed", { error: (err as Error).message });
    }
  }

  private logDrops(): void {
    if (this.dropped.size === 0) return;
    const now = this.now();
    if (now - this.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    this.lastDropLog = now;
    this.opts.log.warn("history_dropped", { counts: Object.fromEntries(this.dropped) });
    this.dropped.clear();
  }

  /** Deletes rows older than the retention and gives freed pages back to the file system. */
  prune(): { raw: number; aggregate: number; events: number } {
    if (this.closed) return { raw: 0, aggregate: 0, events: 0 };
    const cut = retentionCutoffs(this.now(), this.opts.retention);
    const db = this.opened.db;
    db.exec("BEGIN");
    let raw = 0;
    let aggregate = 0;
    let events = 0;
    try {
      // Per series, so each delete walks the primary key instead of the whole table.
      for (const row of db.all("SELECT id FROM series")) {
        raw += db.run("DELETE FROM raw WHERE series = ? AND t < ?", [Number(row.id), cut.raw]).changes;
        aggregate += db.run("DELETE FROM agg5m WHERE series = ? AND t < ?", [Number(row.id), cut.aggregate]).changes;
      }
      events = db.run("DELETE FROM events WHERE t < ?", [cut.raw]).changes;
      db.exec("COMMIT");
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw err;
    }
    if (raw + aggregate + events > 0) {
      db.all("PRAGMA incremental_vacuum");
      // Move the shrunk pages into the file and empty the WAL, so the disk space is really returned.
      db.all("PRAGMA wal_checkpoint(TRUNCATE)");
      this.opts.log.info("history_pruned", { raw, aggregate, events });
    }
    return { raw, aggregate, events };
  }

  /** Min/avg/max per step of one sensor, or why the query cannot be answered. */
  query(
    device: string,
    sensor: string,
    q: HistoryQuery,
  ): { ok: true; answer: SeriesAnswer } | { ok: false; error: string } {
    const plan = planQuery(q, this.now(), this.opts.retention);
    if (!plan.ok) return plan;
    const st = this.state(device, sensor);
    const answer: SeriesAnswer = {
      device,
      sensor,
      unit: st.unit,
      source: plan.source,
      from: plan.from,
      to: plan.to,
      step: plan.stepMs,
      t: [],
      min: [],
      avg: [],
      max: [],
      count: [],
    };
    if (st.id === undefined) return { ok: true, answer };
    const sql =
      plan.source === "raw"
        ? `SELECT (t / ?1) * ?1 AS b, min(v) AS lo, max(v) AS hi, sum(v) AS total, count(*) AS n
           FROM raw WHERE series = ?2 AND t >= ?3 AND t <= ?4 GROUP BY b ORDER BY b`
        : `SELECT (t / ?1) * ?1 AS b, min(min) AS lo, max(max) AS hi, sum(sum) AS total, sum(n) AS n
           FROM agg5m WHERE series = ?2 AND t >= ?3 AND t <= ?4 GROUP BY b ORDER BY b`;
    // Aggregate rows are keyed by their bucket's start: include the bucket that holds `from`.
    const from = plan.source === "raw" ? plan.from : Math.floor(plan.from / AGGREGATE_STEP_MS) * AGGREGATE_STEP_MS;
    for (const row of this.opened.db.all(sql, [plan.stepMs, st.id, from, plan.to])) {
      const n = Number(row.n);
      answer.t.push(Number(row.b));
      answer.min.push(Number(row.lo));
      answer.max.push(Number(row.hi));
      answer.avg.push(Number(row.total) / n);
      answer.count.push(n);
    }
    return { ok: true, answer };
  }

  /** Input events of one device, newest first. */
  events(device: string, q: { from: number; to: number; limit: number }): StoredEvent[] {
    return this.opened.db
      .all("SELECT t, input, value FROM events WHERE device = ? AND t >= ? AND t <= ? ORDER BY t DESC LIMIT ?", [
        device,
        q.from,
        q.to,
        q.limit,
      ])
      .map((r) => ({ t: Number(r.t), input: String(r.input), value: String(r.value) }));
  }

  /** Sizes for tests, the benchmark and the log: file bytes (database + WAL) and row counts. */
  stats(): {
    bytes: number;
    walBytes: number;
    rawRows: number;
    aggregateRows: number;
    events: number;
    dropped: number;
  } {
    const db = this.opened.db;
    const count = (table: string) => Number(db.get(`SELECT count(*) AS n FROM ${table}`)?.n ?? 0);
    let walBytes = 0;
    try {
      walBytes = statSync(`${this.opts.file}-wal`).size;
    } catch {
      // no WAL right now
    }
    return {
      bytes: statSync(this.opts.file).size,
      walBytes,
      rawRows: count("raw"),
      aggregateRows: count("agg5m"),
      events: count("events"),
      dropped: this.droppedTotal,
    };
  }

  /** Commits what is queued, checkpoints the WAL into the database and closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.flushSafely();
    this.closed = true;
    for (const st of Object.values(this.stmts)) {
      try {
        st.finalize();
      } catch {
        // finalize reports the statement's last error (e.g. SQLITE_FULL), already logged by flush
      }
    }
    try {
      this.opened.db.all("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (err) {
      this.opts.log.warn("history_checkpoint_failed", { error: (err as Error).message });
    }
    this.opened.close();
  }
}
