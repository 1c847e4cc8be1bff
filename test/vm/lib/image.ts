// The cached Debian base images (scripts/vm/build-image.sh builds each once per recipe and suite).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { log, run } from "./proc";
import type { Suite } from "./stack";

export interface BaseImage {
  suite: Suite;
  dir: string;
  disk: string;
  kernel: string;
  initrd: string;
}

const script = resolve(__dirname, "../../../scripts/vm/build-image.sh");

/** Builds the suite's base image or reuses the cached one; streams the script's progress lines. */
export async function ensureBaseImage(suite: Suite): Promise<BaseImage> {
  const start = Date.now();
  const res = await run("bash", [script, suite], {
    onStdout: (c) => {
      for (const line of c.split("\n")) if (line.startsWith("[build-image")) process.stderr.write(`${line}\n`);
    },
  });
  if (res.code !== 0) {
    throw new Error(
      `scripts/vm/build-image.sh failed (exit ${res.code}):\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`,
    );
  }
  const dir = res.stdout.trim().split("\n").pop() ?? "";
  const img: BaseImage = {
    suite,
    dir,
    disk: join(dir, "base.qcow2"),
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.img"),
  };
  for (const f of [img.disk, img.kernel, img.initrd]) {
    if (!existsSync(f)) throw new Error(`build-image.sh printed ${dir} but ${f} is missing`);
  }
  log(`image ${suite}`, `${dir} (${((Date.now() - start) / 1000).toFixed(0)} s)`);
  return img;
}
