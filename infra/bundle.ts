// Bundles the web app and the device service into one CommonJS file each, so a machine needs only
// `node` (Node 18 on Debian 12 / Raspberry Pi OS bookworm) and no npm install. Called by the Pulumi
// program (the push and the device installs copy the result to the machines), by
// scripts/build-device.ts and by the tests. esbuild is therefore a runtime dependency.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { brotliCompressSync, constants as zlib } from "node:zlib";
import { buildSync } from "esbuild";
import { ASSET_NAMES, VENDOR_ASSET_NAMES, readVendorAsset } from "../apps/web/assets";

export type BundleEntry = "web" | "device";

export interface Bundle {
  /**
   * The one file to install as /opt/diy-web/web.js or /opt/diy-device/device.js; the web page's
   * files (apps/web/public) and SQLite's WebAssembly are inlined, so nothing else has to sit beside it.
   */
  code: string;
  /** Hex SHA-256 of the code: a trigger that changes exactly when what ships changes. */
  sha256: string;
}

const ROOT = resolve(__dirname, "..");

interface EntrySpec {
  entry: string;
  define?: () => Record<string, string>;
  /** Packages replaced by a file written for this build (in dir, removed afterwards). */
  alias?: (dir: string) => Record<string, string>;
}

const ENTRIES: Record<BundleEntry, EntrySpec> = {
  // apps/web/embedded.ts reads this global (buildSync takes no plugins).
  web: {
    entry: "apps/web/main.ts",
    define: () => ({ __DIY_WEB_ASSETS__: JSON.stringify(readPublic()) }),
    alias: (dir) => ({ "node-sqlite3-wasm": sqliteWithInlinedWasm(dir), debug: debugOffUnlessAsked(dir) }),
  },
  device: { entry: "device/main.ts", alias: (dir) => ({ debug: debugOffUnlessAsked(dir) }) },
};

/** The stand-in's namespace: a string a test can find in the minified bundles. */
export const DEBUG_OFF_NAMESPACE = "off: set DEBUG when the service starts to see these";

/**
 * The `debug` package (used by mqtt.js, mqtt-packet, express and its router) gathers each call's arguments into
 * a new array before it looks whether its namespace is on, and mqtt-packet calls it several times per byte range
 * it parses: with DEBUG unset, 16 % of what the web app allocated per click (V8 heap sampling,
 * bench/RESULTS.md), all of it garbage for the next scavenge. The bundles get a stand-in that hands out one
 * function doing nothing, unless DEBUG is set when the service starts: then it is the real package, which
 * reads DEBUG once at load too (`Environment=DEBUG=mqttjs*` in a unit drop-in still works).
 */
export function debugOffUnlessAsked(dir: string): string {
  const real = require.resolve("debug");
  const file = join(dir, "debug-off-unless-asked.js");
  writeFileSync(
    file,
    `"use strict";
if (process.env.DEBUG) module.exports = require(${JSON.stringify(real)});
else {
  const off = () => {};
  Object.assign(off, { enabled: false, namespace: ${JSON.stringify(DEBUG_OFF_NAMESPACE)}, log: off, extend: () => off, destroy: () => false });
  const createDebug = () => off;
  Object.assign(createDebug, { default: createDebug, debug: createDebug, enable: () => {}, disable: () => "", enabled: () => false, names: [], skips: [], formatters: {} });
  module.exports = createDebug;
}
`,
  );
  return file;
}

/** How node-sqlite3-wasm's Emscripten loader starts: its module object, with nothing to pass in. */
export const SQLITE_LOADER_PROLOGUE = 'var Module=typeof Module!="undefined"?Module:{};';

/**
 * node-sqlite3-wasm reads node-sqlite3-wasm.wasm from the directory of its own .js at require time, and
 * its Emscripten module object is a local it never takes from outside. For web.js to stay one file, the
 * build writes a copy of its loader whose module object starts with `wasmBinary` (Emscripten's
 * documented way to hand over the binary) holding the .wasm, Brotli-compressed; it is unpacked once at
 * start (~10 ms). A library update that changes the loader fails here, not on the server.
 */
export function sqliteWithInlinedWasm(dir: string): string {
  const pkg = dirname(require.resolve("node-sqlite3-wasm/package.json"));
  const js = readFileSync(join(pkg, "dist", "node-sqlite3-wasm.js"), "utf8");
  if (!js.startsWith(SQLITE_LOADER_PROLOGUE)) {
    throw new Error(
      "node-sqlite3-wasm's loader no longer starts with its Emscripten module object: infra/bundle.ts cannot inline its .wasm (pin the previous version or update sqliteWithInlinedWasm)",
    );
  }
  const wasm = readFileSync(join(pkg, "dist", "node-sqlite3-wasm.wasm"));
  // Quality 5: within 15 % of the best ratio at 1/80 of its time (bundle() runs on every `pulumi up`).
  const packed = brotliCompressSync(wasm, {
    params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: wasm.length },
  }).toString("base64");
  const file = join(dir, "node-sqlite3-wasm.js");
  writeFileSync(
    file,
    `var Module={wasmBinary:require("node:zlib").brotliDecompressSync(Buffer.from("${packed}","base64"))};${js.slice(SQLITE_LOADER_PROLOGUE.length)}`,
  );
  return file;
}

/** The entry's source file, relative to the repository root. */
export function bundleEntryFile(entry: BundleEntry): string {
  return ENTRIES[entry].entry;
}

/** Node version the bundles must run on: what the target OSes ship. */
export const BUNDLE_TARGET = "node18";

const cache = new Map<BundleEntry, Bundle>();

function readPublic(): Record<string, string> {
  const dir = join(ROOT, "apps", "web", "public");
  return {
    ...Object.fromEntries(ASSET_NAMES.map((name) => [name, readFileSync(join(dir, name), "utf8")])),
    ...Object.fromEntries(VENDOR_ASSET_NAMES.map((name) => [name, readVendorAsset(name)])),
  };
}

/**
 * Builds one entry (cached per process: `pulumi up` asks once per machine). Throws esbuild's
 * error messages when the code does not build.
 */
export function bundle(entry: BundleEntry): Bundle {
  const hit = cache.get(entry);
  if (hit) return hit;
  const spec = ENTRIES[entry];
  const work = spec.alias ? mkdtempSync(join(tmpdir(), "diy-bundle-")) : undefined;
  try {
    return build(entry, spec, work);
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

function build(entry: BundleEntry, spec: EntrySpec, work: string | undefined): Bundle {
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
    ...(spec.alias && work ? { alias: spec.alias(work) } : {}),
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${spec.entry}`);
  const code = file.text;
  const out: Bundle = { code, sha256: createHash("sha256").update(code).digest("hex") };
  cache.set(entry, out);
  return out;
}

/** Where `localCopy` keeps files: the project's own cache directory (not shared with other users, not in git). */
export const LOCAL_COPY_DIR = join(ROOT, "node_modules", ".cache", "diy-device-cloud");

/**
 * Writes `content` to a file named after its SHA-256 (`<name>-<sha>.<ext>`) and returns the absolute path, for a
 * `pulumi.asset.FileAsset`: Pulumi keeps only the asset's path and hash in the state, not the content, and compares
 * assets by hash. Content-addressed, so two stacks or a later run never see a half-written or different file.
 */
export function localCopy(name: string, ext: string, content: string): string {
  if (!/^[a-z0-9-]+$/.test(name) || !/^[a-z]+$/.test(ext)) throw new Error(`bad local copy name ${name}.${ext}`);
  // Every board gets the same bundle: write and hash it once per run, not once per device.
  const known = copies.get(content);
  if (known?.startsWith(join(LOCAL_COPY_DIR, `${name}-`))) return known;
  const file = writeLocalCopy(name, ext, content);
  copies.set(content, file);
  return file;
}

const copies = new Map<string, string>();

function writeLocalCopy(name: string, ext: string, content: string): string {
  const sha = createHash("sha256").update(content, "utf8").digest("hex");
  const file = join(LOCAL_COPY_DIR, `${name}-${sha}.${ext}`);
  try {
    if (createHash("sha256").update(readFileSync(file)).digest("hex") === sha) return file;
  } catch {
    // not there yet
  }
  mkdirSync(LOCAL_COPY_DIR, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}
