import { readFileSync } from "node:fs";
import { z } from "zod";
import { isDeviceId, isIoName } from "../protocol";
import { SensorConfig } from "./sensors/config";

// The device service's config file (/etc/diy-device/config.json). Written by the provisioning
// renderer (infra/render/device-*.ts imports these types), read once at start by device/main.ts.

const absPath = z.string().startsWith("/", "must be an absolute path");

const ledName = z.string().regex(/^[A-Za-z0-9_:.+-]+$/, "a name under /sys/class/leds, no '/'");

/** Kernel LED class: /sys/class/leds/<led>/brightness (BBB user LEDs, the Pi's ACT LED, `dtoverlay=gpio-led`). */
export const LedBackend = z.strictObject({
  type: z.literal("led"),
  led: ledName,
  /** Names the same LED has on other kernels, tried in order when `led` is absent (Pi: ACT was led0). */
  alternatives: z.array(ledName).max(4).optional(),
  /** Brightness 0 lights it. Unset: only where a board is known to invert it (device/backends/led.ts). */
  activeLow: z.boolean().optional(),
});

/** libgpiod CLI: the line is found by its name, so chip renumbering (Pi 5) does not matter. */
export const GpiodBackend = z.strictObject({
  type: z.literal("gpiod"),
  line: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, "a GPIO line name such as GPIO17"),
  activeLow: z.boolean().optional(),
  bias: z.enum(["pull-up", "pull-down", "disable"]).optional(),
});

/** Legacy /sys/class/gpio: the number is the global one (offset by the chip base on new Pi kernels). */
export const SysfsBackend = z.strictObject({
  type: z.literal("sysfs"),
  gpio: z.number().int().min(0).max(4095),
  activeLow: z.boolean().optional(),
});

/**
 * Simulated: an output writes its state to `file`; an input reads events from `file` (a plain file
 * or a FIFO). Without `file` the service uses `<stateDir>/<name>.state` (outputs) or `.input` (inputs).
 */
export const SimulatedBackend = z.strictObject({
  type: z.literal("simulated"),
  file: absPath.optional(),
});

export const Backend = z.discriminatedUnion("type", [LedBackend, GpiodBackend, SysfsBackend, SimulatedBackend]);
export type Backend = z.infer<typeof Backend>;

const ioName = z.string().refine(isIoName, "lowercase letters, digits, '-' and '_', at most 32 characters");

export const OutputConfig = z.strictObject({
  name: ioName,
  safeState: z.enum(["on", "off"]),
  backend: Backend,
});
export type OutputConfig = z.infer<typeof OutputConfig>;

export const InputConfig = z.strictObject({
  name: ioName,
  // A kernel LED has no input direction.
  backend: z.discriminatedUnion("type", [GpiodBackend, SysfsBackend, SimulatedBackend]),
});
export type InputConfig = z.infer<typeof InputConfig>;

export const BrokerConfig = z.strictObject({
  url: z.string().regex(/^mqtts:\/\/[^/\s]+:\d{1,5}$/, "mqtts://<host>:<port> (TLS only)"),
  ca: absPath,
  cert: absPath,
  key: absPath,
  /** TLS server name to verify when the URL holds an IP address the certificate does not name. */
  servername: z.string().min(1).optional(),
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
