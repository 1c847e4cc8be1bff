// History store benchmark: readings stored per second by the web app's store (node-sqlite3-wasm, commits
// of 1,000 readings as the app commits once a second under load), the time to answer a year of 1-minute
// data, and the database size per sensor-year; each beside native SQLite (Debian's sqlite3 CLI) doing the
// same inserts and the same query on the same schema in the same run.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS, MINUTE_MS } from "../apps/web/history/downsample";
import { HistoryStore } from "../apps/web/history/store";
import { silentLogger } from "../apps/web/log";
import { fmt, report } from "./lib/report";

const dir = mkdtempSync(join(tmpdir(), "diy-bench-history-"));
const BATCH = 1000;

function sqlite3(file: string, sql: string): number {
  const started = process.hrtime.bigint();
  const r = spawnSync("sqlite3", [file], { input: sql, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

try {
  // 1. Throughput: 200,000 live readings, 10 sensors, one a second each, committed 1,000 at a time.
  const N = 200_000;
  let now = Date.now() - 3 * DAY_MS;
  const store = HistoryStore.open({
    file: join(dir, "throughput.db"),
    retention: { rawDays: 7, aggregateDays: 365 },
    maxBytes: 4 * 1024 ** 3,
    log: silentLogger,
    now: () => now,
  });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    if (i % 10 === 0) now += 1000;
    store.recordReading({
      device: "pi1",
      sensor: `s${i % 10}`,
      value: Math.sin(i / 100) * 10 + 20,
      unit: "°C",
      retained: false,
    });
    if ((i + 1) % BATCH === 0) store.flush();
  }
  store.flush();
  const storeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  store.close();

  // Native: the same rows into the same tables (raw insert + aggregate upsert), same pragmas, same batches.
  const nativeFile = join(dir, "native.db");
  const lines = [
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    "CREATE TABLE raw (series INTEGER NOT NULL, t INTEGER NOT NULL, v REAL NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;",
    "CREATE TABLE agg5m (series INTEGER NOT NULL, t INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;",
  ];
  let t = Date.now() - 3 * DAY_MS;
  for (let i = 0; i < N; i++) {
    if (i % BATCH === 0) lines.push("BEGIN;");
    if (i % 10 === 0) t += 1000;
    const v = Math.sin(i / 100) * 10 + 20;
    const s = i % 10;
    const b = Math.floor(t / 300_000) * 300_000;
    lines.push(
      `INSERT INTO raw VALUES (${s},${t},${v});INSERT INTO agg5m VALUES (${s},${b},${v},${v},${v},1) ON CONFLICT (series,t) DO UPDATE SET min=min(agg5m.min,excluded.min),max=max(agg5m.max,excluded.max),sum=agg5m.sum+excluded.sum,n=agg5m.n+1;`,
    );
    if ((i + 1) % BATCH === 0) lines.push("COMMIT;");
  }
  const script = join(dir, "native.sql");
  writeFileSync(script, lines.join("\n"));
  const startup = sqlite3(join(dir, "empty.db"), "SELECT 1;");
  const nativeMs = sqlite3(nativeFile, `.read ${script}\n`) - startup;

  // 2. A year of 1-minute readings of one sensor (raw kept 7 days), then the year's chart: one point a day.
  const yearFile = join(dir, "year.db");
  const end = Date.now();
  now = end - 365 * DAY_MS;
  const year = HistoryStore.open({
    file: yearFile,
    retention: { rawDays: 7, aggregateDays: 365 },
    maxBytes: 4 * 1024 ** 3,
    log: silentLogger,
    now: () => now,
  });
  let n = 0;
  for (; now < end; now += MINUTE_MS) {
    year.recordReading({
      device: "pi1",
      sensor: "cpu",
      value: 40 + 10 * Math.sin(now / DAY_MS),
      unit: "°C",
      retained: false,
    });
    if (++n % BATCH === 0) {
      year.flush();
      if (n % (BATCH * 100) === 0) year.prune();
    }
  }
  year.flush();
  year.prune();
  const queries: number[] = [];
  let points = 0;
  for (let i = 0; i < 5; i++) {
    const q0 = process.hrtime.bigint();
    const r = year.query("pi1", "cpu", { from: end - 365 * DAY_MS, to: end, stepMs: DAY_MS });
    queries.push(Number(process.hrtime.bigint() - q0) / 1e6);
    if (r.ok) points = r.answer.t.length;
  }
  const weekQ0 = process.hrtime.bigint();
  const week = year.query("pi1", "cpu", { from: end - 7 * DAY_MS, to: end, stepMs: 10 * MINUTE_MS });
  const weekMs = Number(process.hrtime.bigint() - weekQ0) / 1e6;
  const stats = year.stats();
  year.close();
  const bytes = statSync(yearFile).size;
  // The same query by native SQLite on a copy of the same file.
  const copy = join(dir, "year-copy.db");
  copyFileSync(yearFile, copy);
  const sql = `SELECT (t / ${DAY_MS}) * ${DAY_MS} AS b, min(min), max(max), sum(sum), sum(n) FROM agg5m WHERE series = 1 AND t >= ${end - 365 * DAY_MS} AND t <= ${end} GROUP BY b ORDER BY b;`;
  const nativeQ = [...Array(5)].map(() => sqlite3(copy, sql) - startup).sort((a, b) => a - b);
  queries.sort((a, b) => a - b);

  report("history store", [
    {
      title: "History store (apps/web/history, node-sqlite3-wasm) against native SQLite (sqlite3 CLI), same run",
      columns: ["figure", "history store", "native SQLite", "ratio"],
      rows: [
        [
          `readings stored per second (${N.toLocaleString("en")} readings, 10 sensors, commits of ${BATCH}; native: the same raw insert + aggregate upsert per reading as SQL text)`,
          Math.round(N / (storeMs / 1000)),
          Math.round(N / (nativeMs / 1000)),
          `${fmt(nativeMs / storeMs)}×`,
        ],
        [
          `year of 1-minute data (${n.toLocaleString("en")} readings) as ${points} daily points, median of 5`,
          `${fmt(queries[2] ?? Number.NaN)} ms`,
          `${fmt(nativeQ[2] ?? Number.NaN)} ms`,
          `${fmt((queries[2] ?? 0) / (nativeQ[2] ?? 1))}×`,
        ],
        [
          `last week at 10-minute steps (${week.ok ? week.answer.t.length : 0} points, ${week.ok ? week.answer.source : "-"})`,
          `${fmt(weekMs)} ms`,
          "—",
          "—",
        ],
        [
          "database size per sensor-year (raw 7 days + 5-minute aggregates for a year)",
          `${fmt(bytes / 2 ** 20)} MiB (${stats.rawRows.toLocaleString("en")} raw rows, ${stats.aggregateRows.toLocaleString("en")} aggregates)`,
          "—",
          "—",
        ],
      ],
      notes: [
        `native SQLite timed as the sqlite3 process's wall time minus its start-up (${fmt(startup)} ms, measured in the same run)`,
        "a device-year with the demo's two sensors is twice the sensor-year; input events add ~30 bytes each",
      ],
    },
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
