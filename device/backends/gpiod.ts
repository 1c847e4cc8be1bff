import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BackendEnv, InputEvent, InputLine, OutputLine } from "./types";

// libgpiod 1.6 command-line tools (Debian 12, Raspberry Pi OS bookworm). Lines are found by name:
// the Pi 5 renumbered its chips (gpiochip4 -> gpiochip0) and names survive that. A line is held by a
// long-lived process because the kernel reverts a line when the last holder of its fd exits.

const execFileP = promisify(execFile);

export interface LineLocation {
  chip: string;
  offset: number;
}

export type Bias = "pull-up" | "pull-down" | "disable";

export interface GpiodLineOptions {
  line: string;
  activeLow?: boolean;
  bias?: Bias;
}

/** `gpiofind GPIO17` prints "gpiochip0 17". */
export function parseGpiofind(stdout: string): LineLocation | undefined {
  const m = /^(\S+)\s+(\d+)\s*$/.exec(stdout.trim());
  return m?.[1] && m[2] ? { chip: m[1], offset: Number(m[2]) } : undefined;
}

/**
 * Finds a named line in `gpioinfo` output (libgpiod 1.x and 2.x both print a "<chip> - N lines:"
 * header and `line  17: "GPIO17" ...` rows). Fallback for images whose gpiofind is missing.
 */
export function parseGpioinfo(stdout: string, name: string): LineLocation | undefined {
  let chip: string | undefined;
  for (const row of stdout.split("\n")) {
    const header = /^(\S+) - \d+ lines:/.exec(row);
    if (header) {
      chip = header[1];
      continue;
    }
    const line = /^\s+line\s+(\d+):\s+"([^"]*)"/.exec(row);
    if (line && chip && line[2] === name) return { chip, offset: Number(line[1]) };
  }
  return undefined;
}

function commonArgs(opts: GpiodLineOptions): string[] {
  return [...(opts.activeLow ? ["--active-low"] : []), ...(opts.bias ? [`--bias=${opts.bias}`] : [])];
}

/** gpioset holding the line until SIGTERM. */
export function gpiosetArgs(loc: LineLocation, opts: GpiodLineOptions, on: boolean): string[] {
  return ["--mode=signal", ...commonArgs(opts), loc.chip, `${loc.offset}=${on ? 1 : 0}`];
}

/** gpiomon printing one "1" (rising) or "0" (falling) per line, flushed per event. */
export function gpiomonArgs(loc: LineLocation, opts: GpiodLineOptions): string[] {
  return ["--line-buffered", "--format=%e", ...commonArgs(opts), loc.chip, String(loc.offset)];
}

function tool(env: BackendEnv, name: string): string {
  return env.gpiodBinDir ? join(env.gpiodBinDir, name) : name;
}

/** "gpioinfo (libgpiod) v2.1" -> 2; undefined when the text has no version. */
export function libgpiodMajor(versionText: string): number | undefined {
  const m = /\bv(\d+)\./.exec(versionText);
  return m?.[1] ? Number(m[1]) : undefined;
}

export async function findLine(name: string, env: BackendEnv): Promise<LineLocation> {
  try {
    const { stdout } = await execFileP(tool(env, "gpiofind"), [name]);
    const loc = parseGpiofind(stdout);
    if (loc) return loc;
  } catch (err) {
    // Exit status 1 means "not found": try gpioinfo. No gpiofind at all is libgpiod 2, whose gpioset
    // and gpiomon take other options: say so instead of failing later with a usage message.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      const version = await execFileP(tool(env, "gpioinfo"), ["--version"]).then(
        (r) => r.stdout,
        () => "",
      );
      const major = libgpiodMajor(version);
      if (major !== undefined && major >= 2) {
        throw new Error(
          `libgpiod ${major}.x tools found; this backend drives the libgpiod 1.x CLI (Debian 12, Raspberry Pi OS bookworm). Use a "led" (dtoverlay=gpio-led) or "sysfs" backend here`,
        );
      }
    }
    env.log.debug("gpiofind did not find the line, trying gpioinfo", { line: name, err });
  }
  let stdout: string;
  try {
    ({ stdout } = await execFileP(tool(env, "gpioinfo"), [], { maxBuffer: 4 * 1024 * 1024 }));
  } catch (err) {
    throw new Error(`cannot list GPIO lines (is the gpiod package installed?): ${(err as Error).message}`);
  }
  const loc = parseGpioinfo(stdout, name);
  if (!loc) throw new Error(`GPIO line "${name}" not found by gpiofind or gpioinfo`);
  return loc;
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

const RESTART_MAX_MS = 30_000;

export async function openGpiodOutput(opts: GpiodLineOptions, env: BackendEnv): Promise<OutputLine> {
  const loc = await findLine(opts.line, env);
  const log = env.log.child({ line: opts.line, chip: loc.chip, offset: loc.offset });
  let holder: ChildProcess | undefined;
  let value: boolean | undefined;
  let closed = false;
  let restartDelay = 1000;
  let restartTimer: NodeJS.Timeout | undefined;

  const hold = (on: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = spawn(tool(env, "gpioset"), gpiosetArgs(loc, opts, on), { stdio: ["ignore", "ignore", "pipe"] });
      holder = child;
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-512);
      });
      child.once("spawn", () => resolve());
      child.once("error", reject);
      child.once("exit", (code, signal) => {
        if (holder !== child || closed) return; // we replaced or stopped it on purpose
        holder = undefined;
        // The line reverts when gpioset dies: take it again, backing off if it keeps failing.
        log.error("gpioset exited; the line is no longer held", { code, signal, stderr: stderr.trim() });
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          if (!closed && value !== undefined) hold(value).catch((err) => log.error("gpioset restart failed", { err }));
        }, restartDelay);
        restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
      });
    });

  return {
    description: `gpiod:${opts.line}(${loc.chip}/${loc.offset})`,
    write: async (on) => {
      if (closed) throw new Error("line is closed");
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = undefined;
      value = on;
      const previous = holder;
      holder = undefined;
      if (previous) await stop(previous);
      await hold(on);
    },
    close: async () => {
      closed = true;
      if (restartTimer) clearTimeout(restartTimer);
      const previous = holder;
      holder = undefined;
      if (previous) await stop(previous);
    },
  };
}

export async function openGpiodInput(opts: GpiodLineOptions, env: BackendEnv): Promise<InputLine> {
  const loc = await findLine(opts.line, env);
  const log = env.log.child({ line: opts.line, chip: loc.chip, offset: loc.offset });
  let monitor: ChildProcess | undefined;
  let closed = false;
  let restartDelay = 1000;
  let restartTimer: NodeJS.Timeout | undefined;

  const watch = (onEvent: (e: InputEvent) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = spawn(tool(env, "gpiomon"), gpiomonArgs(loc, opts), { stdio: ["ignore", "pipe", "pipe"] });
      monitor = child;
      let buffered = "";
      let stderr = "";
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", (chunk: string) => {
        restartDelay = 1000;
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        // With --active-low the kernel inverts the edges, so rising is always "pressed".
        for (const l of lines) {
          if (l.trim() === "1") onEvent("pressed");
          else if (l.trim() === "0") onEvent("released");
        }
      });
      child.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-512);
      });
      child.once("spawn", () => resolve());
      child.once("error", reject);
      child.once("exit", (code, signal) => {
        if (monitor !== child || closed) return;
        monitor = undefined;
        log.error("gpiomon exited; restarting", { code, signal, stderr: stderr.trim() });
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          if (!closed) watch(onEvent).catch((err) => log.error("gpiomon restart failed", { err }));
        }, restartDelay);
        restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
      });
    });

  return {
    description: `gpiod:${opts.line}(${loc.chip}/${loc.offset})`,
    start: (onEvent) => watch(onEvent),
    close: async () => {
      closed = true;
      if (restartTimer) clearTimeout(restartTimer);
      const previous = monitor;
      monitor = undefined;
      if (previous) await stop(previous);
    },
  };
}
