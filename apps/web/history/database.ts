// The history's SQLite database: node-sqlite3-wasm, SQLite compiled to WebAssembly with a VFS on
// Node's fs. It runs on the Node the server's OS ships (18 on Debian 12, 20 on Debian 13) with
// nothing compiled on the server, and infra/bundle.ts inlines its .wasm into web.js.
//
// Durability (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html):
// - The VFS has no shared-memory methods (sqlite3_io_methods version 1), so WAL works only in
//   EXCLUSIVE locking mode, where SQLite keeps the WAL index in heap memory ("WAL without shared
//   memory"); one process (this web app) owns the file anyway (history/owner.ts).
// - synchronous=FULL: the WAL is fsynced at every commit, so a committed batch survives power loss;
//   the store commits once a second, so that is one fsync a second.
// - A crash leaves the WAL beside the database; the next open replays its committed transactions.
// - auto_vacuum=INCREMENTAL (set before the first table): pages freed by the retention pass are
//   given back to the file system, so the file shrinks instead of only growing.
// - max_page_count caps the file: a write past it fails with SQLITE_FULL rather than filling the disk.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Database } from "node-sqlite3-wasm";
import { type ClaimResult, type ProcView, claimDatabase, realProc, releaseDatabase } from "./owner";

export const SCHEMA_VERSION = 1;

/** Page size SQLite uses for new databases (its default since 3.12). */
export const PAGE_SIZE = 4096;
/** WAL kept after a checkpoint at most this size, so it does not stay at its high-water mark. */
export const WAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024;

const SCHEMA_V1 = `
CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  sensor TEXT NOT NULL,
  unit TEXT NOT NULL DEFAULT '',
  -- Time of the last reading stored (raw or aggregate only) and of the last raw row: a retained
  -- reading delivered again after a restart is recognised as a replay (acceptReadingTime).
  last_t INTEGER,
  last_raw_t INTEGER,
  UNIQUE (device, sensor)
);
-- Raw readings, kept rawDays; at most one row per series and second (RAW_MIN_INTERVAL_MS).
CREATE TABLE raw (
  series INTEGER NOT NULL REFERENCES series(id),
  t INTEGER NOT NULL,
  v REAL NOT NULL,
  PRIMARY KEY (series, t)
) WITHOUT ROWID;
-- 5-minute aggregates, kept aggregateDays: avg = sum / n; merged by upsert (mergeAggregates).
CREATE TABLE agg5m (
  series INTEGER NOT NULL REFERENCES series(id),
  t INTEGER NOT NULL,
  min REAL NOT NULL,
  max REAL NOT NULL,
  sum REAL NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (series, t)
) WITHOUT ROWID;
-- Input events (a button), kept rawDays.
CREATE TABLE events (
  device TEXT NOT NULL,
  input TEXT NOT NULL,
  t INTEGER NOT NULL,
  value TEXT NOT NULL
);
CREATE INDEX events_by_device_time ON events (device, t);
CREATE INDEX events_by_time ON events (t);
`;

export interface OpenedDatabase {
  db: Database;
  file: string;
  /** Set when a lock left by a crashed process was removed. */
  claim: ClaimResult;
  close(): void;
}

export interface OpenDatabaseOptions {
  /** Largest size the file may grow to. */
  maxBytes: number;
  proc?: ProcView;
}

function pragma(db: Database, sql: string): unknown {
  const row = db.get(`PRAGMA ${sql}`);
  return row === null ? undefined : Object.values(row)[0];
}

/**
 * Opens (creating when missing) the history database: claims it for this process, sets the pragmas
 * above and brings the schema to SCHEMA_VERSION. Throws with the file's name on any failure.
 */
export function openHistoryDatabase(file: string, opts: OpenDatabaseOptions): OpenedDatabase {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const claim = claimDatabase(file, opts.proc ?? realProc);
  let db: Database;
  try {
    // Required here, not at the top: loading compiles SQLite's WebAssembly (~0.1-0.3 s), which a web app
    // without history never needs.
    const sqlite = require("node-sqlite3-wasm") as typeof import("node-sqlite3-wasm");
    db = new sqlite.Database(file);
  } catch (e) {
    releaseDatabase(file);
    throw new Error(`cannot open history database ${file}: ${(e as Error).message}`);
  }
  try {
    // Must precede the first read or write: the lock is then held for as long as the file is open.
    if (pragma(db, "locking_mode = EXCLUSIVE") !== "exclusive") throw new Error("exclusive locking was refused");
    const fresh = pragma(db, "page_count") === 0;
    if (fresh) {
      pragma(db, `page_size = ${PAGE_SIZE}`);
      pragma(db, "auto_vacuum = INCREMENTAL");
    }
    const mode = pragma(db, "journal_mode = WAL");
    if (mode !== "wal") throw new Error(`journal_mode WAL was refused (got ${String(mode)})`);
    pragma(db, "synchronous = FULL");
    pragma(db, `journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    const pageSize = Number(pragma(db, "page_size"));
    pragma(db, `max_page_count = ${Math.max(16, Math.floor(opts.maxBytes / pageSize))}`);
    migrate(db);
  } catch (e) {
    db.close();
    releaseDatabase(file);
    throw new Error(`cannot open history database ${file}: ${(e as Error).message}`);
  }
  let closed = false;
  return {
    db,
    file,
    claim,
    close() {
      if (closed) return;
      closed = true;
      db.close();
      releaseDatabase(file);
    },
  };
}

function migrate(db: Database): void {
  const version = Number(pragma(db, "user_version"));
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `its schema is version ${version}, newer than this web app knows (${SCHEMA_VERSION}): install the newer web app`,
    );
  }
  db.exec("BEGIN");
  try {
    if (version < 1) db.exec(SCHEMA_V1);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (e) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw e;
  }
}
