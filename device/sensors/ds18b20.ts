import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { type SensorEnv, type SensorReader, underSysfs } from "./types";

// A DS18B20 on the kernel's 1-Wire bus (w1-gpio + w1_therm; on a Pi `dtoverlay=w1-gpio`, data on GPIO4
// with a 4.7 kΩ pull-up). Each probe is /sys/bus/w1/devices/28-<serial>; reading its `w1_slave` starts a
// conversion (up to 750 ms at 12 bits) and returns two lines (Documentation/w1/slaves/w1_therm.rst):
//   72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//   72 01 4b 46 7f ff 0e 10 57 t=23125
// the scratchpad bytes, the kernel's CRC verdict (YES/NO) and the temperature in millidegree Celsius.
// A noisy bus gives "NO"; a probe that drops off mid-read can give all-zero bytes whose CRC is also 0
// ("crc=00 YES", t=0); and 85 °C (scratchpad 50 05) is the power-on value of the temperature register
// (DS18B20 datasheet), read when a conversion did not happen. None of them is a temperature.

export type W1Reading = { ok: true; celsius: number } | { ok: false; error: string };

export function parseW1Slave(text: string): W1Reading {
  const [crcLine = "", dataLine = ""] = text.trim().split("\n");
  const crc = /crc=([0-9a-f]{2})\s+(YES|NO)\s*$/i.exec(crcLine.trim());
  if (!crc) return { ok: false, error: `unexpected w1_slave content: "${crcLine.slice(0, 64)}"` };
  if (crc[2]?.toUpperCase() !== "YES")
    return { ok: false, error: "CRC check failed (noise on the 1-Wire bus); read again" };
  const bytes = crcLine.split(":")[0]?.trim().split(/\s+/) ?? [];
  if (bytes.length === 9 && bytes.every((b) => b === "00"))
    return { ok: false, error: "the scratchpad is all zeros: the probe dropped off the bus (check its wiring)" };
  const t = /t=(-?\d+)\s*$/.exec(dataLine.trim());
  if (!t) return { ok: false, error: `no t= in w1_slave: "${dataLine.slice(0, 64)}"` };
  const milli = Number(t[1]);
  if (milli === 85000 && bytes[0] === "50" && bytes[1] === "05")
    return { ok: false, error: "85 °C is the probe's power-on value: no conversion took place (check its power)" };
  return { ok: true, celsius: milli / 1000 };
}

/** The probe's directory: the configured id, or the one 28-* device on the bus. */
export async function findProbe(env: SensorEnv, id?: string): Promise<string> {
  const base = underSysfs(env, "/sys/bus/w1/devices");
  if (id) return join(base, id);
  let probes: string[];
  try {
    probes = (await readdir(base)).filter((n) => n.startsWith("28-")).sort();
  } catch {
    probes = [];
  }
  if (probes.length === 0) {
    throw new Error(
      `no DS18B20 under ${base}: enable 1-Wire (Raspberry Pi: dtoverlay=w1-gpio in config.txt; probe data on GPIO4 with a 4.7 kΩ pull-up) and check the wiring`,
    );
  }
  if (probes.length > 1)
    throw new Error(`${probes.length} DS18B20 probes on the bus (${probes.join(", ")}): set backend.id to one of them`);
  return join(base, probes[0] as string);
}

export async function openDs18b20(env: SensorEnv, id?: string): Promise<SensorReader> {
  const dir = await findProbe(env, id);
  const file = join(dir, "w1_slave");
  return {
    description: `ds18b20:${dir}`,
    read: async () => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT")
          throw new Error(`DS18B20 ${dir} is not on the bus (unplugged, or its wiring is loose)`);
        throw new Error(`cannot read ${file}: ${(err as Error).message}`);
      }
      const r = parseW1Slave(text);
      if (!r.ok) throw new Error(`DS18B20 ${dir}: ${r.error}`);
      return r.celsius;
    },
  };
}
