import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type BackendEnv, type InputEvent, type InputLine, openInput, openOutput } from "../../device/backends";
import {
  gpiomonArgs,
  gpiosetArgs,
  parseEdge,
  parseGpiofind,
  parseGpioinfo,
  parseGpioinfoLine,
  parseLibgpiodVersion,
} from "../../device/backends/gpiod";
import type { InputConfig, OutputConfig, SafeState } from "../../device/config";
import { createLogger, silentLogger } from "../../device/log";
import { installFakeLibgpiod2, piChip } from "../fakes/gpiod";
import { processAlive } from "../support/daemon";
import { waitUntil } from "../support/wait";

const root = mkdtempSync(join(tmpdir(), "diy-device-backends-"));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function freshEnv(): BackendEnv & { dir: string } {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  return { dir, sysfsRoot: join(dir, "sys"), stateDir: join(dir, "state"), log: silentLogger };
}

const read = (p: string) => readFileSync(p, "utf8").trim();

// Generous: on a loaded 2-core CI machine a fake tool can take seconds to start.
const FAKE_TOOL_WAIT = { timeoutMs: 20_000, intervalMs: 10 };

/** Starts `input` and records its events; `reached(n, what)` waits until n of them have come. */
async function recordEvents(input: InputLine) {
  const events: InputEvent[] = [];
  await input.start((e) => events.push(e));
  const reached = (n: number, what: string) =>
    waitUntil(() => (events.length >= n ? true : undefined), what, FAKE_TOOL_WAIT);
  return { events, reached };
}

/** Watchers and timers this process holds: what a line left running after close would add to. */
function heldResources(): Record<string, number> {
  const held: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo())
    if (r === "FSEventWrap" || r === "Timeout") held[r] = (held[r] ?? 0) + 1;
  return held;
}

/**
 * The service starts inputs without waiting for them and may stop at once (device/service.ts): a close
 * while start() is still opening must leave no watcher or poll behind (one held the demo's process open)
 * and deliver no event.
 */
async function assertCloseDuringStartLeavesNothing(input: InputLine, change: () => void): Promise<void> {
  const before = heldResources();
  const events: InputEvent[] = [];
  const starting = input.start((e) => events.push(e));
  await input.close();
  await starting;
  change();
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(events, []);
  assert.deepEqual(heldResources(), before);
}

describe("kernel LED backend", () => {
  it("sets the trigger to none, starts at the safe state and writes max_brightness for on", async () => {
    const env = freshEnv();
    const led = join(env.sysfsRoot, "class", "leds", "beaglebone:green:usr0");
    mkdirSync(led, { recursive: true });
    writeFileSync(join(led, "trigger"), "heartbeat");
    writeFileSync(join(led, "max_brightness"), "255\n");
    writeFileSync(join(led, "brightness"), "255");
    const out = await openOutput(
      { name: "led", safeState: "off", backend: { type: "led", led: "beaglebone:green:usr0" } },
      env,
      false,
    );
    assert.equal(read(join(led, "trigger")), "none");
    assert.equal(read(join(led, "brightness")), "0");
    await out.write(true);
    assert.equal(read(join(led, "brightness")), "255");
    await out.close();
  });

  it("names the missing LED and where it looked", async () => {
    const env = freshEnv();
    await assert.rejects(
      openOutput({ name: "led", safeState: "off", backend: { type: "led", led: "led0" } }, env, false),
      /kernel LED led0 not found: .*leds\/led0\/brightness/,
    );
    await assert.rejects(
      openOutput(
        { name: "led", safeState: "off", backend: { type: "led", led: "ACT", alternatives: ["led0"] } },
        env,
        false,
      ),
      /kernel LED ACT or led0 not found: .*leds\/ACT\/brightness, .*leds\/led0\/brightness does not exist/,
    );
  });

  /** A Pi's LED as sysfs shows it: brightness, max_brightness 1, the mmc0 trigger; `compatible` of its board. */
  function piLed(env: BackendEnv, name: string, compatible?: string[]): string {
    const led = join(env.sysfsRoot, "class", "leds", name);
    mkdirSync(led, { recursive: true });
    writeFileSync(join(led, "trigger"), "none [mmc0] timer heartbeat");
    writeFileSync(join(led, "max_brightness"), "1\n");
    writeFileSync(join(led, "brightness"), "0");
    if (compatible) {
      const dt = join(env.sysfsRoot, "firmware", "devicetree", "base");
      mkdirSync(dt, { recursive: true });
      writeFileSync(join(dt, "compatible"), `${compatible.join("\0")}\0`);
    }
    return led;
  }

  it("drives the activity LED under the name the kernel gives it: led0 when ACT is absent", async () => {
    const env = freshEnv();
    const led = piLed(env, "led0", ["raspberrypi,3-model-b-plus", "brcm,bcm2837"]);
    const out = await openOutput(
      { name: "led", safeState: "off", backend: { type: "led", led: "ACT", alternatives: ["led0"] } },
      env,
      false,
    );
    assert.equal(out.description, "led:led0");
    assert.equal(read(join(led, "trigger")), "none");
    await out.write(true);
    assert.equal(read(join(led, "brightness")), "1");
  });

  it("inverts the Pi 5's ACT LED (lit at brightness 0), not its PWR LED, unless the config says otherwise", async () => {
    const pi5 = ["raspberrypi,5-model-b", "brcm,bcm2712"];
    const env = freshEnv();
    const act = piLed(env, "ACT", pi5);
    const pwr = piLed(env, "PWR");
    const out = await openOutput({ name: "led", safeState: "off", backend: { type: "led", led: "ACT" } }, env, false);
    assert.equal(out.description, "led:ACT (active-low)");
    assert.equal(read(join(act, "brightness")), "1", "off is brightness 1 on this LED");
    await out.write(true);
    assert.equal(read(join(act, "brightness")), "0");
    const power = await openOutput({ name: "pwr", safeState: "off", backend: { type: "led", led: "PWR" } }, env, true);
    assert.equal(read(join(pwr, "brightness")), "1");
    const told = await openOutput(
      { name: "led", safeState: "off", backend: { type: "led", led: "ACT", activeLow: false } },
      env,
      true,
    );
    assert.equal(told.description, "led:ACT");
    assert.equal(read(join(act, "brightness")), "1");
    // A Pi 4's ACT LED (bcm2711) follows brightness as documented.
    const pi4 = freshEnv();
    const act4 = piLed(pi4, "ACT", ["raspberrypi,4-model-b", "brcm,bcm2711"]);
    await openOutput({ name: "led", safeState: "off", backend: { type: "led", led: "ACT" } }, pi4, true);
    assert.equal(read(join(act4, "brightness")), "1");
  });
});

describe("legacy sysfs GPIO backend", () => {
  /**
   * Runs `body` on a fresh environment whose kernel is played here while it runs: when a number is written to
   * `export`, the gpioN directory appears.
   */
  async function withFakeKernel(body: (env: BackendEnv & { dir: string }) => Promise<void>): Promise<void> {
    const env = freshEnv();
    const gpio = join(env.sysfsRoot, "class", "gpio");
    mkdirSync(gpio, { recursive: true });
    writeFileSync(join(gpio, "export"), "");
    writeFileSync(join(gpio, "unexport"), "");
    const timer = setInterval(() => {
      const num = readFileSync(join(gpio, "export"), "utf8").trim();
      if (num && !existsSync(join(gpio, `gpio${num}`))) {
        mkdirSync(join(gpio, `gpio${num}`));
        for (const f of ["value", "direction", "active_low"]) writeFileSync(join(gpio, `gpio${num}`, f), "0");
      }
    }, 5);
    try {
      await body(env);
    } finally {
      clearInterval(timer);
    }
  }

  it("exports the configured number, sets direction with the initial level, writes values and unexports on close", () =>
    withFakeKernel(async (env) => {
      const out = await openOutput({ name: "led", safeState: "on", backend: { type: "sysfs", gpio: 529 } }, env, true);
      const dir = join(env.sysfsRoot, "class", "gpio", "gpio529");
      assert.equal(read(join(env.sysfsRoot, "class", "gpio", "export")), "529");
      assert.equal(read(join(dir, "direction")), "high");
      assert.equal(read(join(dir, "active_low")), "0");
      await out.write(false);
      assert.equal(read(join(dir, "value")), "0");
      await out.write(true);
      assert.equal(read(join(dir, "value")), "1");
      await out.close();
      assert.equal(read(join(env.sysfsRoot, "class", "gpio", "unexport")), "529");
    }));

  it("drives an active-low line low-level-high for off", () =>
    withFakeKernel(async (env) => {
      const out = await openOutput(
        { name: "led", safeState: "off", backend: { type: "sysfs", gpio: 17, activeLow: true } },
        env,
        false,
      );
      const dir = join(env.sysfsRoot, "class", "gpio", "gpio17");
      assert.equal(read(join(dir, "active_low")), "1");
      // direction "high"/"low" is the physical level: off on an active-low line is high.
      assert.equal(read(join(dir, "direction")), "high");
      await out.close();
    }));

  it("reports pressed and released when the input value changes", () =>
    withFakeKernel(async (env) => {
      const input = await openInput({ name: "button", backend: { type: "sysfs", gpio: 530 } }, env);
      const { events, reached } = await recordEvents(input);
      const value = join(env.sysfsRoot, "class", "gpio", "gpio530", "value");
      assert.equal(read(join(env.sysfsRoot, "class", "gpio", "gpio530", "direction")), "in");
      writeFileSync(value, "1");
      await reached(1, "pressed");
      writeFileSync(value, "0");
      await reached(2, "released");
      assert.deepEqual(events, ["pressed", "released"]);
      await input.close();
    }));

  it("a close while the input is still starting leaves no poll running", () =>
    withFakeKernel(async (env) => {
      const input = await openInput({ name: "button", backend: { type: "sysfs", gpio: 531 } }, env);
      const value = join(env.sysfsRoot, "class", "gpio", "gpio531", "value");
      await assertCloseDuringStartLeavesNothing(input, () => writeFileSync(value, "1"));
    }));

  it("says when legacy sysfs GPIO is absent", async () => {
    const env = freshEnv();
    await assert.rejects(
      openOutput({ name: "led", safeState: "off", backend: { type: "sysfs", gpio: 17 } }, env, false),
      /legacy sysfs GPIO is not available/,
    );
  });
});

describe("simulated backend", () => {
  it("writes on/off to the state file, defaulting to <stateDir>/<name>.state", async () => {
    const env = freshEnv();
    const out = await openOutput({ name: "led", safeState: "off", backend: { type: "simulated" } }, env, false);
    const file = join(env.stateDir, "led.state");
    assert.equal(readFileSync(file, "utf8"), "off\n");
    await out.write(true);
    assert.equal(readFileSync(file, "utf8"), "on\n");
    // Replaced, never edited in place (a reader sees one value whole): a new directory entry each write.
    const before = statSync(file).ino;
    await out.write(false);
    assert.notEqual(statSync(file).ino, before);
    for (const on of [true, true, false, true]) {
      await out.write(on);
      assert.equal(readFileSync(file, "utf8"), on ? "on\n" : "off\n");
    }
  });

  it("turns changes of a watched input file into events, ignoring junk and repeats", async () => {
    const env = freshEnv();
    const file = join(env.dir, "button.input");
    const input = await openInput({ name: "button", backend: { type: "simulated", file } }, env);
    const { events, reached } = await recordEvents(input);
    writeFileSync(file, "pressed\n");
    await reached(1, "pressed");
    writeFileSync(file, "banana\n");
    writeFileSync(file, "pressed\n");
    writeFileSync(file, "released\n");
    await reached(2, "released");
    assert.deepEqual(events, ["pressed", "released"]);
    await input.close();
  });

  it("a close while the input is still starting leaves no watcher behind", async () => {
    const env = freshEnv();
    const file = join(env.dir, "button.input");
    const input = await openInput({ name: "button", backend: { type: "simulated", file } }, env);
    await assertCloseDuringStartLeavesNothing(input, () => writeFileSync(file, "pressed\n"));
  });

  it("reads one event per line from a FIFO across several writers", async () => {
    const env = freshEnv();
    const fifo = join(env.dir, "button.fifo");
    execFileSync("mkfifo", [fifo]);
    const input = await openInput({ name: "button", backend: { type: "simulated", file: fifo } }, env);
    const { events, reached } = await recordEvents(input);
    execFileSync("sh", ["-c", `echo pressed > ${fifo}`]);
    execFileSync("sh", ["-c", `printf 'junk\\nreleased\\n' > ${fifo}`]);
    await reached(2, "two FIFO events");
    assert.deepEqual(events, ["pressed", "released"]);
    await input.close();
  });
});

// The libgpiod doubles: 1.6 as the small shell scripts below, 2.2 as test/fakes/libgpiod2.mjs (its header
// names the sources; test/integration/gpiod-tools.test.ts holds it against Debian 13's real binaries).

// The fake tools append a line to a log: the file exists (opened by >>) before its line is written,
// so only lines that end in a newline count.
const completeLines = (log: string): string[] => {
  if (!existsSync(log)) return [];
  const text = readFileSync(log, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l.length > 0);
};

/** A logger whose error lines the test can read. */
function capturingLogger(): { log: ReturnType<typeof createLogger>; errors: () => string[] } {
  const lines: string[] = [];
  return {
    log: createLogger({ write: (l) => lines.push(l), level: "debug" }),
    errors: () => lines.filter((l) => JSON.parse(l).level === "error"),
  };
}

const V1 = { major: 1, version: "1.6.3" } as const;
const V2 = { major: 2, version: "2.2.1" } as const;

type GpiodLine = Extract<OutputConfig["backend"], { type: "gpiod" }>;

/** The LED these tests drive through libgpiod: GPIO17, safe state off, unless `line` or `safeState` say otherwise. */
const gpiodLed = (line: Partial<GpiodLine> = {}, safeState: SafeState = "off"): OutputConfig => ({
  name: "led",
  safeState,
  backend: { type: "gpiod", line: "GPIO17", ...line },
});

/** The button of the dev stack: GPIO27 with the pull-up on, pressed = pulled to ground. */
const PI_BUTTON: InputConfig = {
  name: "button",
  backend: { type: "gpiod", line: "GPIO27", bias: "pull-up", activeLow: true },
};

/**
 * Runs `body` with an opened line that the body may close itself (to assert what close releases); when the body
 * fails before that, the line is closed here, so a fake tool (sleep 1000) cannot hold the test process open.
 */
async function closingOnce(line: { close(): Promise<void> }, body: (close: () => Promise<void>) => Promise<void>) {
  let closed = false;
  try {
    await body(async () => {
      await line.close();
      closed = true;
    });
  } finally {
    if (!closed) await line.close();
  }
}

describe("libgpiod CLI backend: version and parsing", () => {
  it("tells 1.x from 2.x by `gpioset --version`, and refuses a major it does not know", () => {
    // First lines as printed by Debian 12's gpiod 1.6.3 and Debian 13's gpiod 2.2.1.
    assert.deepEqual(parseLibgpiodVersion("gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018"), V1);
    assert.deepEqual(parseLibgpiodVersion("gpioset (libgpiod) v2.2.1\nCopyright (C) 2017-2023"), V2);
    assert.deepEqual(parseLibgpiodVersion("gpioset (libgpiod) v2.3"), { major: 2, version: "2.3" });
    assert.equal(parseLibgpiodVersion("gpioset (libgpiod) v3.0.0"), undefined);
    assert.equal(parseLibgpiodVersion("gpioset: unrecognized option"), undefined);
  });

  it("parses gpiofind, a 1.x or 2.x gpioinfo listing, and 2.x `gpioinfo NAME`, with the line's holder", () => {
    assert.deepEqual(parseGpiofind("gpiochip0 17\n"), { chip: "gpiochip0", offset: 17 });
    assert.equal(parseGpiofind(""), undefined);
    const v1 = [
      "gpiochip0 - 54 lines:",
      '\tline   0:      "ID_SDA"       unused   input  active-high ',
      '\tline  17:      "GPIO17"       unused   input  active-high ',
      "gpiochip1 - 8 lines:",
      '\tline   2:   "GPIO27"  "gpioset"  output  active-high [used]',
    ].join("\n");
    assert.deepEqual(parseGpioinfo(v1, "GPIO27"), { chip: "gpiochip1", offset: 2, consumer: "gpioset" });
    assert.deepEqual(parseGpioinfo(v1, "GPIO17"), { chip: "gpiochip0", offset: 17 });
    assert.equal(parseGpioinfo(v1, "GPIO4"), undefined);
    // 2.x rows: tools-common.c print_line_attributes(), gpioinfo.c print_line_info().
    const v2 = 'gpiochip0 - 54 lines:\n\tline  17:\t"GPIO17"        \toutput consumer="diy-device"\n';
    assert.deepEqual(parseGpioinfo(v2, "GPIO17"), { chip: "gpiochip0", offset: 17, consumer: "diy-device" });
    assert.deepEqual(parseGpioinfoLine('gpiochip0 27\t"GPIO27"        \tinput\n'), { chip: "gpiochip0", offset: 27 });
    assert.deepEqual(parseGpioinfoLine('gpiochip10 9\t"2712_STAT_LED"\toutput active-low consumer="ACT"\n'), {
      chip: "gpiochip10",
      offset: 9,
      consumer: "ACT",
    });
  });

  it("builds 1.6 and 2.x command lines for the same line", () => {
    const loc = { chip: "gpiochip0", offset: 17 };
    const opts = { line: "GPIO17", activeLow: true, bias: "disable" } as const;
    assert.deepEqual(gpiosetArgs(V1, loc, opts, true), [
      "--mode=signal",
      "--active-low",
      "--bias=disable",
      "gpiochip0",
      "17=1",
    ]);
    assert.deepEqual(gpiomonArgs(V1, loc, { line: "GPIO17", bias: "pull-up" }), [
      "--line-buffered",
      "--format=%e",
      "--bias=pull-up",
      "gpiochip0",
      "17",
    ]);
    // 2.x: the bias is "disabled", the banner says when the line is held, the consumer names us.
    assert.deepEqual(gpiosetArgs(V2, loc, opts, false), [
      "--banner",
      "--chip",
      "gpiochip0",
      "--consumer",
      "diy-device",
      "--active-low",
      "--bias",
      "disabled",
      "17=0",
    ]);
    assert.deepEqual(gpiomonArgs(V2, loc, { line: "GPIO17" }), [
      "--banner",
      "--chip",
      "gpiochip0",
      "--consumer",
      "diy-device",
      "--edges",
      "both",
      "--format",
      "%E",
      "17",
    ]);
    // gpiomon's %e is "1"/"0" in 1.6 and "1"/"2" in 2.x: 2.x uses %E, rising/falling.
    assert.deepEqual(
      ["1", "0", "2"].map((l) => parseEdge(V1, l)),
      ["pressed", "released", undefined],
    );
    assert.deepEqual(
      ["rising", "falling", "2"].map((l) => parseEdge(V2, l)),
      ["pressed", "released", undefined],
    );
  });

  it("names the package to install when there are no libgpiod tools at all", async () => {
    const env = freshEnv();
    env.gpiodBinDir = join(env.dir, "empty");
    await assert.rejects(
      openOutput(gpiodLed(), env, false),
      /libgpiod tools not found .*ENOENT.*install the Debian package "gpiod"/,
    );
  });
});

describe("libgpiod 1.6 CLI backend", () => {
  // Fake 1.6 tools that log their arguments and pid, so the test sees which process holds the line.
  // `--version` prints what Debian 12's gpiod 1.6.3 prints.
  function fakeTools(env: BackendEnv & { dir: string }, gpiosetBody?: string): string {
    const bin = join(env.dir, "bin");
    const log = join(env.dir, "gpio.log");
    mkdirSync(bin);
    const version = (tool: string) => `if [ "$1" = --version ]; then echo "${tool} (libgpiod) v1.6.3"; exit 0; fi`;
    const tools: Record<string, string> = {
      gpiofind: 'if [ "$1" = GPIO17 ]; then echo "gpiochip0 17"; else exit 1; fi',
      gpioinfo: "printf 'gpiochip0 - 54 lines:\\n\\tline  27:  \"GPIO27\"  unused input active-high\\n'",
      gpioset: gpiosetBody ?? `echo "set $$ $*" >> ${log}; exec sleep 1000`,
      gpiomon: `echo "mon $$ $*" >> ${log}; sleep 0.1; echo 1; sleep 0.1; echo 0; exec sleep 1000`,
    };
    for (const [name, body] of Object.entries(tools)) {
      writeFileSync(join(bin, name), `#!/bin/sh\n${version(name)}\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    }
    env.gpiodBinDir = bin;
    return log;
  }

  it("holds an output with one gpioset process and replaces it (old one gone first) on each change", async () => {
    const env = freshEnv();
    const log = fakeTools(env);
    const out = await openOutput(gpiodLed({ activeLow: true }), env, false);
    await closingOnce(out, async (close) => {
      assert.match(out.description, /^gpiod:GPIO17\(gpiochip0\/17\) libgpiod 1\.6\.3$/);
      const first = await waitUntil(() => completeLines(log)[0], "gpioset start", FAKE_TOOL_WAIT);
      assert.match(first, /^set \d+ --mode=signal --active-low gpiochip0 17=0$/);
      await out.write(true);
      const lines = await waitUntil(
        () => {
          const l = completeLines(log);
          return l.length >= 2 ? l : undefined;
        },
        "second gpioset",
        FAKE_TOOL_WAIT,
      );
      assert.match(lines[1] ?? "", /^set \d+ --mode=signal --active-low gpiochip0 17=1$/);
      const [pid1, pid2] = lines.map((l) => Number(l.split(" ")[1]));
      assert.equal(processAlive(pid1 ?? 0), false, "the first gpioset released the line");
      assert.equal(processAlive(pid2 ?? 0), true, "the second gpioset holds it");
      await close();
      assert.equal(processAlive(pid2 ?? 0), false, "close releases the line");
    });
  });

  it("finds an input by gpioinfo when gpiofind does not know it and maps edges to events", async () => {
    const env = freshEnv();
    const log = fakeTools(env);
    const input = await openInput(PI_BUTTON, env);
    await closingOnce(input, async (close) => {
      const { events, reached } = await recordEvents(input);
      await reached(2, "two edges");
      assert.deepEqual(events, ["pressed", "released"]);
      assert.match(read(log), /^mon \d+ --line-buffered --format=%e --active-low --bias=pull-up gpiochip0 27$/);
      const pid = Number(read(log).split(" ")[1]);
      await close();
      assert.equal(processAlive(pid), false);
    });
  });

  it("says that the line is busy when 1.6's gpioset cannot take it", async () => {
    const env = freshEnv();
    // tools/gpioset.c (v1.6): die_perror("error setting the GPIO line values") -> EBUSY, exit 1.
    fakeTools(env, 'echo "$0: error setting the GPIO line values: Device or resource busy" >&2; exit 1');
    const { log, errors } = capturingLogger();
    env.log = log;
    const out = await openOutput(gpiodLed(), env, false);
    try {
      const line = await waitUntil(() => errors()[0], "the error about the busy line", FAKE_TOOL_WAIT);
      assert.match(line, /GPIO line GPIO17 \(gpiochip0 17\) is busy: another process or a kernel driver holds it/);
    } finally {
      await out.close();
    }
  });

  it("names a line that no tool knows", async () => {
    const env = freshEnv();
    fakeTools(env);
    await assert.rejects(openOutput(gpiodLed({ line: "GPIO99" }), env, false), /GPIO line "GPIO99" not found/);
  });
});

describe("libgpiod 2.x CLI backend", () => {
  function fake2(env: BackendEnv & { dir: string }, chips = [piChip()]) {
    const gpio = installFakeLibgpiod2(env.dir, chips);
    env.gpiodBinDir = gpio.bin;
    return gpio;
  }

  it("finds GPIO17 by name and holds it with one gpioset per value, the old one gone before the next", async () => {
    const env = freshEnv();
    const gpio = fake2(env);
    const out = await openOutput(gpiodLed(), env, false);
    await closingOnce(out, async (close) => {
      assert.equal(out.description, "gpiod:GPIO17(gpiochip0/17) libgpiod 2.2.1");
      // Resolved: the line is held (the banner came), at the safe state, by us.
      assert.equal(gpio.value("gpiochip0", 17), 0);
      const first = gpio.holder("gpiochip0", 17);
      assert.equal(first?.consumer, "diy-device");
      // The double gives a line to one requester at a time, as the kernel does: a second gpioset started
      // before the first is gone would fail with "Device or resource busy" and this write would reject.
      await out.write(true);
      assert.equal(gpio.value("gpiochip0", 17), 1);
      const second = gpio.holder("gpiochip0", 17);
      assert.ok(second && second.pid !== first?.pid);
      assert.equal(processAlive(first?.pid ?? 0), false, "the first gpioset released the line");
      await out.write(false);
      assert.equal(gpio.value("gpiochip0", 17), 0);
      await close();
      assert.equal(gpio.holder("gpiochip0", 17), undefined, "close releases the line");
    });
  });

  it("drives an active-low line low for on and passes bias `disable` as 2.x's `disabled`", async () => {
    const env = freshEnv();
    const gpio = fake2(env);
    const out = await openOutput(gpiodLed({ activeLow: true, bias: "disable" }, "on"), env, true);
    try {
      assert.equal(gpio.value("gpiochip0", 17), 0, "on is the low level on an active-low line");
      await out.write(false);
      assert.equal(gpio.value("gpiochip0", 17), 1);
    } finally {
      await out.close();
    }
  });

  it("reports a button on GPIO27 (pull-up, active-low) pressed and released through gpiomon", async () => {
    const env = freshEnv();
    const gpio = fake2(env);
    const input = await openInput(PI_BUTTON, env);
    try {
      const { events, reached } = await recordEvents(input);
      assert.equal(gpio.holder("gpiochip0", 27)?.consumer, "diy-device");
      gpio.pull("gpiochip0", 27, "pull-down"); // the button pulls the line to ground
      await reached(1, "pressed");
      gpio.pull("gpiochip0", 27, "pull-up");
      await reached(2, "released");
      assert.deepEqual(events, ["pressed", "released"]);
    } finally {
      await input.close();
    }
    assert.equal(gpio.holder("gpiochip0", 27), undefined, "close releases the line");
  });

  it("says who holds a busy line: a kernel driver, or another process", async () => {
    const env = freshEnv();
    // GPIO17 claimed by dtoverlay=gpio-led,label=led: the kernel's gpio-leds driver is its consumer.
    const gpio = fake2(env, [{ ...piChip(), kernel: { 17: "led" } }]);
    await assert.rejects(
      openOutput(gpiodLed(), env, false),
      /GPIO line GPIO17 \(gpiochip0 17\) is busy: "led" holds it\. Stop that holder \(for a kernel driver, remove the dtoverlay/,
    );
    const other = spawn(join(gpio.bin, "gpioset"), ["--banner", "GPIO27=1"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      await waitUntil(() => gpio.holder("gpiochip0", 27), "the other gpioset", FAKE_TOOL_WAIT);
      const input = await openInput({ name: "button", backend: { type: "gpiod", line: "GPIO27" } }, env);
      await assert.rejects(
        input.start(() => {}),
        /GPIO line GPIO27 \(gpiochip0 27\) is busy: "gpioset" holds it/,
      );
      await input.close();
    } finally {
      other.kill("SIGTERM");
    }
  });

  it("takes the line again with backoff when its gpioset dies, at the value it had", async () => {
    const env = freshEnv();
    const gpio = fake2(env);
    const { log, errors } = capturingLogger();
    env.log = log;
    const out = await openOutput(gpiodLed(), env, false);
    try {
      await out.write(true);
      const first = gpio.holder("gpiochip0", 17);
      assert.ok(first);
      process.kill(first.pid, "SIGKILL");
      const again = await waitUntil(
        () => {
          const h = gpio.holder("gpiochip0", 17);
          return h && h.pid !== first.pid ? h : undefined;
        },
        "a new gpioset",
        FAKE_TOOL_WAIT,
      );
      assert.equal(again.consumer, "diy-device");
      assert.equal(gpio.value("gpiochip0", 17), 1);
      assert.match(errors()[0] ?? "", /gpioset exited; the line is no longer held.*was killed by SIGKILL/);
    } finally {
      await out.close();
    }
  });

  it("uses a line gpioinfo found although it could not open another chip (exit status 1)", async () => {
    const env = freshEnv();
    const gpio = fake2(env);
    // gpioinfo.c main(): print_perror("unable to open chip '%s'") for that chip, ret = EXIT_FAILURE, and on.
    writeFileSync(
      join(gpio.bin, "gpioinfo"),
      `#!/bin/sh\nprintf 'gpiochip0 17\\t"GPIO17"        \\tinput\\n'\necho "$0: unable to open chip '/dev/gpiochip4': Permission denied" >&2\nexit 1\n`,
    );
    const out = await openOutput(gpiodLed(), env, false);
    try {
      assert.equal(out.description, "gpiod:GPIO17(gpiochip0/17) libgpiod 2.2.1");
      assert.equal(gpio.value("gpiochip0", 17), 0);
    } finally {
      await out.close();
    }
  });

  it("names a line no chip has", async () => {
    const env = freshEnv();
    fake2(env);
    await assert.rejects(
      openOutput(gpiodLed({ line: "GPIO99" }), env, false),
      /GPIO line "GPIO99" not found: no GPIO chip names a line so/,
    );
  });
});
