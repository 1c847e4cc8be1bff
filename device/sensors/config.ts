import { z } from "zod";
import { isIoName } from "../../protocol";

// Sensors in the device service's config file (/etc/diy-device/config.json): numeric readings a board
// takes every intervalSeconds and publishes (device/sensors/sampler.ts). Imported by device/config.ts
// and by infra's renderer, so a bad value is a `pulumi preview` error, not a crash on the board.

/** The SoC's temperature from the kernel's thermal framework: /sys/class/thermal/thermal_zone<N>/temp. */
export const CpuThermalSensor = z.strictObject({
  type: z.literal("cpu-thermal"),
  /** Zone number; default: the zone whose type names the CPU/SoC, else zone 0. */
  zone: z.number().int().min(0).max(255).optional(),
});

/** A DS18B20 1-Wire probe (w1-gpio + w1_therm): /sys/bus/w1/devices/28-<serial>/w1_slave. */
export const Ds18b20Sensor = z.strictObject({
  type: z.literal("ds18b20"),
  /** The probe's id; default: the only 28-* device on the bus. */
  id: z
    .string()
    .regex(/^28-[0-9a-f]{12}$/, "a DS18B20 id as under /sys/bus/w1/devices, e.g. 28-0316a2792fff")
    .optional(),
});

/**
 * Any sysfs file holding one number (an IIO channel, a hwmon input): value = (content + offset) * scale.
 * An IIO `*_raw` file without a configured scale takes its `*_scale`/`*_offset` siblings, as the IIO ABI
 * says (Documentation/ABI/testing/sysfs-bus-iio).
 */
export const FileSensor = z.strictObject({
  type: z.literal("file"),
  path: z
    .string()
    .regex(/^\/sys\/[A-Za-z0-9_:.+@/-]+$/, "a file under /sys, e.g. /sys/bus/iio/devices/iio:device0/in_voltage0_raw")
    .refine((p) => !p.split("/").includes(".."), "must not contain '..'"),
  scale: z.number().finite().optional(),
  offset: z.number().finite().optional(),
});

/**
 * For the demo and tests: a plausible slow signal (base + a sine over periodSeconds + noise), or, when
 * `file` exists and holds a number, that number (`echo 23.5 > file` sets the reading by hand).
 */
export const SimulatedSensor = z.strictObject({
  type: z.literal("simulated"),
  file: z.string().startsWith("/", "must be an absolute path").optional(),
  base: z.number().finite().optional(),
  amplitude: z.number().finite().min(0).optional(),
  periodSeconds: z.number().int().min(10).max(31_536_000).optional(),
  noise: z.number().finite().min(0).optional(),
});

export const SensorBackend = z.discriminatedUnion("type", [
  CpuThermalSensor,
  Ds18b20Sensor,
  FileSensor,
  SimulatedSensor,
]);
export type SensorBackend = z.infer<typeof SensorBackend>;

export const DEFAULT_SENSOR_INTERVAL_SECONDS = 60;
/** With reportChange, an unchanged value is still published this often (the chart and "last seen" stay alive). */
export const DEFAULT_HEARTBEAT_SECONDS = 15 * 60;

/** Units a board's own backends know; a file sensor needs its unit set. */
export const TEMPERATURE_UNIT = "°C";

export const SensorConfig = z
  .strictObject({
    name: z.string().refine(isIoName, "lowercase letters, digits, '-' and '_', at most 32 characters"),
    /** What the number means, shown beside it: "°C", "%", "hPa", "mV". Temperature backends default to °C. */
    unit: z.string().min(1).max(16).optional(),
    /** Seconds between two samples (1-86400, default 60). */
    intervalSeconds: z.number().int().min(1).max(86_400).optional(),
    /** Publish only when the value moved at least this much since the last published one (plus a heartbeat). */
    reportChange: z.number().finite().positive().optional(),
    backend: SensorBackend,
  })
  .refine((s) => s.unit !== undefined || s.backend.type !== "file", {
    message: 'a file sensor needs its unit, e.g. "mV"',
    path: ["unit"],
  });
export type SensorConfig = z.infer<typeof SensorConfig>;

/** The unit a sensor publishes with. */
export function sensorUnit(s: Pick<SensorConfig, "unit">): string {
  return s.unit ?? TEMPERATURE_UNIT;
}
