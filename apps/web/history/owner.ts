// Who holds the history database. node-sqlite3-wasm's VFS locks a database by creating the directory
// `<file>.lock` (mkdir is atomic) and removes it on close; a process that is killed (SIGKILL, OOM, power
// loss) leaves the directory behind, and every later open then fails with "database is locked" for
// ever. So the web app records its identity beside the database (`<file>.owner`) and, on start, removes
// a lock whose owner is gone. A pid alone is not an identity: after a reboot or enough forks the same
// number belongs to another process, so the owner is pid + the kernel's boot id + the process start
// time (proc(5): /proc/sys/kernel/random/boot_id, field 22 "starttime" of /proc/<pid>/stat).
import { readFileSync, renameSync, rmdirSync, existsSync, writeFileSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface ProcessIdentity {
  pid: number;
  /** /proc/sys/kernel/random/boot_id; absent without /proc. */
  boot?: string;
  /** Start time of the process in clock ticks since boot; absent without /proc. */
  start?: string;
}

/** Field 22 (starttime) of /proc/<pid>/stat. The command name (field 2) may hold spaces and ')'. */
export function parseProcStatStart(stat: string): string | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields after the name start at field 3 (state); starttime is field 22, the 20th of these.
  const rest = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const start = rest[19];
  return start && /^\d+$/.test(start) ? start : undefined;
}

export interface ProcView {
  /** Reads a /proc file; undefined when it does not exist. */
  read(path: string): string | undefined;
}

export const realProc: ProcView = {
  read(path) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
};

export function identityOf(pid: number, proc: ProcView = realProc): ProcessIdentity {
  const boot = proc.read("/proc/sys/kernel/random/boot_id")?.trim();
  const stat = proc.read(`/proc/${pid}/stat`);
  const start = stat === undefined ? undefined : parseProcStatStart(stat);
  return { pid, ...(boot ? { boot } : {}), ...(start ? { start } : {}) };
}

/** Whether the recorded owner is still running (the same process, not a later one with its pid). */
export function ownerAlive(owner: ProcessIdentity, proc: ProcView = realProc): boolean {
  const now = identityOf(owner.pid, proc);
  if (owner.boot && now.boot && owner.boot !== now.boot) return false;
  if (owner.start !== undefined) return now.start === owner.start;
  // No start time recorded (no /proc): fall back to "a process with that pid exists".
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function parseOwner(text: string | undefined): ProcessIdentity | undefined {
  if (text === undefined) return undefined;
  try {
    const o = JSON.parse(text) as Partial<ProcessIdentity>;
    if (typeof o.pid !== "number" || !Number.isInteger(o.pid) || o.pid <= 0) return undefined;
    return {
      pid: o.pid,
      ...(typeof o.boot === "string" ? { boot: o.boot } : {}),
      ...(typeof o.start === "string" ? { start: o.start } : {}),
    };
  } catch {
    return undefined;
  }
}

export const lockDirOf = (file: string) => `${file}.lock`;
export const ownerFileOf = (file: string) => `${file}.owner`;

export type ClaimResult = { staleOwner?: ProcessIdentity | "unknown" };

/**
 * Makes this process the database's owner. Throws when another live process holds it; removes a lock
 * left by a process that is gone and says so (staleOwner), so the caller can log it.
 */
export function claimDatabase(file: string, proc: ProcView = realProc): ClaimResult {
  const lock = lockDirOf(file);
  const ownerFile = ownerFileOf(file);
  const owner = parseOwner(readOrUndefined(ownerFile));
  const result: ClaimResult = {};
  if (existsSync(lock)) {
    if (owner && owner.pid !== process.pid && ownerAlive(owner, proc)) {
      throw new Error(
        `history database ${file} is in use by process ${owner.pid}; stop it first (only one web app may use a database)`,
      );
    }
    if (owner?.pid === process.pid && ownerAlive(owner, proc))
      throw new Error(`history database ${file} is already open in this process`);
    rmdirSync(lock);
    result.staleOwner = owner ?? "unknown";
  }
  const tmp = join(dirname(file), `.${basename(file)}.owner.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(identityOf(process.pid, proc))}\n`, { mode: 0o600 });
  renameSync(tmp, ownerFile);
  return result;
}

/** Gives the database up (after it is closed). */
export function releaseDatabase(file: string): void {
  try {
    unlinkSync(ownerFileOf(file));
  } catch {
    // already gone
  }
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
