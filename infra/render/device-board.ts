// Board profiles: what an output or input drives when the stack config names no backend, and what
// the chosen backends need on the board (a Debian package, group membership, a udev rule).
import type { Backend, InputConfig } from "../../device/config";

export type Board = "raspberrypi" | "beaglebone" | "generic";
export const BOARDS: readonly Board[] = ["raspberrypi", "beaglebone", "generic"];

export type InputBackend = InputConfig["backend"];

/** The wiring docs/devices.md describes: an LED on GPIO17 (pin 11), a button on GPIO27 (pin 13). */
const PI_DEFAULT_OUTPUT_LINES = ["GPIO17"];
const PI_DEFAULT_INPUT_LINES = ["GPIO27"];
/** The BeagleBone Black's four user LEDs need no wiring and are kernel LEDs on every image. */
const BBB_USER_LEDS = [0, 1, 2, 3].map((n) => `beaglebone:green:usr${n}`);

export interface BoardProfile {
  board: Board;
  title: string;
  /** Backend of the n-th output when the config names none; undefined when the board has no default. */
  defaultOutput(index: number): Backend | undefined;
  /** Backend of the n-th input when the config names none; undefined when the board has no default. */
  defaultInput(index: number): InputBackend | undefined;
}

export const BOARD_PROFILES: Record<Board, BoardProfile> = {
  raspberrypi: {
    board: "raspberrypi",
    title: "Raspberry Pi (Raspberry Pi OS bookworm or later)",
    // Looked up by line name: Pi 5 renamed the chip and new kernels offset sysfs numbers.
    defaultOutput: (i) => lineBackend(PI_DEFAULT_OUTPUT_LINES[i]),
    // The button pulls the line to ground, so the internal pull-up keeps it high when released.
    defaultInput: (i) => {
      const line = PI_DEFAULT_INPUT_LINES[i];
      return line === undefined ? undefined : { type: "gpiod", line, activeLow: true, bias: "pull-up" };
    },
  },
  beaglebone: {
    board: "beaglebone",
    title: "BeagleBone Black (Debian image)",
    defaultOutput: (i) => {
      const led = BBB_USER_LEDS[i];
      return led === undefined ? undefined : { type: "led", led };
    },
    // Header pins have board-specific line names; an input must name its own.
    defaultInput: () => undefined,
  },
  generic: {
    board: "generic",
    title: "Generic Linux board (Debian or Ubuntu)",
    // Nothing is known about the hardware: simulate, so the device still shows up and answers.
    defaultOutput: () => ({ type: "simulated" }),
    defaultInput: () => ({ type: "simulated" }),
  },
};

function lineBackend(line: string | undefined): Backend | undefined {
  return line === undefined ? undefined : { type: "gpiod", line };
}

/** What the install script must arrange on the board for a set of backends. */
export interface BackendNeeds {
  /** libgpiod's CLI (gpioset/gpioget) from the `gpiod` Debian package. */
  gpiod: boolean;
  /** /dev/gpiochip* or /sys/class/gpio access through the `gpio` group. */
  gpioGroup: boolean;
  /** Kernel LEDs whose brightness/trigger the service writes (granted by a udev rule). */
  kernelLeds: string[];
}

export function backendNeeds(backends: readonly Backend[]): BackendNeeds {
  const kernelLeds = [...new Set(backends.flatMap((b) => (b.type === "led" ? [b.led] : [])))].sort();
  const gpiod = backends.some((b) => b.type === "gpiod");
  return { gpiod, gpioGroup: gpiod || backends.some((b) => b.type === "sysfs"), kernelLeds };
}
