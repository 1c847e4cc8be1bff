// Starts the click benchmark's page (page.ts) as a process of its own: bundled with esbuild into one file
// and run with plain `node`, its session in the environment, driven over IPC.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";
import type { PageClick, PagePath, PageReply, PageRequest } from "./page";

export interface PageProcess {
  pid: number;
  /** Opens the path, makes `warmup` unmeasured clicks and `count` measured ones (click i sends on for odd i). */
  block(path: PagePath, from: number, count: number, warmup?: number): Promise<PageClick[]>;
  sustained(
    path: PagePath,
    burst: number,
    inFlight: number,
  ): Promise<{ answered: number; seconds: number; cpuMs: number }>;
  stop(): void;
}

export function startPage(base: string, session: { cookie: string; csrf: string }): PageProcess {
  const dir = mkdtempSync(join(tmpdir(), "bench-page-"));
  const file = join(dir, "page.js");
  const built = buildSync({
    entryPoints: [join(__dirname, "page.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    write: false,
    logLevel: "error",
  });
  writeFileSync(file, built.outputFiles[0]?.text ?? "");
  const child: ChildProcess = fork(file, [], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: {
      ...process.env,
      NODE_OPTIONS: "",
      BENCH_PAGE_BASE: base,
      BENCH_PAGE_COOKIE: session.cookie,
      BENCH_PAGE_CSRF: session.csrf,
    },
  });
  const ask = (m: PageRequest) =>
    new Promise<PageReply>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the page process exited (${code})`));
      child.once("exit", onExit);
      child.once("message", (reply: PageReply) => {
        child.off("exit", onExit);
        if (reply.op === "error") reject(new Error(`page: ${reply.message}`));
        else resolve(reply);
      });
      child.send(m);
    });
  return {
    pid: child.pid ?? 0,
    async block(path, from, count, warmup = 0) {
      const r = await ask({ op: "block", path, from, count, warmup });
      if (r.op !== "block") throw new Error(`page: expected a block, got ${r.op}`);
      return r.clicks;
    },
    async sustained(path, burst, inFlight) {
      const r = await ask({ op: "sustained", path, burst, inFlight });
      if (r.op !== "sustained") throw new Error(`page: expected sustained, got ${r.op}`);
      return r;
    },
    stop() {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
