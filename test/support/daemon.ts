// Daemons a test starts (mosquitto, nginx, postfix, fail2ban, ...): child processes that are always stopped and whose
// output is kept for assertion messages, and the file ownership a daemon that drops root needs.
import { type ChildProcess, type SpawnOptions, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync } from "node:fs";
import { connect } from "node:net";

/** Runs a command; returns its status and stdout+stderr instead of throwing. */
export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { status: number; output: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  if (r.error) return { status: 127, output: `${cmd}: ${r.error.message}` };
  return { status: r.status ?? 1, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/**
 * Runs a command to its end without blocking this process, so servers the test runs in it keep answering;
 * resolves with its exit status and what it printed on stdout and stderr.
 */
export function runToEnd(
  cmd: string,
  args: string[],
  opts: Omit<SpawnOptions, "stdio"> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export const isRoot = process.getuid?.() === 0;

/** Whether a process still exists: signal 0 checks the pid without sending anything (kill(2)). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Where a daemon that drops root to `user` can still read a file, as on the server (root:user 0640). */
export function shareWithDaemon(file: string, user: string, mode = 0o640): void {
  if (!isRoot) return;
  const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
  chownSync(file, 0, gid);
  chmodSync(file, mode);
}

export function giveToDaemon(path: string, user: string): void {
  if (!isRoot) return;
  const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
  chownSync(path, uid, gid);
}

export interface Daemon {
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts a daemon and resolves once `ready` matches its output (or once spawned, when `ready` is null);
 * rejects with its output if it exits first.
 */
export async function startDaemon(
  cmd: string,
  args: string[],
  ready: RegExp | null,
  timeoutMs = 15000,
): Promise<Daemon> {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let buf = "";
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill("SIGTERM");
      setTimeout(() => proc.kill("SIGKILL"), 3000).unref();
    });
  };
  const daemon: Daemon = { proc, output: () => buf, stop };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${cmd} not ready after ${timeoutMs} ms; output:\n${buf}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      if (ready?.test(buf)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    if (ready === null) {
      proc.once("spawn", () => {
        clearTimeout(timer);
        resolve();
      });
    }
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code} before it was ready; its output:\n${buf}`));
    });
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return daemon;
}

/** Resolves once 127.0.0.1:port accepts a connection; fails with the daemon's output if it exits or never listens. */
export async function waitForPort(port: number, daemon: Daemon, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (daemon.proc.exitCode !== null)
      throw new Error(`${daemon.proc.spawnfile} exited with ${daemon.proc.exitCode}:\n${daemon.output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.end();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${daemon.proc.spawnfile} is not listening on ${port}:\n${daemon.output()}`);
}
