// Replaced at bundle time by the contents of public/: apps/web/bundle.ts swaps this file, and
// infra/bundle.ts (esbuild buildSync, which takes no plugins) defines __DIY_WEB_ASSETS__.
// Undefined when run from source.
declare const __DIY_WEB_ASSETS__: Readonly<Record<"index.html" | "app.js" | "style.css", string>> | undefined;
export const embeddedAssets: Readonly<Record<"index.html" | "app.js" | "style.css", string>> | undefined =
  typeof __DIY_WEB_ASSETS__ === "undefined" ? undefined : __DIY_WEB_ASSETS__;
