// Replaced at bundle time (apps/web/bundle.ts) by the contents of public/; undefined when run from source.
export const embeddedAssets: Readonly<Record<"index.html" | "app.js" | "style.css", string>> | undefined = undefined;
