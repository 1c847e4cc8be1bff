import { readFileSync } from "node:fs";
import { z } from "zod";
import { IOT_THING_NAME_PATTERN, clientIdProblem, isDeviceId, isIoName } from "../protocol";
import { bool, show, str, unknownType, wholeNumber } from "./config-fields";
import { SensorConfig } from "./sensors/config";

// The device service's config file (/etc/diy-device/config.json). Written by the provisioning
// renderer (infra/render/device-*.ts imports these types), read once at start by device/main.ts.

const absPath = z.string().startsWith("/", "must be an absolute path");

/** The boards infra has a profile for (infra/render/device-board.ts): what the stack's `board` may name. */
export const BOARDS = ["raspberrypi", "beaglebone", "generic"] as const;
export const Board = z.enum(BOARDS, {
  error: (iss) => `board must be ${BOARDS.slice(0, -1).join(", ")} or ${BOARDS.at(-1)}, got ${show(iss.input)}`,
});
export type Board = z.infer<typeof Board>;

/** A name under /sys/class/leds (no '/'): it also becomes a udev match (infra/render/device-udev.ts). */
const ledName = str("led").regex(/^[A-Za-z0-9][A-Za-z0-9:_.+-]{0,63}$/, {
  error: (iss) => `led ${show(iss.input)} is not a kernel LED name (see /sys/class/leds)`,
});

/** Unset: only where a board is known to invert it (device/backends/led.ts); gpiod and sysfs: not inverted. */
const activeLow = bool("activeLow");

/** Kernel LED class: /sys/class/leds/<led>/brightness (BBB user LEDs, the Pi's ACT LED, `dtoverlay=gpio-led`). */
export const LedBackend = z.strictObject({
  type: z.literal("led"),
  led: ledName,
  /** Names the same LED has on other kernels, tried in order when `led` is absent (Pi: ACT was led0). */
  alternatives: z.array(ledName).max(4).optional(),
  activeLow: activeLow.optional(),
});

/** libgpiod CLI: the line is found by its name, so chip renumbering (Pi 5) does not matter. */
export const GpiodBackend = z.strictObject({
  type: z.literal("gpiod"),
  line: str("line")
    .min(1, { error: "line must name a GPIO line, e.g. GPIO17" })
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, {
      error: (iss) => `line ${show(iss.input)} is not a GPIO line name (e.g. GPIO17)`,
    }),
  activeLow: activeLow.optional(),
  bias: z
    .enum(["pull-up", "pull-down", "disable"], {
      error: (iss) => `bias must be pull-up, pull-down or disable, got ${show(iss.input)}`,
    })
    .optional(),
});

/** Legacy /sys/class/gpio: the number is the global one (offset by the chip base on new Pi kernels). */
export const SysfsBackend = z.strictObject({
  type: z.literal("sysfs"),
  gpio: wholeNumber("gpio", 0, 4095),
  activeLow: activeLow.optional(),
});

/**
 * Simulated: an output writes its state to `file`; an input reads events from `file` (a plain file
 * or a FIFO). Without `file` the service uses `<stateDir>/<name>.state` (outputs) or `.input` (inputs).
 */
export const SimulatedBackend = z.strictObject({
  type: z.literal("simulated"),
  file: str("file")
    .regex(/^\/[A-Za-z0-9._/-]+$/, { error: (iss) => `file must be an absolute path, got ${show(iss.input)}` })
    .optional(),
});

export const Backend = z.discriminatedUnion("type", [LedBackend, GpiodBackend, SysfsBackend, SimulatedBackend], {
  error: unknownType("backend", ["led", "gpiod", "sysfs", "simulated"]),
});
export type Backend = z.infer<typeof Backend>;

/** A kernel LED has no input direction. */
export const InputBackend = z.discriminatedUnion("type", [GpiodBackend, SysfsBackend, SimulatedBackend], {
  error: unknownType("input backend", ["gpiod", "sysfs", "simulated"]),
});
export type InputBackend = z.infer<typeof InputBackend>;

const ioName = z.string().refine(isIoName, "lowercase letters, digits, '-' and '_', at most 32 characters");

/** What an output is set to when the service starts and stops. */
export const SafeState = z.enum(["on", "off"], {
  error: (iss) => `safeState must be "on" or "off", got ${show(iss.input)}`,
});
export type SafeState = z.infer<typeof SafeState>;

export const OutputConfig = z.strictObject({
  name: ioName,
  safeState: SafeState,
  backend: Backend,
});
export type OutputConfig = z.infer<typeof OutputConfig>;

export const InputConfig = z.strictObject({
  name: ioName,
  backend: InputBackend,
});
export type InputConfig = z.infer<typeof InputConfig>;

export const BrokerConfig = z.strictObject({
  url: z.string().regex(/^mqtts:\/\/[^/\s]+:\d{1,5}$/, "mqtts://<host>:<port> (TLS only)"),
  ca: absPath,
  cert: absPath,
  key: absPath,
  /** TLS server name to verify when the URL holds an IP address the certificate does not name. */
  servername: z.string().min(1).optional(),
  /**
   * MQTT client id; default: the device id (mosquitto binds it to the certificate CN anyway). On AWS IoT Core it
   * must be the device's thing name (protocol/iot-core.ts iotThingName), which its policy's iot:Connect names.
   */
  clientId: z
    .string()
    .refine((id) => clientIdProblem("iot-core", id) === undefined && IOT_THING_NAME_PATTERN.test(id), {
      error: "clientId must be 1-128 characters of letters, digits, ':', '_' and '-' (an IoT Core thing name)",
    })
    .optional(),
});
export type BrokerConfig = z.infer<typeof BrokerConfig>;

function unique(items: { name: string }[]): boolean {
  return new Set(items.map((i) => i.name)).size === items.length;
}

export const DeviceConfig = z.strictObject({
  deviceId: z.string().refine(isDeviceId, "lowercase letters, digits and '-', not a reserved id such as 'web'"),
  broker: BrokerConfig,
  outputs: z.array(OutputConfig).refine(unique, "output names must be unique"),
  inputs: z.array(InputConfig).refine(unique, "input names must be unique"),
  /** Numeric readings (device/sensors); none when missing. */
  sensors: z.array(SensorConfig).refine(unique, "sensor names must be unique").optional(),
  keepaliveSeconds: z.number().int().min(5).max(3600).optional(),
  stateDir: absPath.optional(),
});
/** The validated config object. */
export type DeviceConfig = z.infer<typeof DeviceConfig>;
/** What a writer of the file may leave out (same shape: there are no defaults applied by the schema). */
export type DeviceConfigInput = z.input<typeof DeviceConfig>;

export const DEFAULT_STATE_DIR = "/var/lib/diy-device";
export const DEFAULT_KEEPALIVE_SECONDS = 30;

/** Validates a parsed config; throws one Error whose message names every bad key. */
export function parseDeviceConfig(data: unknown, source = "config"): DeviceConfig {
  const result = DeviceConfig.safeParse(data);
  if (!result.success) throw new Error(`${source} is invalid:\n${z.prettifyError(result.error)}`);
  return result.data;
}

export function loadDeviceConfig(path: string): DeviceConfig {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseDeviceConfig(data, path);
}
