// Small helpers shared by the renderers: the "produced by" header and guards that keep a typed
// value from breaking out of the single line (or token) it is written into.

/** Header source when the caller does not name a stack (local demo, tests). */
export const DEFAULT_SOURCE = "built-in defaults (no stack)";

/** Comment lines that open every rendered file: which renderer wrote it and from what. */
export function header(prefix: string, renderer: string, source: string): string[] {
  return [
    `${prefix} Rendered by diy-device-cloud ${renderer}; do not edit by hand.`,
    `${prefix} Source: ${oneLine("source", source)}`,
  ];
}

/**
 * The files one renderer writes in one comment syntax: each opens with its header (this renderer, and the stack it
 * was rendered from, or DEFAULT_SOURCE), then its lines; see lines().
 */
export function headedFiles(comment: string, renderer: string) {
  return (source: string | undefined, body: readonly string[]): string =>
    lines([...header(comment, renderer, source ?? DEFAULT_SOURCE), ...body]);
}

/** A value that must stay on one line (paths, host names, addresses). */
export function oneLine(what: string, value: string): string {
  if (value === "" || /[\r\n\0]/.test(value)) {
    throw new Error(`${what} must be one non-empty line, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A value written as one whitespace-separated token (config directives). */
export function token(what: string, value: string): string {
  if (!/^[^\s#"'\\;{}]+$/.test(value)) {
    throw new Error(`${what} must be a single token without spaces or quotes, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** An absolute path usable as one token. */
export function absPath(what: string, value: string): string {
  token(what, value);
  if (!value.startsWith("/")) throw new Error(`${what} must be an absolute path, got ${JSON.stringify(value)}`);
  return value;
}

export function port(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${what} must be a TCP port 1-65535, got ${value}`);
  }
  return value;
}

/** A count or a length of time that must be at least one (mosquitto reads max_queued_messages 0 as no limit). */
export function positiveInt(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${what} must be a whole number >= 1, got ${value}`);
  return value;
}

/** Joins lines into a file that ends with exactly one newline. */
export function lines(parts: readonly string[]): string {
  return `${parts.join("\n")}\n`;
}
