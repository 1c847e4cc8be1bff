// Every sensor backend hides behind this interface: the sampler never knows which kernel file a number
// comes from.

export interface SensorReader {
  /** Where the number comes from, for the log: "cpu-thermal:/sys/class/thermal/thermal_zone0". */
  readonly description: string;
  /** One reading in the sensor's unit. Rejects with a message that says what is wrong and how to fix it. */
  read(): Promise<number>;
}

/** What backends need from the outside world; tests point sysfsRoot at a fake tree. */
export interface SensorEnv {
  /** Root of sysfs; "/sys" on a board. */
  sysfsRoot: string;
  /** Clock and randomness of the simulated backend (tests fix both). */
  now?: () => number;
  random?: () => number;
}

/** A /sys path from the config, under the env's sysfs root. */
export function underSysfs(env: SensorEnv, sysPath: string): string {
  if (!sysPath.startsWith("/sys/")) throw new Error(`not a sysfs path: ${sysPath}`);
  return `${env.sysfsRoot}${sysPath.slice("/sys".length)}`;
}

/** One number from a sysfs file, or an error naming the file and what it held. */
export function parseNumber(text: string, file: string): number {
  const t = text.trim();
  const n = t === "" ? Number.NaN : Number(t);
  if (!Number.isFinite(n)) throw new Error(`${file} does not hold a number (it holds "${t.slice(0, 32)}")`);
  return n;
}
