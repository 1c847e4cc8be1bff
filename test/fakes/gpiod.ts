// Installs the libgpiod 2.2 double (libgpiod2.mjs) as gpioinfo/gpioset/gpiomon wrappers in a directory,
// over simulated chips, and reads and drives those chips the way a test would through gpio-sim's sysfs
// attributes (`value` of an output, `pull` of an input).
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { processAlive } from "../support/daemon";

export interface FakeChip {
  name: string;
  /** Line names by offset; null = unnamed. */
  lines: (string | null)[];
  /** Lines a kernel driver holds (offset -> consumer), e.g. a gpio-leds LED. */
  kernel?: Record<number, string>;
}

export interface FakeLibgpiod2 {
  /** Directory holding gpioinfo, gpioset and gpiomon. */
  bin: string;
  /** Physical output level of a line (gpio-sim `value`), undefined when nothing ever drove it. */
  value(chip: string, offset: number): 0 | 1 | undefined;
  /** Sets the simulated input level (gpio-sim `pull`). */
  pull(chip: string, offset: number, pull: "pull-up" | "pull-down"): void;
  /** Consumer and pid of the process holding a line, when one does. */
  holder(chip: string, offset: number): { consumer: string; pid: number } | undefined;
}

const SCRIPT = resolve(__dirname, "libgpiod2.mjs");

/** A Raspberry Pi 4/5 style chip: GPIO0..GPIO27 named as Raspberry Pi OS names them. */
export function piChip(name = "gpiochip0"): FakeChip {
  const lines = Array.from({ length: 28 }, (_, i) => `GPIO${i}`);
  lines[0] = "ID_SDA";
  lines[1] = "ID_SCL";
  return { name, lines };
}

export function installFakeLibgpiod2(dir: string, chips: FakeChip[]): FakeLibgpiod2 {
  const bin = join(dir, "bin");
  const state = join(dir, "gpio-sim");
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(state, "pull"), { recursive: true });
  writeFileSync(join(state, "chips.json"), JSON.stringify(chips));
  for (const tool of ["gpioinfo", "gpioset", "gpiomon"]) {
    writeFileSync(
      join(bin, tool),
      `#!/bin/sh\nFAKE_GPIO_DIR='${state}' exec '${process.execPath}' '${SCRIPT}' "$0" "$@"\n`,
    );
    chmodSync(join(bin, tool), 0o755);
  }
  return {
    bin,
    value(chip, offset) {
      const f = join(state, "value", `${chip}-${offset}`);
      return existsSync(f) ? (readFileSync(f, "utf8").trim() === "1" ? 1 : 0) : undefined;
    },
    pull(chip, offset, pull) {
      // Whole or not at all: the fake gpiomon polls this file and must never read it half-written.
      const f = join(state, "pull", `${chip}-${offset}`);
      writeFileSync(`${f}.tmp`, pull);
      renameSync(`${f}.tmp`, f);
    },
    holder(chip, offset) {
      let r: { consumer: string; pid: number };
      try {
        r = JSON.parse(readFileSync(join(state, "requests", `${chip}-${offset}`), "utf8"));
      } catch {
        return undefined; // never requested, or released just now
      }
      return processAlive(r.pid) ? { consumer: r.consumer, pid: r.pid } : undefined;
    },
  };
}
