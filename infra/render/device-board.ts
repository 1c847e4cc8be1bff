// Board profiles: what an output or input drives when the stack config names no backend, and what
// the chosen backends need on the board (a Debian package, group membership, a udev rule).
import type { Backend, Board, InputBackend } from "../../device/config";

// The types are the device config schema's (device/config.ts): the one definition of a board and a backend.
export type { Backend, Board, InputBackend };

/** The wiring docs/devices.md describes: an LED on GPIO17 (pin 11), a button on GPIO27 (pin 13). */
const PI_DEFAULT_OUTPUT_LINES = ["GPIO17"];
const PI_DEFAULT_INPUT_LINES = ["GPIO27"];
/** The BeagleBone Black's four user LEDs need no wiring and are kernel LEDs on every image. */
const BBB_USER_LEDS = [0, 1, 2, 3].map((n) => `beaglebone:green:usr${n}`);
/**
 * The Pi's on-board LEDs: current kernels (Raspberry Pi OS bookworm and trixie) name them ACT and PWR
 * (raspberrypi/linux bcm283x-rpi-led-deprecated.dtsi, bcm2712-rpi-5-b.dts: `label = "ACT"`); older ones
 * named them led0 and led1. Either name in a config finds the LED under whichever name the kernel uses.
 */
const PI_LED_NAMES: readonly (readonly string[])[] = [
  ["ACT", "led0"],
  ["PWR", "led1"],
];

export interface BoardProfile {
  board: Board;
  title: string;
  /** Backend of the n-th output when the config names none; undefined when the board has no default. */
  defaultOutput(index: number): Backend | undefined;
  /** Backend of the n-th input when the config names none; undefined when the board has no default. */
  defaultInput(index: number): InputBackend | undefined;
  /** A configured backend as this board runs it (the Pi's ACT LED is also looked for as led0). */
  adapt(backend: Backend): Backend;
}

export const BOARD_PROFILES: Record<Board, BoardProfile> = {
  raspberrypi: {
    board: "raspberrypi",
    title: "Raspberry Pi (Raspberry Pi OS bookworm or trixie)",
    adapt: (b) => {
      if (b.type !== "led" || b.alternatives !== undefined) return b;
      const names = PI_LED_NAMES.find((n) => n.includes(b.led));
      return names ? { ...b, alternatives: names.filter((n) => n !== b.led) } : b;
    },
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
    adapt: (b) => b,
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
    adapt: (b) => b,
    // Nothing is known about the hardware: simulate, so the device still shows up and answers.
    defaultOutput: () => ({ type: "simulated" }),
    defaultInput: () => ({ type: "simulated" }),
  },
};

function lineBackend(line: string | undefined): Backend | undefined {
  return line === undefined ? undefined : { type: "gpiod", line };
}

export interface ResolvedBackends {
  outputs: Backend[];
  inputs: InputBackend[];
  /** What is wrong with the n-th output or input; empty when every line has a backend the board can run. */
  problems: { kind: "output" | "input"; index: number; problem: string }[];
}

/**
 * The backend of every output and input of a device: the configured one as the board runs it, else the
 * board profile's default. The stack config (infra/config.ts) and the device config renderer both use it.
 */
export function resolveBackends(
  board: Board,
  outputs: readonly { backend?: Backend | undefined }[],
  inputs: readonly { backend?: Backend | undefined }[],
): ResolvedBackends {
  const profile = BOARD_PROFILES[board];
  const problems: ResolvedBackends["problems"] = [];
  const missing = (kind: "output" | "input", index: number) =>
    problems.push({
      kind,
      index,
      problem: `needs a backend (${profile.title} has no default for ${kind} #${index + 1})`,
    });
  const resolvedOutputs = outputs.map((o, i): Backend => {
    const b = o.backend ? profile.adapt(o.backend) : profile.defaultOutput(i);
    if (b === undefined) missing("output", i);
    return b ?? { type: "simulated" };
  });
  const resolvedInputs = inputs.map((o, i): InputBackend => {
    const b = o.backend ?? profile.defaultInput(i);
    if (b === undefined) missing("input", i);
    else if (b.type === "led") {
      problems.push({
        kind: "input",
        index: i,
        problem: "uses a kernel LED, which is output only; use gpiod, sysfs or simulated",
      });
    } else return b;
    return { type: "simulated" };
  });
  return { outputs: resolvedOutputs, inputs: resolvedInputs, problems };
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
  // Every name an LED may have on the board gets its grant: which one the kernel uses is known only there.
  const kernelLeds = [
    ...new Set(backends.flatMap((b) => (b.type === "led" ? [b.led, ...(b.alternatives ?? [])] : []))),
  ].sort();
  const gpiod = backends.some((b) => b.type === "gpiod");
  return { gpiod, gpioGroup: gpiod || backends.some((b) => b.type === "sysfs"), kernelLeds };
}
