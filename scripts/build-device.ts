// `npm run build:device`: writes dist/device.js and dist/web.js (page inlined) from infra/bundle.ts,
// for copying to a board by hand or inspecting what `pulumi up` would install.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type BundleEntry, bundle, bundleEntryFile } from "../infra/bundle";

export function writeBundles(outDir: string, entries: BundleEntry[] = ["device", "web"]): Record<BundleEntry, string> {
  const written = {} as Record<BundleEntry, string>;
  for (const entry of entries) {
    const b = bundle(entry);
    const file = join(outDir, `${entry}.js`);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(file, b.code);
    written[entry] = file;
    process.stdout.write(`${file}  ${(Buffer.byteLength(b.code) / 1024).toFixed(0)} KiB  sha256 ${b.sha256}\n`);
  }
  return written;
}

if (require.main === module) {
  const outDir = resolve(process.argv[2] ?? join(__dirname, "..", "dist"));
  const root = join(__dirname, "..");
  const entries = (["device", "web"] as const).filter((e) => existsSync(join(root, bundleEntryFile(e))));
  try {
    writeBundles(outDir, entries);
  } catch (err) {
    process.stderr.write(`build failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
