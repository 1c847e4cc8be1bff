// The cached Debian 12 base image (scripts/vm/build-image.sh builds it once per recipe).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { log, run } from "./proc";

export interface BaseImage {
  dir: string;
  disk: string;
  kernel: string;
  initrd: string;
}

const script = resolve(__dirname, "../../../scripts/vm/build-image.sh");

/** Builds the base image or reuses the cached one; streams the script's progress lines. */
export async function ensureBaseImage(): Promise<BaseImage> {
  const start = Date.now();
  const res = await run("bash", [script], {
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
    dir,
    disk: join(dir, "base.qcow2"),
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.img"),
  };
  for (const f of [img.disk, img.kernel, img.initrd]) {
    if (!existsSync(f)) throw new Error(`build-image.sh printed ${dir} but ${f} is missing`);
  }
  log("image", `${dir} (${((Date.now() - start) / 1000).toFixed(0)} s)`);
  return img;
}
