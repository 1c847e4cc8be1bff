// The history store on a real database file (node-sqlite3-wasm): what is committed is there after a
// reopen, its SQL aggregates equal the pure downsampling, retention deletes and shrinks the file,
// and floods, a full database and a crashed owner's lock are handled without throwing.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { AGGREGATE_STEP_MS, DAY_MS, HOUR_MS, MINUTE_MS, downsample, rollUp } from "../../apps/web/history/downsample";
import { HistoryStore, type HistoryOptions } from "../../apps/web/history/store";
import { claimDatabase, identityOf, ownerAlive, parseProcStatStart, type ProcView } from "../../apps/web/history/owner";
import { memoryLogger, silentLogger } from "../../apps/web/log";

const root = mkdtempSync(join(tmpdir(), "diy-history-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(root, String(n++), "history.db");

const T0 = Date.UTC(2026, 10, 1, 12);

function open(file: string, clock: { now: number }, extra: Partial<HistoryOptions> = {}): HistoryStore {
  return HistoryStore.open({
    file,
    retention: { rawDays: 7, aggregateDays: 365 },
    maxBytes: 64 * 1024 * 1024,
    log: silentLogger,
    now: () => clock.now,
    ...extra,
  });
}

const iso = (t: number) => new Date(t).toISOString();

describe("history store", () => {
  it("keeps committed readings and events in the file across a close and reopen", () => {
    const file = freshFile();
    const clock = { now: T0 };
    const a = open(file, clock);
    for (let i = 0; i < 10; i++) {
      clock.now = T0 + i * 10_000;
      assert.deepEqual(
        a.recordReading({
          device: "pi1",
          sensor: "cpu",
          value: 40 + i,
          unit: "°C",
          at: iso(clock.now),
          retained: false,
        }),
        { ok: true },
      );
    }
    assert.deepEqual(a.recordEvent({ device: "pi1", input: "button", value: "pressed", at: iso(clock.now) }), {
      ok: true,
    });
    a.flush();
    a.close();
    assert.ok(statSync(file).size > 0);
    assert.equal(existsSync(`${file}.lock`), false, "closing releases the VFS lock directory");

    const b = open(file, clock);
    const r = b.query("pi1", "cpu", { from: T0 - MINUTE_MS, to: T0 + 2 * MINUTE_MS, stepMs: 10_000 });
    assert.ok(r.ok);
    assert.equal(r.answer.unit, "°C");
    assert.equal(r.answer.source, "raw");
    assert.deepEqual(r.answer.avg, [40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
    assert.deepEqual(b.events("pi1", { from: 0, to: clock.now, limit: 10 }), [
      { t: T0 + 90_000, input: "button", value: "pressed" },
    ]);
    // The broker hands the retained last reading to the restarted app: it is the same reading.
    const replay = b.recordReading({
      device: "pi1",
      sensor: "cpu",
      value: 49,
      unit: "°C",
      at: iso(T0 + 90_000),
      retained: true,
    });
    assert.equal(replay.ok, false);
    b.flush();
    const agg = b.query("pi1", "cpu", { from: T0 - HOUR_MS, to: T0 + HOUR_MS, stepMs: HOUR_MS });
    assert.ok(agg.ok);
    assert.deepEqual(agg.answer.count, [10], "the replayed reading is not counted twice");
    b.close();
  });

  it("answers with the same min/avg/max as the pure downsampling, from raw rows and from aggregates", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: (6 * DAY_MS) / 1000 }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 200, maxLength: 200 }),
        (seconds, values) => {
          const file = freshFile();
          const start = T0 - 6 * DAY_MS;
          const clock = { now: T0 };
          const store = open(file, clock);
          const sorted = [...seconds].sort((x, y) => x - y);
          // SQLite stores -0.0 as 0: the sign of zero is not a reading.
          const rs = sorted.map((s, i) => ({ t: start + s * 1000, value: (values[i] ?? 0) + 0 }));
          // Retained deliveries keep their own (old) times: the way to load a past series.
          for (const r of rs)
            store.recordReading({ device: "d", sensor: "s", value: r.value, unit: "", at: iso(r.t), retained: true });
          store.flush();
          const step = HOUR_MS;
          const rawStep = 2 * MINUTE_MS;
          const rawTo = start + 2 * DAY_MS;
          const fromRaw = store.query("d", "s", { from: start, to: rawTo, stepMs: rawStep });
          const fromAgg = store.query("d", "s", { from: start, to: T0, stepMs: step });
          store.close();
          assert.ok(fromRaw.ok && fromAgg.ok);
          assert.equal(fromRaw.answer.source, "raw");
          assert.equal(fromAgg.answer.source, "aggregate");
          const expectRaw = downsample(
            rs.filter((r) => r.t <= rawTo),
            rawStep,
          );
          const expectAgg = rollUp(downsample(rs, AGGREGATE_STEP_MS), step);
          for (const [got, want] of [
            [fromRaw.answer, expectRaw],
            [fromAgg.answer, expectAgg],
          ] as const) {
            for (const field of ["t", "min", "max", "count"] as const) {
              assert.deepEqual(
                got[field],
                want.map((p) => p[field]),
              );
            }
            got.avg.forEach((a, i) => {
              const w = want[i];
              assert.ok(w && Math.abs(a - w.sum / w.count) < 1e-9);
            });
          }
        },
      ),
      { numRuns: 10 },
    );
  });

  it("deletes raw rows after rawDays and aggregates after aggregateDays, and the file shrinks", () => {
    const file = freshFile();
    const clock = { now: T0 };
    const store = open(file, clock);
    // Ten days of one reading every 10 s.
    const start = T0 - 10 * DAY_MS;
    for (let t = start; t < T0; t += 10_000) {
      clock.now = t;
      store.recordReading({ device: "pi1", sensor: "t", value: Math.sin(t), unit: "", at: iso(t), retained: false });
      if ((t - start) % (10_000 * 10_000) === 0) store.flush();
    }
    store.flush();
    clock.now = T0;
    const before = store.stats();
    assert.equal(before.rawRows, (10 * DAY_MS) / 10_000);
    const pruned = store.prune();
    assert.equal(pruned.raw, (3 * DAY_MS) / 10_000, "the 3 days older than the raw retention");
    assert.equal(pruned.aggregate, 0);
    const after1 = store.stats();
    const size = (s: { bytes: number; walBytes: number }) => s.bytes + s.walBytes;
    assert.ok(size(after1) < size(before) * 0.85, `the files shrank: ${size(before)} -> ${size(after1)} bytes`);
    // A year later only aggregates younger than 365 days remain: none of these.
    clock.now = T0 + 366 * DAY_MS;
    const later = store.prune();
    assert.equal(later.aggregate, (10 * DAY_MS) / AGGREGATE_STEP_MS);
    assert.equal(store.stats().rawRows, 0);
    store.close();
  });

  it("bounds a flood: one raw row a second per series, a capped queue, capped input events", () => {
    const file = freshFile();
    const clock = { now: T0 };
    const log = memoryLogger();
    const store = open(file, clock, { maxPending: 500, maxEventsPerMinute: 5, log });
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      clock.now = T0 + i; // 2,000 readings within 2 seconds
      if (store.recordReading({ device: "pi1", sensor: "t", value: i, unit: "", retained: false }).ok) accepted++;
    }
    assert.equal(accepted, 500, "the queue holds maxPending");
    for (let i = 0; i < 20; i++) store.recordEvent({ device: "pi1", input: "b", value: "pressed" });
    store.flush();
    clock.now += MINUTE_MS;
    store.flush(); // logs the drops, at most once a minute
    const s = store.stats();
    assert.equal(s.rawRows, 1, "500 readings within one second: one raw row");
    assert.equal(s.events, 0, "the queue was full, nothing more fit");
    const agg = store.query("pi1", "t", { from: T0 - HOUR_MS, to: T0 + HOUR_MS, stepMs: AGGREGATE_STEP_MS });
    assert.ok(agg.ok);
    assert.deepEqual(agg.answer.count, [500], "every accepted reading counts in the aggregate");
    for (let i = 0; i < 20; i++) store.recordEvent({ device: "pi1", input: "b", value: "pressed" });
    store.flush();
    assert.equal(store.stats().events, 5, "maxEventsPerMinute");
    const dropLine = log.entries.find((e) => e.event === "history_dropped");
    assert.ok(dropLine, "drops are logged");
    assert.equal((dropLine.counts as Record<string, number>)["write queue full"], 1520);
    const lines = log.entries.filter((e) => e.event === "history_dropped");
    assert.equal(lines.length, 2, "one line a minute, not one per drop");
    assert.deepEqual(lines[1]?.counts, { "input events over the per-minute cap": 15 });
    store.close();
  });

  it("refuses a non-finite value and stops at the size limit with a log line instead of filling the disk", () => {
    const file = freshFile();
    const clock = { now: T0 };
    const log = memoryLogger();
    const store = open(file, clock, { maxBytes: 256 * 1024, log });
    assert.equal(
      store.recordReading({ device: "d", sensor: "s", value: Number.NaN, unit: "", retained: false }).ok,
      false,
    );
    let failed = false;
    for (let batch = 0; batch < 200 && !failed; batch++) {
      for (let i = 0; i < 1000; i++) {
        clock.now += 1000;
        store.recordReading({ device: "d", sensor: `s${batch % 50}`, value: i, unit: "x".repeat(10), retained: false });
      }
      failed = store.flush().dropped > 0;
    }
    assert.ok(failed, "a commit failed once the file reached its limit");
    const line = log.entries.find((e) => e.event === "history_write_failed");
    assert.ok(line);
    assert.match(String(line.fix), /size limit \(262144 bytes\)/);
    assert.ok(statSync(file).size <= 256 * 1024 + 4096);
    // Still usable: queries answer, and the retention pass frees room later.
    assert.ok(store.query("d", "s0", { from: T0, to: clock.now }).ok);
    store.close();
  });
});

describe("history database ownership", () => {
  it("reads the start time from /proc/<pid>/stat even when the command name holds spaces and parentheses", () => {
    const stat = "4242 (node (web) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 11 0 987654 1 2 3";
    assert.equal(parseProcStatStart(stat), "987654");
    assert.equal(parseProcStatStart("garbage"), undefined);
  });

  it("treats an owner as gone after a reboot or when its pid now belongs to a later process", () => {
    const proc = (boot: string, start: string): ProcView => ({
      read: (p) =>
        p.endsWith("boot_id")
          ? `${boot}\n`
          : p.endsWith("/stat")
            ? `7 (node) S ${"0 ".repeat(18)}${start} 0`
            : undefined,
    });
    const owner = identityOf(7, proc("boot-a", "100"));
    assert.deepEqual(owner, { pid: 7, boot: "boot-a", start: "100" });
    assert.equal(ownerAlive(owner, proc("boot-a", "100")), true);
    assert.equal(ownerAlive(owner, proc("boot-b", "100")), false, "rebooted");
    assert.equal(ownerAlive(owner, proc("boot-a", "555")), false, "pid reused");
  });

  it("removes the lock a killed process left (the VFS would say 'database is locked' for ever) and logs it", () => {
    const file = freshFile();
    mkdirSync(`${file}.lock`, { recursive: true });
    writeFileSync(`${file}.owner`, JSON.stringify({ pid: 999_999_99, boot: "x", start: "1" }));
    const log = memoryLogger();
    const store = open(file, { now: T0 }, { log });
    assert.ok(log.entries.some((e) => e.event === "history_stale_lock_removed" && e.previousPid === 99999999));
    assert.ok(store.recordReading({ device: "d", sensor: "s", value: 1, unit: "", retained: false }).ok);
    assert.equal(store.flush().written, 1);
    store.close();
  });

  it("refuses a database that a live process holds, naming it", () => {
    const file = freshFile();
    const store = open(file, { now: T0 });
    store.recordReading({ device: "d", sensor: "s", value: 1, unit: "", retained: false });
    store.flush(); // the VFS takes its lock on the first write
    assert.throws(() => open(file, { now: T0 }), /already open in this process/);
    store.close();
    // Another live process (our parent) recorded as the owner of a held lock.
    const other = freshFile();
    mkdirSync(`${other}.lock`, { recursive: true });
    writeFileSync(`${other}.owner`, JSON.stringify(identityOf(process.ppid)));
    assert.throws(() => claimDatabase(other), new RegExp(`in use by process ${process.ppid}; stop it first`));
    assert.ok(existsSync(`${other}.lock`), "a live owner's lock is left alone");
  });
});
