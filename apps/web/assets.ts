// The page's static files. Under tsx (tests, demo) they are read from apps/web/public; in the
// single-file bundle (/opt/diy-web/web.js) infra/bundle.ts inlines them into embedded.ts, so the
// server needs no other file.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { embeddedAssets } from "./embedded";

export const ASSET_NAMES = ["index.html", "app.js", "style.css"] as const;
export type AssetName = (typeof ASSET_NAMES)[number];

/**
 * Files from npm packages the page loads, by the name it asks for: uPlot (MIT; ~50 KB; canvas charts
 * that set styles through the CSSOM only, so the strict CSP holds). The bundle inlines them like the rest.
 */
export const VENDOR_ASSETS = {
  "uplot.js": "uplot/dist/uPlot.iife.min.js",
  "uplot.css": "uplot/dist/uPlot.min.css",
} as const;
export type VendorAssetName = keyof typeof VENDOR_ASSETS;
export const VENDOR_ASSET_NAMES = Object.keys(VENDOR_ASSETS) as VendorAssetName[];

/** Every path the page's files are served at. */
export const ASSET_PATHS: readonly string[] = ["/", ...[...ASSET_NAMES, ...VENDOR_ASSET_NAMES].map((n) => `/${n}`)];

/** A vendor file's text, from the installed package (tests, demo, and the bundler). */
export function readVendorAsset(name: VendorAssetName): string {
  return readFileSync(require.resolve(VENDOR_ASSETS[name]), "utf8");
}

export const DEFAULT_PUBLIC_DIR = path.join(__dirname, "public");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

export interface Asset {
  type: string;
  body: Buffer;
}

/** The page's files, read once at start: from `dir` when given, else embedded, else public/. */
export function loadAssets(dir?: string): Map<string, Asset> {
  const m = new Map<string, Asset>();
  for (const name of ASSET_NAMES) {
    const body =
      dir === undefined && embeddedAssets
        ? Buffer.from(embeddedAssets[name])
        : readFileSync(path.join(dir ?? DEFAULT_PUBLIC_DIR, name));
    m.set(name, { type: TYPES[path.extname(name)] ?? "application/octet-stream", body });
  }
  for (const name of VENDOR_ASSET_NAMES) {
    const body = Buffer.from(embeddedAssets ? embeddedAssets[name] : readVendorAsset(name));
    m.set(name, { type: TYPES[path.extname(name)] ?? "application/octet-stream", body });
  }
  return m;
}
