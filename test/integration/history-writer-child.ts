// Child process of history-crash.test.ts: writes readings into the history as the web app does (a
// commit a tick) and prints the number committed after each commit, until it is killed.
import { HistoryStore } from "../../apps/web/history/store";
import { silentLogger } from "../../apps/web/log";

const file = process.argv[2];
if (!file) throw new Error("usage: history-writer-child.ts <database file>");
// One reading a second of simulated time, starting 5 days ago: the test's own clock comes after it.
let now = Date.now() - 5 * 24 * 3600 * 1000;
const store = HistoryStore.open({
  file,
  retention: { rawDays: 7, aggregateDays: 365 },
  maxBytes: 512 * 1024 * 1024,
  log: silentLogger,
  now: () => now,
});
let committed = 0;
const tick = () => {
  for (let i = 0; i < 500; i++) {
    now += 1000;
    store.recordReading({ device: "pi1", sensor: "t", value: i, unit: "°C", retained: false });
  }
  committed += store.flush().written;
  process.stdout.write(`${committed}\n`);
  setImmediate(tick);
};
tick();
