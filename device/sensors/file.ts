import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type SensorEnv, type SensorReader, parseNumber, underSysfs } from "./types";

// One number from a sysfs file. For an IIO channel's `<type><index>_raw` the IIO ABI
// (Documentation/ABI/testing/sysfs-bus-iio) defines the value in the channel's unit as
// (raw + offset) * scale, with `_scale`/`_offset` either per channel (in_voltage0_scale) or shared by
// the type (in_voltage_scale); a missing offset is 0. A configured scale/offset wins over the files.

/** Sibling files that may hold the scale or offset of an IIO `*_raw` file, most specific first. */
export function iioSiblings(rawName: string, what: "scale" | "offset"): string[] {
  const m = /^(.*?)(\d*)_raw$/.exec(rawName);
  if (!m) return [];
  const [, type = "", index = ""] = m;
  const channel = `${type}${index}_${what}`;
  const shared = `${type}_${what}`;
  return index ? [channel, shared] : [channel];
}

async function sibling(dir: string, rawName: string, what: "scale" | "offset"): Promise<number | undefined> {
  for (const name of iioSiblings(rawName, what)) {
    const f = join(dir, name);
    if (existsSync(f)) return parseNumber(await readFile(f, "utf8"), f);
  }
  return undefined;
}

export async function openFileSensor(
  env: SensorEnv,
  opts: { path: string; scale?: number; offset?: number },
): Promise<SensorReader> {
  const file = underSysfs(env, opts.path);
  if (!existsSync(file)) throw new Error(`${opts.path} does not exist (is the driver loaded? check the path)`);
  const dir = dirname(file);
  const name = basename(file);
  // Read once: an IIO driver's scale does not change while it is bound.
  const scale = opts.scale ?? (await sibling(dir, name, "scale")) ?? 1;
  const offset = opts.offset ?? (await sibling(dir, name, "offset")) ?? 0;
  return {
    description: `file:${opts.path} (+${offset}) *${scale}`,
    read: async () => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        throw new Error(`cannot read ${opts.path}: ${(err as Error).message}`);
      }
      return (parseNumber(text, opts.path) + offset) * scale;
    },
  };
}
