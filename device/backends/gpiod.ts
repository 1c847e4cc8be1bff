import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import type { BackendEnv, InputEvent, InputLine, OutputLine } from "./types";

// libgpiod's command-line tools, both majors, chosen by `gpioset --version`:
// - 1.6 (Debian 12, Raspberry Pi OS bookworm): `gpiofind`, `gpioset --mode=signal CHIP OFFSET=V`,
//   `gpiomon --line-buffered --format=%e` (1 rising, 0 falling), bias `disable`.
// - 2.x (Debian 13 gpiod 2.2.1, Raspberry Pi OS trixie): no gpiofind (`gpioinfo NAME` finds a line),
//   `gpioset` stays in the foreground holding its values, `--banner` once the line is requested,
//   `gpiomon --edges/--format=%E` (rising/falling), bias `disabled`, `--consumer` names the holder.
//   Debian builds gpioset without its interactive mode (`-i` needs libedit): a new value is a new gpioset.
// Sources: brgl/libgpiod tools/*.c at v1.6 and v2.2.4; Debian 13's binaries (test/integration/gpiod-tools.test.ts).
// Lines are found by name: the Pi 5 renumbered its chips (gpiochip4 -> gpiochip0) and names survive that.
// A line is held by a long-lived process because the kernel releases a line when its holder exits.

export interface LineLocation {
  chip: string;
  offset: number;
  /** Who holds the line right now, when the tool said so (gpioinfo). */
  consumer?: string;
}

export type Bias = "pull-up" | "pull-down" | "disable";

export interface GpiodLineOptions {
  line: string;
  activeLow?: boolean;
  bias?: Bias;
}

export interface Libgpiod {
  major: 1 | 2;
  /** "2.2.1" */
  version: string;
}

/** Consumer name the 2.x tools give the kernel: `gpioinfo` then shows who holds the line. */
export const CONSUMER = "diy-device";

function exec(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code === "string") return reject(err); // ENOENT, EACCES: the tool did not run
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function tool(env: BackendEnv, name: string): string {
  return env.gpiodBinDir ? join(env.gpiodBinDir, name) : name;
}

/** "gpioset (libgpiod) v2.2.1" -> { major: 2, version: "2.2.1" }; undefined when the text has no version. */
export function parseLibgpiodVersion(text: string): Libgpiod | undefined {
  const m = /\(libgpiod\) v(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m?.[1]) return undefined;
  const major = Number(m[1]);
  if (major !== 1 && major !== 2) return undefined;
  return { major, version: m.slice(1).filter(Boolean).join(".") };
}

const detected = new Map<string, Promise<Libgpiod>>();

/** Asks gpioset for its version once per tools directory. */
export function detectLibgpiod(env: BackendEnv): Promise<Libgpiod> {
  const key = env.gpiodBinDir ?? "";
  let found = detected.get(key);
  if (!found) {
    found = exec(tool(env, "gpioset"), ["--version"]).then(
      (r) => {
        const lib = parseLibgpiodVersion(r.stdout);
        if (!lib) {
          throw new Error(
            `gpioset --version printed no libgpiod 1.x or 2.x version (${JSON.stringify(r.stdout.split("\n")[0] ?? "")}): this backend drives libgpiod 1.6 and 2.x`,
          );
        }
        return lib;
      },
      (err: NodeJS.ErrnoException) => {
        throw new Error(
          `libgpiod tools not found (${tool(env, "gpioset")}: ${err.code ?? err.message}): install the Debian package "gpiod"`,
        );
      },
    );
    found.catch(() => detected.delete(key)); // a later attempt (after apt install) asks again
    detected.set(key, found);
  }
  return found;
}

// ---- finding a line -------------------------------------------------------------------------------------

/** 1.x `gpiofind GPIO17` prints "gpiochip0 17". */
export function parseGpiofind(stdout: string): LineLocation | undefined {
  const m = /^(\S+)\s+(\d+)\s*$/.exec(stdout.trim());
  return m?.[1] && m[2] ? { chip: m[1], offset: Number(m[2]) } : undefined;
}

/**
 * Finds a named line in a full `gpioinfo` listing: both majors print a "<chip> - N lines:" header and
 * `line  17: "GPIO17" ...` rows. The holder is the second quoted word in 1.x (`"GPIO17" "gpioset" output`)
 * and `consumer="..."` in 2.x.
 */
export function parseGpioinfo(stdout: string, name: string): LineLocation | undefined {
  let chip: string | undefined;
  for (const row of stdout.split("\n")) {
    const header = /^(\S+) - \d+ lines:/.exec(row);
    if (header) {
      chip = header[1];
      continue;
    }
    const line = /^\s+line\s+(\d+):\s+"([^"]*)"(.*)$/.exec(row);
    if (line && chip && line[2] === name) return { chip, offset: Number(line[1]), ...holderIn(line[3] ?? "") };
  }
  return undefined;
}

/** 2.x `gpioinfo GPIO17` prints `gpiochip0 17\t"GPIO17"        \toutput consumer="gpioset"`. */
export function parseGpioinfoLine(stdout: string): LineLocation | undefined {
  const m = /^(\S+) (\d+)\s(.*)$/m.exec(stdout);
  return m?.[1] && m[2] ? { chip: m[1], offset: Number(m[2]), ...holderIn(m[3] ?? "") } : undefined;
}

function holderIn(rest: string): { consumer?: string } {
  const v2 = /consumer=(?:"([^"]*)"|(\S+))/.exec(rest);
  if (v2) return { consumer: v2[1] ?? v2[2] ?? "" };
  const v1 = /^\s+"([^"]*)"/.exec(rest);
  return v1?.[1] === undefined ? {} : { consumer: v1[1] };
}

export async function findLine(name: string, env: BackendEnv, lib: Libgpiod): Promise<LineLocation> {
  if (lib.major === 2) {
    const r = await exec(tool(env, "gpioinfo"), [name]);
    // gpioinfo.c goes on past a chip it cannot open (print_perror, exit status 1 at the end): a line found
    // on another chip is still printed, and usable.
    const loc = parseGpioinfoLine(r.stdout);
    if (loc) {
      if (r.code !== 0)
        env.log.warn("gpioinfo could not read every GPIO chip", { line: name, stderr: r.stderr.trim() });
      return loc;
    }
    const why = r.stderr.trim();
    if (/cannot find line/.test(why) && !/unable to open chip/.test(why)) {
      throw new Error(`GPIO line "${name}" not found: no GPIO chip names a line so (gpioinfo lists every line)`);
    }
    throw new Error(`cannot look up GPIO line "${name}" (is the service user in the gpio group?): ${why}`);
  }
  const found = await exec(tool(env, "gpiofind"), [name]).catch(() => undefined);
  const loc = found?.code === 0 ? parseGpiofind(found.stdout) : undefined;
  if (loc) return loc;
  env.log.debug("gpiofind did not find the line, trying gpioinfo", { line: name, stderr: found?.stderr });
  let listing: { code: number; stdout: string; stderr: string };
  try {
    listing = await exec(tool(env, "gpioinfo"), []);
  } catch (err) {
    throw new Error(`cannot list GPIO lines (is the gpiod package installed?): ${(err as Error).message}`);
  }
  const fromListing = parseGpioinfo(listing.stdout, name);
  if (!fromListing) throw new Error(`GPIO line "${name}" not found by gpiofind or gpioinfo`);
  return fromListing;
}

// ---- command lines ----------------------------------------------------------------------------------------

function biasArg(lib: Libgpiod, bias: Bias): string {
  // 1.6 says "disable", 2.x "disabled" (tools-common.c parse_bias_or_die).
  return lib.major === 2 && bias === "disable" ? "disabled" : bias;
}

/** --active-low and --bias, as gpioset and gpiomon both take them (1.x: `--bias=X`, 2.x: `--bias X`). */
function lineOptionArgs(lib: Libgpiod, opts: GpiodLineOptions): string[] {
  const bias = opts.bias ? biasArg(lib, opts.bias) : undefined;
  return [
    ...(opts.activeLow ? ["--active-low"] : []),
    ...(bias === undefined ? [] : lib.major === 1 ? [`--bias=${bias}`] : ["--bias", bias]),
  ];
}

/** libgpiod 2.x: the line's chip, our consumer label, and the banner it prints once it holds the line. */
const v2LineArgs = (loc: LineLocation): string[] => ["--banner", "--chip", loc.chip, "--consumer", CONSUMER];

/** gpioset holding the line at `on` until it is killed. */
export function gpiosetArgs(lib: Libgpiod, loc: LineLocation, opts: GpiodLineOptions, on: boolean): string[] {
  const value = `${loc.offset}=${on ? 1 : 0}`;
  if (lib.major === 1) return ["--mode=signal", ...lineOptionArgs(lib, opts), loc.chip, value];
  return [...v2LineArgs(loc), ...lineOptionArgs(lib, opts), value];
}

/** gpiomon printing one line per edge: "1"/"0" (1.x) or "rising"/"falling" (2.x), flushed per event. */
export function gpiomonArgs(lib: Libgpiod, loc: LineLocation, opts: GpiodLineOptions): string[] {
  const offset = String(loc.offset);
  if (lib.major === 1) return ["--line-buffered", "--format=%e", ...lineOptionArgs(lib, opts), loc.chip, offset];
  return [...v2LineArgs(loc), "--edges", "both", "--format", "%E", ...lineOptionArgs(lib, opts), offset];
}

/** One edge line of gpiomon's output as an event; undefined for anything else (a banner). */
export function parseEdge(lib: Libgpiod, line: string): InputEvent | undefined {
  // With --active-low the kernel inverts the edges, so rising is always "pressed".
  const l = line.trim();
  if (l === (lib.major === 2 ? "rising" : "1")) return "pressed";
  if (l === (lib.major === 2 ? "falling" : "0")) return "released";
  return undefined;
}

// ---- holding processes ------------------------------------------------------------------------------------

/** Why a tool gave up the line, in words a user can act on. */
async function failure(
  what: string,
  name: string,
  loc: LineLocation,
  env: BackendEnv,
  lib: Libgpiod,
  exit: { code: number | null; signal: NodeJS.Signals | null; stderr: string },
): Promise<Error> {
  const stderr = exit.stderr.trim();
  if (/Device or resource busy/.test(stderr)) {
    const now = await findLine(name, env, lib).catch(() => loc);
    const who = now.consumer ? `"${now.consumer}" holds it` : "another process or a kernel driver holds it";
    return new Error(
      `GPIO line ${name} (${loc.chip} ${loc.offset}) is busy: ${who}. Stop that holder (for a kernel driver, remove the dtoverlay or dtparam that claims the pin) or choose another line`,
    );
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  return new Error(`${what} for GPIO line ${name} ${how}${stderr ? `: ${stderr}` : ""}`);
}

/** Sends SIGTERM and resolves once the process is gone, i.e. the line is free for the next holder. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

interface Holder {
  child: ChildProcess;
  /** Resolves once the line is held: 2.x prints its banner then; 1.x says nothing, so that is its start. */
  ready: Promise<void>;
  /** stderr tail, for the message when it exits. */
  stderr(): string;
}

function startHolder(
  env: BackendEnv,
  lib: Libgpiod,
  name: string,
  args: string[],
  onLine: (line: string) => void,
): Holder {
  const child = spawn(tool(env, name), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-1024);
  });
  const ready = new Promise<void>((resolve, reject) => {
    let buffered = "";
    let held = false;
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const l of lines) {
        if (!held && /^(Setting|Monitoring) lines? /.test(l)) {
          held = true;
          resolve();
        } else onLine(l);
      }
    });
    child.once("error", reject);
    if (lib.major === 1) child.once("spawn", () => resolve());
    child.once("exit", (code, signal) => {
      if (!held) reject(Object.assign(new Error("exited before holding the line"), { code, signal }));
    });
  });
  ready.catch(() => {}); // observed by the caller; an early exit must not be an unhandled rejection here
  return { child, ready, stderr: () => stderr };
}

const RESTART_MAX_MS = 30_000;

/**
 * Keeps one tool process holding a line: (re)starts it, replaces it on demand (old one gone first, so the
 * kernel never sees two requesters), and restarts it with backoff when it dies on its own.
 */
function lineKeeper(opts: {
  what: "gpioset" | "gpiomon";
  line: string;
  loc: LineLocation;
  env: BackendEnv;
  lib: Libgpiod;
  onLine: (l: string) => void;
}) {
  const log = opts.env.log.child({ line: opts.line, chip: opts.loc.chip, offset: opts.loc.offset });
  let current: Holder | undefined;
  let args: string[] | undefined;
  let closed = false;
  let restartDelay = 1000;
  let restartTimer: NodeJS.Timeout | undefined;

  const explain = async (h: Holder, code: number | null, signal: NodeJS.Signals | null) =>
    failure(opts.what, opts.line, opts.loc, opts.env, opts.lib, { code, signal, stderr: h.stderr() });

  const watch = (h: Holder) => {
    h.child.once("exit", async (code, signal) => {
      if (current !== h || closed) return; // replaced or stopped on purpose
      current = undefined;
      const err = await explain(h, code, signal);
      log.error(`${opts.what} exited; the line is no longer held`, { err: err.message });
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        if (!closed && args) hold(args).catch((e) => log.error(`${opts.what} restart failed`, { err: e }));
      }, restartDelay);
      restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
    });
  };

  const hold = async (next: string[]): Promise<void> => {
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = undefined;
    args = next;
    const previous = current;
    current = undefined;
    if (previous) await stop(previous.child);
    if (closed) return;
    const h = startHolder(opts.env, opts.lib, opts.what, next, (l) => {
      restartDelay = 1000;
      opts.onLine(l);
    });
    current = h;
    try {
      await h.ready;
    } catch (e) {
      if (current === h) current = undefined;
      const { code = null, signal = null } = e as { code?: number | null; signal?: NodeJS.Signals | null };
      throw (e as NodeJS.ErrnoException).syscall ? e : await explain(h, code, signal);
    }
    if (current === h) {
      if (opts.lib.major === 2) restartDelay = 1000;
      watch(h);
      // The tool may have died between its banner and this line.
      if (h.child.exitCode !== null || h.child.signalCode !== null)
        h.child.emit("exit", h.child.exitCode, h.child.signalCode);
    }
  };

  return {
    hold,
    close: async () => {
      closed = true;
      if (restartTimer) clearTimeout(restartTimer);
      const previous = current;
      current = undefined;
      if (previous) await stop(previous.child);
    },
  };
}

export async function openGpiodOutput(opts: GpiodLineOptions, env: BackendEnv): Promise<OutputLine> {
  const lib = await detectLibgpiod(env);
  const loc = await findLine(opts.line, env, lib);
  const keeper = lineKeeper({ what: "gpioset", line: opts.line, loc, env, lib, onLine: () => {} });
  let closed = false;
  return {
    description: `gpiod:${opts.line}(${loc.chip}/${loc.offset}) libgpiod ${lib.version}`,
    write: async (on) => {
      if (closed) throw new Error("line is closed");
      await keeper.hold(gpiosetArgs(lib, loc, opts, on));
    },
    close: async () => {
      closed = true;
      await keeper.close();
    },
  };
}

export async function openGpiodInput(opts: GpiodLineOptions, env: BackendEnv): Promise<InputLine> {
  const lib = await detectLibgpiod(env);
  const loc = await findLine(opts.line, env, lib);
  let onEvent: ((e: InputEvent) => void) | undefined;
  const keeper = lineKeeper({
    what: "gpiomon",
    line: opts.line,
    loc,
    env,
    lib,
    onLine: (l) => {
      const e = parseEdge(lib, l);
      if (e) onEvent?.(e);
    },
  });
  return {
    description: `gpiod:${opts.line}(${loc.chip}/${loc.offset}) libgpiod ${lib.version}`,
    start: async (handler) => {
      onEvent = handler;
      await keeper.hold(gpiomonArgs(lib, loc, opts));
    },
    close: () => keeper.close(),
  };
}
