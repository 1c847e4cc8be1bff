// Printing and recording benchmark figures. Benchmarks print tables and append them to
// bench/RESULTS.md with the machine they ran on; they never pass or fail on a time.
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

const RESULTS = join(__dirname, "..", "RESULTS.md");

function version(cmd: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return pattern.exec(out)?.[1] ?? "unknown";
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? "");
    return pattern.exec(out)?.[1] ?? "not installed";
  }
}

export function machineLine(): string {
  const cpu = cpus();
  const mem = (totalmem() / 2 ** 30).toFixed(1);
  const mosq = version("mosquitto", ["-h"], /mosquitto version ([\d.]+)/);
  // The load average says what else the machine was doing: baselines run beside, under the same load.
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
  return `${new Date().toISOString()} · ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"} · ${mem} GiB · Node ${process.version} · mosquitto ${mosq} · load ${load}`;
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(digits);
}

export function renderTable(t: Table): string {
  const head = `| ${t.columns.join(" | ")} |`;
  const sep = `| ${t.columns.map(() => "---").join(" | ")} |`;
  const body = t.rows.map((r) => `| ${r.map((c) => (typeof c === "number" ? fmt(c) : c)).join(" | ")} |`);
  const notes = (t.notes ?? []).map((n) => `- ${n}`);
  return [`### ${t.title}`, "", head, sep, ...body, ...(notes.length ? ["", ...notes] : [])].join("\n");
}

/** Prints the tables and appends them, with the machine line, to bench/RESULTS.md. */
export function report(name: string, tables: Table[]): void {
  const text = tables.map(renderTable).join("\n\n");
  process.stdout.write(`\n${text}\n`);
  if (process.env.BENCH_NO_RECORD) return;
  if (!existsSync(RESULTS))
    writeFileSync(RESULTS, "# Benchmark results\n\nAppended by `npm run bench`; newest last.\n");
  appendFileSync(RESULTS, `\n## ${name}\n\n${machineLine()}\n\n${text}\n`);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/**
 * Private (anonymous) resident memory: what a process really costs a small board. RSS also counts
 * the pages of the executable mapped from disk (~35 MiB of node itself), shared and evictable.
 */
export function privateKiB(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m?.[1]) throw new Error(`no RssAnon for pid ${pid}`);
  return Number(m[1]);
}

export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}
