import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readTrimmed, waitForPath } from "./fsutil";
import type { BackendEnv, InputEvent, InputLine, OutputLine } from "./types";

// Legacy /sys/class/gpio. Deprecated upstream but still the only interface on some old images.
// The number is global: on new Pi kernels it is the BCM number plus the chip base (512 or 571).

/** sysfs value files cannot be watched with inotify; polling a tiny file is cheap enough for a button. */
export const SYSFS_POLL_MS = 50;

async function exportLine(gpio: number, env: BackendEnv): Promise<string> {
  const base = join(env.sysfsRoot, "class", "gpio");
  const dir = join(base, `gpio${gpio}`);
  if (!existsSync(dir)) {
    if (!existsSync(join(base, "export")))
      throw new Error(`legacy sysfs GPIO is not available: ${base}/export does not exist`);
    await writeFile(join(base, "export"), String(gpio));
    if (!(await waitForPath(join(dir, "value")))) {
      throw new Error(
        `gpio${gpio} did not appear after export; on new Pi kernels use the number plus the chip base (e.g. 512 + BCM)`,
      );
    }
  }
  return dir;
}

async function unexportLine(gpio: number, env: BackendEnv): Promise<void> {
  try {
    await writeFile(join(env.sysfsRoot, "class", "gpio", "unexport"), String(gpio));
  } catch (err) {
    env.log.warn("sysfs unexport failed", { gpio, err });
  }
}

export async function openSysfsOutput(
  gpio: number,
  activeLow: boolean,
  env: BackendEnv,
  initial: boolean,
): Promise<OutputLine> {
  const dir = await exportLine(gpio, env);
  await writeFile(join(dir, "active_low"), activeLow ? "1" : "0");
  // "high"/"low" set direction and value in one write, so the line never glitches to the wrong level.
  await writeFile(join(dir, "direction"), initial !== activeLow ? "high" : "low");
  let closed = false;
  return {
    description: `sysfs:gpio${gpio}`,
    write: (on) => writeFile(join(dir, "value"), on ? "1" : "0"),
    close: async () => {
      if (closed) return;
      closed = true;
      await unexportLine(gpio, env);
    },
  };
}

export async function openSysfsInput(gpio: number, activeLow: boolean, env: BackendEnv): Promise<InputLine> {
  const dir = await exportLine(gpio, env);
  await writeFile(join(dir, "direction"), "in");
  await writeFile(join(dir, "active_low"), activeLow ? "1" : "0");
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  return {
    description: `sysfs:gpio${gpio}`,
    start: async (onEvent: (e: InputEvent) => void) => {
      let last = await readTrimmed(join(dir, "value"));
      if (closed) return; // stopped while this start was reading: no poll nobody will clear
      let busy = false;
      timer = setInterval(async () => {
        if (busy) return;
        busy = true;
        try {
          const now = await readTrimmed(join(dir, "value"));
          if (now !== last) {
            last = now;
            onEvent(now === "1" ? "pressed" : "released");
          }
        } catch (err) {
          env.log.warn("sysfs read failed", { gpio, err });
        } finally {
          busy = false;
        }
      }, SYSFS_POLL_MS);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      await unexportLine(gpio, env);
    },
  };
}
