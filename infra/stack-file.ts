// Reads a Pulumi.<stack>.yaml the way the Pulumi CLI hands it to the program: every value of the project's
// namespace as a string, objects and lists as JSON. Used by `npm run render` and the tests, which run
// without the CLI.
import * as fs from "node:fs";
import { parse } from "yaml";
import { NAMESPACE } from "./config";

export interface StackFile {
  /** Short key -> value as the program sees it (strings; JSON for lists and objects). */
  raw: Record<string, string>;
  /** Every key with its namespace ("aws:region", "diy-device-cloud:os"), same encoding. */
  all: Record<string, string>;
}

export function encodeConfigValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function readStackFile(path: string): StackFile {
  const doc = (parse(fs.readFileSync(path, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const all: Record<string, string> = {};
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) {
    // Encrypted values ({ secure: ... }) cannot be read here; a test or the render script supplies them.
    if (v !== null && typeof v === "object" && "secure" in (v as object)) continue;
    const full = k.includes(":") ? k : `${NAMESPACE}:${k}`;
    all[full] = encodeConfigValue(v);
    if (full.startsWith(`${NAMESPACE}:`)) raw[full.slice(NAMESPACE.length + 1)] = all[full] as string;
  }
  return { raw, all };
}
