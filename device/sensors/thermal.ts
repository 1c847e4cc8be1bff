import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { type SensorEnv, type SensorReader, parseNumber, underSysfs } from "./types";

// The kernel's thermal framework (Documentation/driver-api/thermal/sysfs-api.rst): each
// /sys/class/thermal/thermal_zone<N> has `type` (what it measures) and `temp`, the current temperature
// in millidegree Celsius. Raspberry Pi kernels name the SoC's zone "cpu-thermal", others "cpu_thermal",
// "soc_thermal" or "x86_pkg_temp"; a read fails (EAGAIN, EINVAL) while a sensor is not ready.

const CPU_ZONE_TYPE = /cpu|soc|x86_pkg_temp/i;

/** The zone to read: the configured one, else the one whose type names the CPU/SoC, else the lowest. */
export async function findCpuZone(env: SensorEnv, zone?: number): Promise<string> {
  const base = underSysfs(env, "/sys/class/thermal");
  if (zone !== undefined) return join(base, `thermal_zone${zone}`);
  let names: string[];
  try {
    names = (await readdir(base)).filter((n) => /^thermal_zone\d+$/.test(n));
  } catch {
    names = [];
  }
  if (names.length === 0) {
    throw new Error(
      `no thermal zone under ${base}: this board's kernel exposes no CPU temperature (use a ds18b20 or file sensor)`,
    );
  }
  names.sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  for (const n of names) {
    const type = await readFile(join(base, n, "type"), "utf8").catch(() => "");
    if (CPU_ZONE_TYPE.test(type)) return join(base, n);
  }
  return join(base, names[0] as string);
}

export async function openCpuThermal(env: SensorEnv, zone?: number): Promise<SensorReader> {
  const dir = await findCpuZone(env, zone);
  const file = join(dir, "temp");
  return {
    description: `cpu-thermal:${dir}`,
    read: async () => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        throw new Error(`cannot read ${file}: ${(err as Error).message}`);
      }
      return parseNumber(text, file) / 1000;
    },
  };
}
