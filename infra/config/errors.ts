// What a config problem looks like to the user: the key (and the path inside it), what is wrong, and the command
// that fixes it, all problems of a stack in one error.
import type { z } from "zod";
import { show } from "../../device/config-fields";
import { type ConfigKey, KEYS, type KeySpec, NAMESPACE } from "./keys";

export interface ConfigProblem {
  /** Top-level key, e.g. "devices". */
  key: ConfigKey | string;
  /** Path inside the key, e.g. "devices[1].port"; equals key for scalars. */
  path: string;
  /** What was wrong. */
  problem: string;
  /** A command that fixes it. */
  fix: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${NAMESPACE}:${p.path}: ${p.problem}\n    fix: ${p.fix}`);
    super(
      `Stack config has ${problems.length} problem${problems.length === 1 ? "" : "s"} (nothing was created):\n${lines.join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
  /** Keys named by the problems, in order, without duplicates. */
  get keys(): string[] {
    return [...new Set(this.problems.map((p) => p.key))];
  }
}

/** The command that sets `key`, runnable as printed in sh/bash/zsh (examples are shell-quoted where needed). */
export function fixFor(key: ConfigKey | string, path = key): string {
  const spec = (KEYS as Record<string, KeySpec>)[key];
  if (!spec) return `pulumi config rm ${NAMESPACE}:${key}`;
  if (path !== key) return entryFix(path);
  if (spec.fix) return spec.fix;
  const flags = spec.secret ? "--secret " : "";
  return `pulumi config set ${flags}${NAMESPACE}:${key} ${spec.example}`;
}

/** The fix of a value inside a list or object key. */
export function entryFix(path: string): string {
  return `pulumi config set --path '${NAMESPACE}:${path}' <value>   (or fix the entry in Pulumi.<stack>.yaml)`;
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** Keys the program does not read, each with the key it probably meant. */
export function unknownKeyProblems(raw: Record<string, unknown>): ConfigProblem[] {
  const known = Object.keys(KEYS);
  return Object.keys(raw)
    .filter((k) => !known.includes(k))
    .map((k) => {
      const near = known.find((c) => distance(c.toLowerCase(), k.toLowerCase()) <= 2);
      return {
        key: k,
        path: k,
        problem: `unknown key${near ? `; did you mean ${near}?` : ""}`,
        fix: near
          ? `pulumi config rm ${NAMESPACE}:${k} && pulumi config set ${NAMESPACE}:${near} <value>`
          : `pulumi config rm ${NAMESPACE}:${k}`,
      };
    });
}

/** A fix other than the key's own, carried by a schema issue (`params: { fix }`). */
export interface IssueParams {
  fix?: string;
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc === "" ? String(p) : `${acc}.${String(p)}`),
    "",
  );
}

/** One problem per zod issue of the settings schema; the first path element is the key. */
export function zodProblems(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((iss) => {
    const key = String(iss.path[0] ?? "");
    const path = pathOf(iss.path);
    if (iss.code === "unrecognized_keys") {
      const field = `${path}.${iss.keys[0] ?? ""}`;
      return {
        key,
        path,
        problem: `unknown field${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => show(k)).join(", ")}`,
        fix: `pulumi config rm --path '${NAMESPACE}:${field}'   (or fix the entry in Pulumi.<stack>.yaml)`,
      };
    }
    // A field missing inside a list or object entry (a top-level key says for itself why it is needed).
    const problem =
      iss.code === "invalid_type" && iss.input === undefined && iss.path.length > 1
        ? `${String(iss.path[iss.path.length - 1])} is required`
        : iss.message;
    const fix = iss.code === "custom" ? (iss.params as IssueParams | undefined)?.fix : undefined;
    return { key, path, problem, fix: fix ?? fixFor(key, path) };
  });
}

/** Problems in the key table's order (unknown keys first), each key's in the order they were found. */
export function inKeyOrder(problems: ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem) => Object.keys(KEYS).indexOf(p.key);
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ p }) => p);
}
