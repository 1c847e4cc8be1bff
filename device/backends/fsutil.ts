import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/** Writes via a temp file + rename, so a reader never sees a half-written file. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function readTrimmed(path: string): Promise<string> {
  return (await readFile(path, "utf8")).trim();
}

/** Waits for a path to appear: after a sysfs export, udev needs a moment before the node is usable. */
export async function waitForPath(path: string, timeoutMs = 2000, stepMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}
