// Builds the web app into one CommonJS file for the server (/opt/diy-web/web.js), with the page's
// files inlined. Runs on the Node that Debian 12 ships (18). Used by the Pulumi program / infra/bundle.ts.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type Plugin, build } from "esbuild";
import { ASSET_NAMES } from "./assets";

export const WEB_BUNDLE_TARGET = "node18";

const embedPublicFiles = (publicDir: string): Plugin => ({
  name: "diy-web-embed-public",
  setup(b) {
    b.onLoad({ filter: /[\\/]apps[\\/]web[\\/]embedded\.ts$/ }, () => {
      const files = Object.fromEntries(ASSET_NAMES.map((n) => [n, readFileSync(path.join(publicDir, n), "utf8")]));
      return { contents: `export const embeddedAssets = ${JSON.stringify(files)};\n`, loader: "ts" };
    });
  },
});

export interface WebBundleOptions {
  /** Also write the bundle here. */
  outfile?: string;
  minify?: boolean;
}

/** Returns the bundle's JavaScript text (the same bytes written to outfile when given). */
export async function bundleWebApp(opts: WebBundleOptions = {}): Promise<string> {
  const result = await build({
    entryPoints: [path.join(__dirname, "main.ts")],
    bundle: true,
    platform: "node",
    target: WEB_BUNDLE_TARGET,
    format: "cjs",
    minify: opts.minify ?? false,
    legalComments: "none",
    write: false,
    outfile: opts.outfile ?? "web.js",
    logLevel: "silent",
    banner: { js: "// diy-web: DIY Device Cloud web app, bundled from apps/web by apps/web/bundle.ts" },
    plugins: [embedPublicFiles(path.join(__dirname, "public"))],
  });
  const out = result.outputFiles.find((f) => f.path.endsWith(".js"));
  if (!out) throw new Error("esbuild produced no JavaScript");
  if (opts.outfile) {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(path.dirname(opts.outfile), { recursive: true });
    writeFileSync(opts.outfile, out.text);
  }
  return out.text;
}
