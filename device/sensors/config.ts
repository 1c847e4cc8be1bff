import { z } from "zod";
import { isIoName } from "../../protocol";
import { nonNegative, num, show, str, wholeNumber } from "../config-fields";

// Sensors in the device service's config file (/etc/diy-device/config.json): numeric readings a board
// takes every intervalSeconds and publishes (device/sensors/sampler.ts). Imported by device/config.ts
// and by the stack config (infra/config/devices.ts builds its sensor entries on these schemas), so a bad
// value is a `pulumi preview` error, named with its stack key, not a crash on the board. Messages name
// the field (device/config-fields.ts).

/** The SoC's temperature from the kernel's thermal framework: /sys/class/thermal/thermal_zone<N>/temp. */
export const CpuThermalSensor = z.strictObject({
  type: z.literal("cpu-thermal"),
  /** Zone number; default: the zone whose type names the CPU/SoC, else zone 0. */
  zone: wholeNumber("zone", 0, 255).optional(),
});

/** A DS18B20 1-Wire probe (w1-gpio + w1_therm): /sys/bus/w1/devices/28-<serial>/w1_slave. */
export const Ds18b20Sensor = z.strictObject({
  type: z.literal("ds18b20"),
  /** The probe's id; default: the only 28-* device on the bus. */
  id: str("id")
    .regex(/^28-[0-9a-f]{12}$/, {
      error: (iss) => `id ${show(iss.input)} is not a DS18B20 id as under /sys/bus/w1/devices (28-0316a2792fff)`,
    })
    .optional(),
});

/**
 * Any sysfs file holding one number (an IIO channel, a hwmon input): value = (content + offset) * scale.
 * An IIO `*_raw` file without a configured scale takes its `*_scale`/`*_offset` siblings, as the IIO ABI
 * says (Documentation/ABI/testing/sysfs-bus-iio).
 */
export const FileSensor = z.strictObject({
  type: z.literal("file"),
  // No path segment "..", the first one included: the file stays under /sys.
  path: str("path").regex(/^\/sys(?!.*\/\.\.(\/|$))\/[A-Za-z0-9_:.+@/-]+$/, {
    error: (iss) =>
      `path ${show(iss.input)} must be a file under /sys without '..', e.g. /sys/bus/iio/devices/iio:device0/in_voltage0_raw`,
  }),
  scale: num("scale").optional(),
  offset: num("offset").optional(),
});

/**
 * For the demo and tests: a plausible slow signal (base + a sine over periodSeconds + noise), or, when
 * `file` exists and holds a number, that number (`echo 23.5 > file` sets the reading by hand).
 */
export const SimulatedSensor = z.strictObject({
  type: z.literal("simulated"),
  file: str("file")
    .regex(/^\/[A-Za-z0-9._/-]+$/, { error: (iss) => `file must be an absolute path, got ${show(iss.input)}` })
    .optional(),
  base: num("base").optional(),
  amplitude: nonNegative("amplitude").optional(),
  periodSeconds: wholeNumber("periodSeconds", 10, 31_536_000).optional(),
  noise: nonNegative("noise").optional(),
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

/** A sensor's fields; SensorConfig adds the rule between them (the stack extends these: infra/config/devices.ts). */
export const SensorFields = z.strictObject({
  name: str("sensor name").refine(isIoName, {
    error: (iss) =>
      `sensor name ${show(iss.input)} is not a valid name (lowercase letters, digits, - and _, 1-32 chars)`,
  }),
  /**
   * What the number means, shown beside it: "°C", "%", "hPa", "mV". Temperature backends default to °C. It reaches
   * the page, Home Assistant and alert mail subjects: no control characters, no < > & " '.
   */
  unit: str("unit")
    .regex(/^[^\p{Cc}<>&"']{1,16}$/u, {
      error: (iss) => `unit ${show(iss.input)} must be 1-16 printable characters, e.g. "°C" or "%"`,
    })
    .optional(),
  /** Seconds between two samples (1-86400, default 60). */
  intervalSeconds: wholeNumber("intervalSeconds", 1, 86_400).optional(),
  /** Publish only when the value moved at least this much since the last published one (plus a heartbeat). */
  reportChange: num("reportChange").gt(0, { error: "reportChange must be more than 0" }).optional(),
  backend: SensorBackend,
});

/** The rule between a sensor's fields (a file's reading has no unit of its own), on SensorFields or an extension. */
export const withSensorRules = <T extends z.ZodType<{ unit?: string | undefined; backend: { type: string } }>>(
  fields: T,
) =>
  fields.refine((s) => s.unit !== undefined || s.backend.type !== "file", {
    error: 'a file sensor needs its unit, e.g. unit: "mV"',
    path: ["unit"],
  });

export const SensorConfig = withSensorRules(SensorFields);
export type SensorConfig = z.infer<typeof SensorConfig>;

/** The unit a sensor publishes with. */
export function sensorUnit(s: Pick<SensorConfig, "unit">): string {
  return s.unit ?? TEMPERATURE_UNIT;
}
