import { z } from "zod";

// Field schemas whose messages name the field, what is expected and the value that was given. The device's
// config (device/config.ts) is built from them, and the stack config (infra/config) builds its device entries
// on those same schemas, so a stack and a board refuse a bad value with the same words.

/** A value as it appears in a message: JSON, shortened to 60 characters. */
export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

export const str = (what: string) => z.string({ error: (iss) => `${what} must be a string, got ${show(iss.input)}` });

export const bool = (what: string) =>
  z.boolean({ error: (iss) => `${what} must be true or false, got ${show(iss.input)}` });

export const wholeNumber = (what: string, min: number, max: number) =>
  z
    .number({ error: (iss) => `${what} must be a whole number ${min}-${max}, got ${show(iss.input)}` })
    .int({ error: (iss) => `${what} must be a whole number ${min}-${max}, got ${show(iss.input)}` })
    .min(min, { error: (iss) => `${what} must be ${min}-${max}, got ${show(iss.input)}` })
    .max(max, { error: (iss) => `${what} must be ${min}-${max}, got ${show(iss.input)}` });

/** A finite number. */
export const num = (what: string) =>
  z
    .number({ error: (iss) => `${what} must be a number, got ${show(iss.input)}` })
    .refine(Number.isFinite, { error: (iss) => `${what} must be a finite number, got ${show(iss.input)}` });

/** A finite number, 0 or more (a size: an amplitude, a noise level). */
export const nonNegative = (what: string) =>
  num(what).min(0, { error: (iss) => `${what} must be 0 or more, got ${show(iss.input)}` });

/** The message of a discriminated union whose `type` is none of `types`. */
export const unknownType =
  (what: string, types: readonly string[]) =>
  (iss: { input?: unknown }): string =>
    `${what} type must be ${types.slice(0, -1).join(", ")} or ${types.at(-1)}, got ${show((iss.input as { type?: unknown } | undefined)?.type ?? iss.input)}`;
