import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Backend } from "../config";
import { readTrimmed } from "./fsutil";
import type { BackendEnv, OutputLine } from "./types";

/**
 * Boards whose LED lights at brightness 0 although the kernel is meant to hide the polarity. Raspberry Pi 5
 * (BCM2712; also CM5 and Pi 500): its device tree (raspberrypi/linux arch/arm64/boot/dts/broadcom/
 * bcm2712-rpi-5-b.dts) declares `led_act: led-act { label = "ACT"; gpios = <&gio_aon 9 GPIO_ACTIVE_LOW>;
 * default-state = "off"; linux,default-trigger = "mmc0"; }`, yet with trigger `none` writing 1 turns the
 * LED off and 0 turns it on (raspberrypi/linux issue #6783, kernel 6.12.20+rpt-rpi-2712; the LED also stays
 * lit while mmc0 is idle). Its PWR LED (rp1_gpio 44, GPIO_ACTIVE_LOW) follows brightness as documented.
 * A config's explicit `activeLow` overrides this table.
 */
export const INVERTED_LEDS: readonly { compatible: string; led: string; source: string }[] = [
  { compatible: "brcm,bcm2712", led: "ACT", source: "Raspberry Pi 5 ACT LED (raspberrypi/linux#6783)" },
];

/** The board's device-tree `compatible` strings (NUL-separated in sysfs); empty off device-tree boards. */
async function compatibles(env: BackendEnv): Promise<string[]> {
  try {
    const raw = await readFile(join(env.sysfsRoot, "firmware", "devicetree", "base", "compatible"), "utf8");
    return raw.split("\0").filter((c) => c.length > 0);
  } catch {
    return [];
  }
}

/**
 * Kernel LED class (/sys/class/leds/<led>): BeagleBone user LEDs, the Pi's ACT LED, `dtoverlay=gpio-led`.
 * The trigger is set to `none` first, or a heartbeat/mmc trigger keeps overriding our brightness.
 */
export async function openLedOutput(cfg: Extract<Backend, { type: "led" }>, env: BackendEnv): Promise<OutputLine> {
  const names = [cfg.led, ...(cfg.alternatives ?? [])];
  const led = names.find((n) => existsSync(join(env.sysfsRoot, "class", "leds", n, "brightness")));
  if (led === undefined) {
    const looked = names.map((n) => `${join(env.sysfsRoot, "class", "leds", n)}/brightness`).join(", ");
    throw new Error(
      `kernel LED ${names.join(" or ")} not found: ${looked} does not exist (check the name under /sys/class/leds)`,
    );
  }
  const dir = join(env.sysfsRoot, "class", "leds", led);
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
  let inverted = cfg.activeLow;
  if (inverted === undefined) {
    const board = await compatibles(env);
    const quirk = INVERTED_LEDS.find((q) => q.led === led && board.includes(q.compatible));
    if (quirk) env.log.info("kernel LED lights at brightness 0 on this board: inverting", { led, why: quirk.source });
    inverted = quirk !== undefined;
  }
  return {
    description: `led:${led}${inverted ? " (active-low)" : ""}`,
    write: (on) => writeFile(join(dir, "brightness"), String(on !== inverted ? max : 0)),
    close: async () => {},
  };
}
