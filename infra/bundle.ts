// Bundles the web app and the device service into one CommonJS file each, so a machine needs only
// `node` (Node 18 on Debian 12 / Raspberry Pi OS bookworm) and no npm install. Called by the Pulumi
// program (the push and install steps copy the result and hash it into their triggers), by
// scripts/build-device.ts and by the tests. esbuild is therefore a runtime dependency.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildSync } from "esbuild";

export type BundleEntry = "web" | "device";

export interface Bundle {
  /** The JavaScript to install as /opt/diy-web/web.js or /opt/diy-device/device.js. */
  code: string;
  /**
   * Files that must sit beside the bundle, by path relative to it (the web app serves
   * public/index.html, app.js and style.css from `<dir of web.js>/public`). Empty for the device.
   */
  assets: Record<string, string>;
  /** Hex SHA-256 over the code and every asset: a trigger that changes exactly when what ships changes. */
  sha256: string;
}

const ROOT = resolve(__dirname, "..");

const ENTRIES: Record<BundleEntry, { entry: string; publicDir?: string }> = {
  web: { entry: "apps/web/main.ts", publicDir: "apps/web/public" },
  device: { entry: "device/main.ts" },
};

/** The entry's source file, relative to the repository root. */
export function bundleEntryFile(entry: BundleEntry): string {
  return ENTRIES[entry].entry;
}

/** Node version the bundles must run on: what the target OSes ship. */
export const BUNDLE_TARGET = "node18";

const cache = new Map<BundleEntry, Bundle>();

function readAssets(publicDir: string | undefined): Record<string, string> {
  if (!publicDir) return {};
  const dir = join(ROOT, publicDir);
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) out[`public/${name}`] = readFileSync(join(dir, name), "utf8");
  return out;
}

function hash(code: string, assets: Record<string, string>): string {
  const h = createHash("sha256").update(code);
  // Name and length framing: moving bytes between files must change the hash too.
  for (const [name, body] of Object.entries(assets)) h.update(`\0${name}\0${Buffer.byteLength(body)}\0`).update(body);
  return h.digest("hex");
}

/**
 * Builds one entry (cached per process: `pulumi up` asks once per machine). Throws esbuild's
 * error messages when the code does not build.
 */
export function bundle(entry: BundleEntry): Bundle {
  const hit = cache.get(entry);
  if (hit) return hit;
  const spec = ENTRIES[entry];
  const result = buildSync({
    absWorkingDir: ROOT,
    entryPoints: [spec.entry],
    bundle: true,
    platform: "node",
    target: BUNDLE_TARGET,
    format: "cjs",
    minify: true,
    write: false,
    legalComments: "none",
    // Deterministic output: no absolute paths of the build machine in the code.
    sourcemap: false,
    logLevel: "silent",
    banner: { js: `/* diy-device-cloud ${entry} bundle (infra/bundle.ts) */` },
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${spec.entry}`);
  const code = file.text;
  const assets = readAssets(spec.publicDir);
  const out: Bundle = { code, assets, sha256: hash(code, assets) };
  cache.set(entry, out);
  return out;
}
