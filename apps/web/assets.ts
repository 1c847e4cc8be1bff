// The page's static files. Under tsx (tests, demo) they are read from apps/web/public; in the
// single-file bundle (/opt/diy-web/web.js) infra/bundle.ts inlines them into embedded.ts, so the
// server needs no other file.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { embeddedAssets } from "./embedded";

export const ASSET_NAMES = ["index.html", "app.js", "style.css"] as const;
export type AssetName = (typeof ASSET_NAMES)[number];

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
  return m;
}
