// Small process helpers for the VM tier: run a command with stdin, find a free loopback port, log progress.
import { spawn } from "node:child_process";
import { waitUntil } from "../../support/wait";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  cwd?: string;
  /** Called with each chunk of stderr (e.g. to stream a build's progress). */
  onStderr?: (chunk: string) => void;
  onStdout?: (chunk: string) => void;
}

/** Runs a program (no shell), feeds `input` on stdin, never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    }
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      opts.onStdout?.(c);
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      opts.onStderr?.(c);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on("error", () => undefined); // the program may exit before reading all input
    child.stdin.end(opts.input ?? "");
  });
}

const t0 = Date.now();
/** Progress line on stderr with the seconds since the tier started (the runner shows stderr live). */
export function log(what: string, msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[vm ${s}s] ${what}: ${msg}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** waitUntil (test/support/wait.ts) for the slow VM steps: logs when ready and prints `progress()` every 15 s. */
export async function waitUntilReady<T>(opts: {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  check: () => Promise<T | undefined>;
  progress?: () => Promise<string> | string;
}): Promise<T> {
  const start = Date.now();
  let lastReport = start;
  const v = await waitUntil(
    async () => {
      const v = await opts.check();
      const now = Date.now();
      if (v === undefined && now - lastReport >= 15_000) {
        lastReport = now;
        const p = opts.progress ? await opts.progress() : "";
        log(opts.what, `waiting ${((now - start) / 1000).toFixed(0)} s${p ? ` — ${p}` : ""}`);
      }
      return v;
    },
    `${opts.what} (${(opts.timeoutMs / 1000).toFixed(0)} s)`,
    { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 3_000 },
  );
  log(opts.what, `ready after ${((Date.now() - start) / 1000).toFixed(0)} s`);
  return v;
}
