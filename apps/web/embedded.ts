// The page's files inside the single-file bundle (/opt/diy-web/web.js): infra/bundle.ts defines
// __DIY_WEB_ASSETS__ (esbuild `define`) with the contents of apps/web/public. Undefined when run
// from source (tsx: tests, demo); the files are then read from apps/web/public.
type EmbeddedName = "index.html" | "app.js" | "style.css" | "uplot.js" | "uplot.css";
declare const __DIY_WEB_ASSETS__: Readonly<Record<EmbeddedName, string>> | undefined;
export const embeddedAssets: Readonly<Record<EmbeddedName, string>> | undefined =
  typeof __DIY_WEB_ASSETS__ === "undefined" ? undefined : __DIY_WEB_ASSETS__;
