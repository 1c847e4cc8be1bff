// What verify prints: one line per check, a summary, and the exit status. Pure.
import type { CheckResult } from "./verdicts";

const NAME_WIDTH = 18;

/** "PASS  tls-443            verifies against ..." — status, name, detail; one line whatever the detail holds. */
export function formatResult(r: CheckResult): string {
  const detail = r.detail.replace(/\s*\n\s*/g, " ");
  return `${r.status.padEnd(4)}  ${r.name.padEnd(NAME_WIDTH)} ${detail}`;
}

export function summary(results: readonly CheckResult[]): string {
  const count = (s: CheckResult["status"]) => results.filter((r) => r.status === s).length;
  const failed = results.filter((r) => r.status === "FAIL").map((r) => r.name);
  const parts = [`${count("PASS")} passed`, `${count("FAIL")} failed`];
  if (count("INFO")) parts.push(`${count("INFO")} info`);
  if (count("SKIP")) parts.push(`${count("SKIP")} skipped`);
  return `verify: ${parts.join(", ")}${failed.length ? ` (${failed.join(", ")})` : ""}`;
}

/** 0 when nothing failed and something was checked, else 1. */
export function exitCode(results: readonly CheckResult[]): number {
  if (results.some((r) => r.status === "FAIL")) return 1;
  return results.some((r) => r.status === "PASS") ? 0 : 1;
}
