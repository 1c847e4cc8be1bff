// Building blocks of the settings schema. Pulumi hands the program every value as a string (lists and objects as
// JSON, `--path` entries as strings too); tests pass native values. Each block takes both and says what it expected.
import { z } from "zod";
import { bool, num, show, wholeNumber } from "../../device/config-fields";

// Inside list and object entries: the entry's own field names its message (device/config-fields.ts).

/** "22" -> 22 so `pulumi config set --path devices[0].port 22` (stored as a string) works. */
export const fromDigits = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v), schema);
/** "true" -> true, as for numbers. */
export const fromBoolText = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), schema);
export const intLike = (what: string, min: number, max: number) => fromDigits(wholeNumber(what, min, max));
export const boolLike = (what: string) => fromBoolText(bool(what));
/** "0.5" -> 0.5 so `pulumi config set --path ... 0.5` (stored as a string) works. */
export const fromDecimal = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v), schema);
export const numLike = (what: string) => fromDecimal(num(what));

// Top-level keys: the message follows the key's name ("diy-device-cloud:smtpPort: must be 1-65535, got 0").

/** A string; numbers and booleans as Pulumi would print them. */
export const text = z.preprocess(
  (v) => (typeof v === "number" || typeof v === "boolean" ? String(v) : v),
  z.string({ error: (iss) => `expected a string, got ${show(iss.input)}` }),
);

/** A string that passes `test` once trimmed, handed on trimmed. */
export const textThat = (test: (v: string) => boolean, expected: string) =>
  text
    .refine((v) => test(v.trim()), { error: (iss) => `${show(iss.input)} is not ${expected}` })
    .transform((v) => v.trim());

const notWhole = (iss: { input?: unknown }) => `expected a whole number, got ${show(iss.input)}`;
export const integer = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v),
    z
      .number({ error: notWhole })
      .int({ error: notWhole })
      .min(min, { error: (iss) => `must be ${min}-${max}, got ${String(iss.input)}` })
      .max(max, { error: (iss) => `must be ${min}-${max}, got ${String(iss.input)}` }),
  );

export const boolean = z.preprocess(
  (v) => (v === "true" ? true : v === "false" ? false : v),
  z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` }),
);

/** A JSON list or object (Pulumi passes them as JSON text), checked by `schema`. */
export const json = <T extends z.ZodType>(kind: "array" | "object", schema: T) =>
  z
    .unknown()
    .transform((v, ctx) => {
      let value = v;
      if (typeof v === "string") {
        try {
          value = JSON.parse(v);
        } catch {
          ctx.addIssue(`expected a JSON ${kind}, got ${show(v)} which is not JSON`);
          return z.NEVER;
        }
      }
      const isArray = Array.isArray(value);
      if (kind === "array" ? !isArray : isArray || value === null || typeof value !== "object") {
        ctx.addIssue(`expected a JSON ${kind}, got ${show(v)}`);
        return z.NEVER;
      }
      return value;
    })
    .pipe(schema);

/** A list of strings: JSON, or for convenience on the command line comma-separated; `required` says why it is. */
export const stringList = (required?: string) =>
  z.unknown().transform((v, ctx): string[] => {
    if (v === undefined) {
      if (required === undefined) return [];
      ctx.addIssue(required);
      return z.NEVER;
    }
    if (typeof v === "string" && !/^[[{]/.test(v.trim())) {
      return v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
    }
    const list = json("array", z.array(z.unknown())).safeParse(v);
    if (!list.success) {
      for (const iss of list.error.issues) ctx.addIssue(iss.message);
      return z.NEVER;
    }
    const strings = list.data.filter((x): x is string => typeof x === "string");
    const bad = list.data.findIndex((x) => typeof x !== "string");
    if (bad >= 0) {
      ctx.addIssue(`item ${bad} is ${show(list.data[bad])}, expected a string`);
      return z.NEVER;
    }
    return strings;
  });
