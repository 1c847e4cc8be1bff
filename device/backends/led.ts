import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readTrimmed } from "./fsutil";
import type { BackendEnv, OutputLine } from "./types";

/**
 * Kernel LED class (/sys/class/leds/<led>): BeagleBone user LEDs, a Pi with `dtoverlay=gpio-led`.
 * The trigger is set to `none` first, or a heartbeat/mmc trigger keeps overriding our brightness.
 */
export async function openLedOutput(led: string, env: BackendEnv): Promise<OutputLine> {
  const dir = join(env.sysfsRoot, "class", "leds", led);
  if (!existsSync(join(dir, "brightness"))) {
    throw new Error(
      `kernel LED ${led} not found: ${dir}/brightness does not exist (check the name under /sys/class/leds)`,
    );
  }
  const triggerPath = join(dir, "trigger");
  if (existsSync(triggerPath)) await writeFile(triggerPath, "none");
  // max_brightness is 1 for GPIO LEDs, 255 for PWM ones; "on" means full brightness.
  let max = 1;
  try {
    const parsed = Number.parseInt(await readTrimmed(join(dir, "max_brightness")), 10);
    if (parsed > 0) max = parsed;
  } catch {
    env.log.warn("kernel LED has no readable max_brightness, using 1", { led });
  }
  return {
    description: `led:${led}`,
    write: (on) => writeFile(join(dir, "brightness"), String(on ? max : 0)),
    close: async () => {},
  };
}
