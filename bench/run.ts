// npm run bench: every benchmark, one after another, each in its own process with the open-files
// limit raised to the hard limit (what the server's mosquitto LimitNOFILE override does).
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const BENCHES = [
  "click-latency",
  "broker-capacity",
  "device-footprint",
  "program-scaling",
  "connect-storm",
  "history-store",
];
const only = process.argv.slice(2);

let failed = 0;
for (const name of BENCHES) {
  if (only.length > 0 && !only.includes(name)) continue;
  const started = Date.now();
  process.stdout.write(`\n== ${name}\n`);
  const script = join(__dirname, `${name}.ts`);
  const r = spawnSync(
    "bash",
    ["-c", 'ulimit -n "$(ulimit -Hn)" && exec "$0" --import tsx "$1"', process.execPath, script],
    {
      stdio: "inherit",
      env: process.env,
    },
  );
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`!! ${name} failed (exit ${r.status ?? r.signal})\n`);
  }
  process.stdout.write(`== ${name}: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
process.exit(failed > 0 ? 1 : 0);
