// The history database after its writer is killed mid-stream (SIGKILL: no close, no checkpoint, the VFS
// lock directory left behind), checked by the native sqlite3 as well as by the web app's own store.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { HistoryStore } from "../../apps/web/history/store";
import { memoryLogger } from "../../apps/web/log";

const dir = mkdtempSync(join(tmpdir(), "diy-history-crash-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("history database crash safety", () => {
  it("keeps every committed reading after its writer is killed, and the next start takes over the database", async (t) => {
    const file = join(dir, "history.db");
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "history-writer-child.ts"), file], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    t.after(() => child.kill("SIGKILL"));
    let lastCommitted = 0;
    let buffered = "";
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, signal) => r(signal)));
    await new Promise<void>((resolve, reject) => {
      child.once("exit", () => reject(new Error("the writer exited before it was killed")));
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const l of lines) lastCommitted = Number(l);
        // Enough commits that the WAL has been checkpointed at least once and holds more.
        if (lastCommitted >= 100_000) resolve();
      });
    });
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");
    assert.ok(existsSync(`${file}.lock`), "the killed writer left the VFS lock behind");
    assert.ok(existsSync(`${file}-wal`), "and its WAL");

    // The web app starting next removes the dead owner's lock, replays the WAL and goes on writing.
    const log = memoryLogger();
    const store = HistoryStore.open({
      file,
      retention: { rawDays: 7, aggregateDays: 365 },
      maxBytes: 512 * 1024 * 1024,
      log,
    });
    assert.ok(log.entries.some((e) => e.event === "history_stale_lock_removed"));
    const s = store.stats();
    assert.ok(s.rawRows >= lastCommitted, `${s.rawRows} rows stored, ${lastCommitted} reported committed`);
    assert.ok(store.recordReading({ device: "pi1", sensor: "t", value: 1, unit: "°C", retained: false }).ok);
    assert.equal(store.flush().written, 1);
    store.close();

    const check = spawnSync("sqlite3", [file, "PRAGMA integrity_check; SELECT count(*) FROM raw;"], {
      encoding: "utf8",
    });
    assert.equal(check.status, 0, check.stderr);
    const [integrity, rows] = check.stdout.trim().split("\n");
    assert.equal(integrity, "ok");
    assert.ok(Number(rows) >= lastCommitted + 1, `${rows} rows, ${lastCommitted} committed + 1`);
  });
});
