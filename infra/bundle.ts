// Bundles the web app and the device service into one CommonJS file each, so a machine needs only
// `node` (Node 18 on Debian 12 / Raspberry Pi OS bookworm) and no npm install. Called by the Pulumi
// program (the push and the device installs copy the result to the machines), by
// scripts/build-device.ts and by the tests. esbuild is therefore a runtime dependency.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildSync } from "esbuild";
import { ASSET_NAMES } from "../apps/web/assets";

export type BundleEntry = "web" | "device";

export interface Bundle {
  /**
   * The one file to install as /opt/diy-web/web.js or /opt/diy-device/device.js; the web page's
   * files (apps/web/public) are inlined, so nothing else has to sit beside it.
   */
  code: string;
  /** Hex SHA-256 of the code: a trigger that changes exactly when what ships changes. */
  sha256: string;
}

const ROOT = resolve(__dirname, "..");

const ENTRIES: Record<BundleEntry, { entry: string; define?: () => Record<string, string> }> = {
  // apps/web/embedded.ts reads this global (buildSync takes no plugins).
  web: { entry: "apps/web/main.ts", define: () => ({ __DIY_WEB_ASSETS__: JSON.stringify(readPublic()) }) },
  device: { entry: "device/main.ts" },
};

/** The entry's source file, relative to the repository root. */
export function bundleEntryFile(entry: BundleEntry): string {
  return ENTRIES[entry].entry;
}

/** Node version the bundles must run on: what the target OSes ship. */
export const BUNDLE_TARGET = "node18";

const cache = new Map<BundleEntry, Bundle>();

function readPublic(): Record<string, string> {
  const dir = join(ROOT, "apps", "web", "public");
  return Object.fromEntries(ASSET_NAMES.map((name) => [name, readFileSync(join(dir, name), "utf8")]));
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
    charset: "utf8",
    // Deterministic output: no absolute paths of the build machine in the code.
    sourcemap: false,
    logLevel: "silent",
    banner: { js: `/* diy-device-cloud ${entry} bundle (infra/bundle.ts) */` },
    define: spec.define?.() ?? {},
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${spec.entry}`);
  const code = file.text;
  const out: Bundle = { code, sha256: createHash("sha256").update(code).digest("hex") };
  cache.set(entry, out);
  return out;
}
