import { z } from "zod";

/** Largest payload any client of ours sends or accepts; the broker's message_size_limit is exactly this. */
export const MAX_PAYLOAD_BYTES = 1024;

const requestId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, "letters, digits and _ . : - only");

export const OutputValue = z.enum(["on", "off"]);
export type OutputValue = z.infer<typeof OutputValue>;

export const CommandPayload = z.strictObject({
  value: z.enum(["on", "off", "toggle"]),
  req: requestId,
});
export type CommandPayload = z.infer<typeof CommandPayload>;

export const StatePayload = z.strictObject({
  value: OutputValue,
  req: requestId.optional(),
  at: z.iso.datetime(),
});
export type StatePayload = z.infer<typeof StatePayload>;

export const InputPayload = z.strictObject({
  value: z.enum(["pressed", "released"]),
  at: z.iso.datetime(),
});
export type InputPayload = z.infer<typeof InputPayload>;

/** A sensor reading. The unit is what the number means ("°C", "%", "mV"): shown, never converted. */
export const SensorPayload = z.strictObject({
  value: z.number().finite(),
  unit: z
    .string()
    .min(1)
    .max(16)
    .regex(/^[^\p{Cc}<>&"']+$/u, "printable, without < > & quotes"),
  at: z.iso.datetime(),
});
export type SensorPayload = z.infer<typeof SensorPayload>;

export const StatusPayload = z.enum(["online", "offline"]);
export type StatusPayload = z.infer<typeof StatusPayload>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Parses an MQTT payload with one schema. Never throws: a bad payload is a value to log and drop.
 * JSON schemas get JSON.parse first; the status schema reads the raw text.
 */
export function parsePayload<T>(
  schema: z.ZodType<T>,
  payload: Buffer | string,
  opts: { json?: boolean } = {},
): ParseResult<T> {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_PAYLOAD_BYTES)
    return { ok: false, error: `payload of ${size} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit` };
  const text = payload.toString();
  let data: unknown = text;
  if (opts.json !== false) {
    try {
      data = JSON.parse(text);
    } catch {
      return { ok: false, error: "payload is not valid JSON" };
    }
  }
  const result = schema.safeParse(data);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, error: z.prettifyError(result.error) };
}

export const parseCommand = (p: Buffer | string) => parsePayload(CommandPayload, p);
export const parseState = (p: Buffer | string) => parsePayload(StatePayload, p);
export const parseInput = (p: Buffer | string) => parsePayload(InputPayload, p);
export const parseStatus = (p: Buffer | string) => parsePayload(StatusPayload, p, { json: false });
export const parseSensor = (p: Buffer | string) => parsePayload(SensorPayload, p);

export function encodeState(value: OutputValue, req?: string, at: Date = new Date()): string {
  return JSON.stringify(req ? { value, req, at: at.toISOString() } : { value, at: at.toISOString() });
}

export function encodeCommand(cmd: CommandPayload): string {
  return JSON.stringify(cmd);
}

export function encodeInput(value: InputPayload["value"], at: Date = new Date()): string {
  return JSON.stringify({ value, at: at.toISOString() });
}

export function encodeSensor(value: number, unit: string, at: Date = new Date()): string {
  return JSON.stringify({ value, unit, at: at.toISOString() });
}
