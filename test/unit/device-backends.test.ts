import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type BackendEnv, type InputEvent, openInput, openOutput } from "../../device/backends";
import { gpiomonArgs, gpiosetArgs, libgpiodMajor, parseGpiofind, parseGpioinfo } from "../../device/backends/gpiod";
import { silentLogger } from "../../device/log";

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
async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
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
  });
});

describe("legacy sysfs GPIO backend", () => {
  // Plays the kernel: when a number is written to `export`, the gpioN directory appears.
  function fakeKernel(env: BackendEnv): () => void {
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
    return () => clearInterval(timer);
  }

  it("exports the configured number, sets direction with the initial level, writes values and unexports on close", async () => {
    const env = freshEnv();
    const stop = fakeKernel(env);
    try {
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
    } finally {
      stop();
    }
  });

  it("drives an active-low line low-level-high for off", async () => {
    const env = freshEnv();
    const stop = fakeKernel(env);
    try {
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
    } finally {
      stop();
    }
  });

  it("reports pressed and released when the input value changes", async () => {
    const env = freshEnv();
    const stop = fakeKernel(env);
    try {
      const input = await openInput({ name: "button", backend: { type: "sysfs", gpio: 530 } }, env);
      const events: InputEvent[] = [];
      await input.start((e) => events.push(e));
      const value = join(env.sysfsRoot, "class", "gpio", "gpio530", "value");
      assert.equal(read(join(env.sysfsRoot, "class", "gpio", "gpio530", "direction")), "in");
      writeFileSync(value, "1");
      await until(() => (events.length >= 1 ? true : undefined), "pressed");
      writeFileSync(value, "0");
      await until(() => (events.length >= 2 ? true : undefined), "released");
      assert.deepEqual(events, ["pressed", "released"]);
      await input.close();
    } finally {
      stop();
    }
  });

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
  });

  it("turns changes of a watched input file into events, ignoring junk and repeats", async () => {
    const env = freshEnv();
    const file = join(env.dir, "button.input");
    const input = await openInput({ name: "button", backend: { type: "simulated", file } }, env);
    const events: InputEvent[] = [];
    await input.start((e) => events.push(e));
    writeFileSync(file, "pressed\n");
    await until(() => (events.length >= 1 ? true : undefined), "pressed");
    writeFileSync(file, "banana\n");
    writeFileSync(file, "pressed\n");
    writeFileSync(file, "released\n");
    await until(() => (events.length >= 2 ? true : undefined), "released");
    assert.deepEqual(events, ["pressed", "released"]);
    await input.close();
  });

  it("reads one event per line from a FIFO across several writers", async () => {
    const env = freshEnv();
    const fifo = join(env.dir, "button.fifo");
    execFileSync("mkfifo", [fifo]);
    const input = await openInput({ name: "button", backend: { type: "simulated", file: fifo } }, env);
    const events: InputEvent[] = [];
    await input.start((e) => events.push(e));
    execFileSync("sh", ["-c", `echo pressed > ${fifo}`]);
    execFileSync("sh", ["-c", `printf 'junk\\nreleased\\n' > ${fifo}`]);
    await until(() => (events.length >= 2 ? true : undefined), "two FIFO events");
    assert.deepEqual(events, ["pressed", "released"]);
    await input.close();
  });
});

describe("libgpiod CLI backend", () => {
  it("parses gpiofind and finds a named line in gpioinfo output", () => {
    assert.deepEqual(parseGpiofind("gpiochip0 17\n"), { chip: "gpiochip0", offset: 17 });
    assert.equal(parseGpiofind(""), undefined);
    const info = [
      "gpiochip0 - 54 lines:",
      '\tline   0:      "ID_SDA"       unused   input  active-high ',
      '\tline  17:      "GPIO17"       unused   input  active-high ',
      "gpiochip1 - 8 lines:",
      '\tline   2:   "GPIO27"  "gpioset"  output  active-high [used]',
    ].join("\n");
    assert.deepEqual(parseGpioinfo(info, "GPIO27"), { chip: "gpiochip1", offset: 2 });
    assert.deepEqual(parseGpioinfo(info, "GPIO17"), { chip: "gpiochip0", offset: 17 });
    assert.equal(parseGpioinfo(info, "GPIO4"), undefined);
  });

  it("builds libgpiod 1.6 arguments with active-low and bias", () => {
    const loc = { chip: "gpiochip0", offset: 17 };
    assert.deepEqual(gpiosetArgs(loc, { line: "GPIO17", activeLow: true, bias: "disable" }, true), [
      "--mode=signal",
      "--active-low",
      "--bias=disable",
      "gpiochip0",
      "17=1",
    ]);
    assert.deepEqual(gpiomonArgs(loc, { line: "GPIO17", bias: "pull-up" }), [
      "--line-buffered",
      "--format=%e",
      "--bias=pull-up",
      "gpiochip0",
      "17",
    ]);
  });

  // Fake tools that log their arguments and pid, so the test sees which process holds the line.
  function fakeTools(env: BackendEnv & { dir: string }): string {
    const bin = join(env.dir, "bin");
    const log = join(env.dir, "gpio.log");
    mkdirSync(bin);
    const tools: Record<string, string> = {
      gpiofind: 'if [ "$1" = GPIO17 ]; then echo "gpiochip0 17"; else exit 1; fi',
      gpioinfo: "printf 'gpiochip0 - 54 lines:\\n\\tline  27:  \"GPIO27\"  unused input active-high\\n'",
      gpioset: `echo "set $$ $*" >> ${log}; exec sleep 1000`,
      gpiomon: `echo "mon $$ $*" >> ${log}; sleep 0.1; echo 1; sleep 0.1; echo 0; exec sleep 1000`,
    };
    for (const [name, body] of Object.entries(tools)) {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    }
    env.gpiodBinDir = bin;
    return log;
  }

  // The fake tools append a line to the log: the file exists (opened by >>) before its line is written,
  // so only lines that end in a newline count.
  const completeLines = (log: string): string[] => {
    if (!existsSync(log)) return [];
    const text = readFileSync(log, "utf8");
    return text
      .slice(0, text.lastIndexOf("\n") + 1)
      .split("\n")
      .filter((l) => l.length > 0);
  };

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("holds an output with one gpioset process and replaces it (old one gone first) on each change", async () => {
    const env = freshEnv();
    const log = fakeTools(env);
    const out = await openOutput(
      { name: "led", safeState: "off", backend: { type: "gpiod", line: "GPIO17", activeLow: true } },
      env,
      false,
    );
    let closed = false;
    try {
      const first = await until(() => completeLines(log)[0], "gpioset start");
      assert.match(first, /^set \d+ --mode=signal --active-low gpiochip0 17=0$/);
      await out.write(true);
      const lines = await until(() => {
        const l = completeLines(log);
        return l.length >= 2 ? l : undefined;
      }, "second gpioset");
      assert.match(lines[1] ?? "", /^set \d+ --mode=signal --active-low gpiochip0 17=1$/);
      const [pid1, pid2] = lines.map((l) => Number(l.split(" ")[1]));
      assert.equal(alive(pid1 ?? 0), false, "the first gpioset released the line");
      assert.equal(alive(pid2 ?? 0), true, "the second gpioset holds it");
      await out.close();
      closed = true;
      assert.equal(alive(pid2 ?? 0), false, "close releases the line");
    } finally {
      // A failed assertion must not leave the fake gpioset (sleep 1000) holding the test process open.
      if (!closed) await out.close();
    }
  });

  it("finds an input by gpioinfo when gpiofind does not know it and maps edges to events", async () => {
    const env = freshEnv();
    const log = fakeTools(env);
    const input = await openInput(
      { name: "button", backend: { type: "gpiod", line: "GPIO27", bias: "pull-up", activeLow: true } },
      env,
    );
    const events: InputEvent[] = [];
    let closed = false;
    try {
      await input.start((e) => events.push(e));
      await until(() => (events.length >= 2 ? true : undefined), "two edges");
      assert.deepEqual(events, ["pressed", "released"]);
      assert.match(read(log), /^mon \d+ --line-buffered --format=%e --active-low --bias=pull-up gpiochip0 27$/);
      const pid = Number(read(log).split(" ")[1]);
      await input.close();
      closed = true;
      assert.equal(alive(pid), false);
    } finally {
      if (!closed) await input.close();
    }
  });

  it("refuses libgpiod 2 tools (no gpiofind) with a message naming the alternatives", async () => {
    const env = freshEnv();
    const bin = join(env.dir, "bin2");
    mkdirSync(bin);
    writeFileSync(join(bin, "gpioinfo"), '#!/bin/sh\n[ "$1" = --version ] && echo "gpioinfo (libgpiod) v2.1.3"\n');
    chmodSync(join(bin, "gpioinfo"), 0o755);
    env.gpiodBinDir = bin;
    await assert.rejects(
      openOutput({ name: "led", safeState: "off", backend: { type: "gpiod", line: "GPIO17" } }, env, false),
      /libgpiod 2\.x tools found.*"led".*"sysfs"/,
    );
    assert.equal(libgpiodMajor("gpioset (libgpiod) v1.6.3"), 1);
  });

  it("names a line that no tool knows", async () => {
    const env = freshEnv();
    fakeTools(env);
    await assert.rejects(
      openOutput({ name: "led", safeState: "off", backend: { type: "gpiod", line: "GPIO99" } }, env, false),
      /GPIO line "GPIO99" not found/,
    );
  });
});
