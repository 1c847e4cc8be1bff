// The values block at the top of a rendered shell script: one `readonly NAME=value` per value, quoted so
// that bash assigns exactly the value whatever it holds, and nothing in it runs. The script's logic stays in
// its own .sh file (infra/render/scripts/), linted where it is.

/** A flag (1/0), a whole number, a string, or a list of strings (a bash array). */
export type ShellValue = boolean | number | string | readonly string[];

/**
 * Double quotes, with the four characters bash still treats specially inside them (`\`, `"`, `$` and the
 * backquote) escaped by a backslash (bash(1), QUOTING: "The backslash retains its special meaning only when
 * followed by one of: $, `, ", \, or <newline>"). Control characters are refused: NUL cannot be in a bash
 * string, and a value that spans lines is never meant here (a tab is fine). `!` is literal: history expansion is off in a
 * script.
 */
export function shellQuoted(what: string, value: string): string {
  if (/(?!\t)\p{Cc}/u.test(value))
    throw new Error(`${what} must not contain control characters (newline, NUL ...), got ${JSON.stringify(value)}`);
  return `"${value.replace(/[\\"$`]/g, "\\$&")}"`;
}

function shellValue(name: string, value: ShellValue): string {
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`${name} must be a whole number, got ${value}`);
    return String(value);
  }
  if (typeof value === "string") return shellQuoted(name, value);
  return `(${value.map((v, i) => shellQuoted(`${name}[${i}]`, v)).join(" ")})`;
}

/** `readonly NAME=value` lines, in the order given. Names are upper case, as a script's constants are. */
export function renderShellValues(values: Readonly<Record<string, ShellValue>>): string[] {
  return Object.entries(values).map(([name, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name))
      throw new Error(`shell value name ${JSON.stringify(name)} must be upper-case letters, digits and '_'`);
    return `readonly ${name}=${shellValue(name, value)}`;
  });
}
