// One structured log format for every program we ship (the web app and the device service): one JSON object
// per line on stdout, `{"time":<iso>,"level":..,"event":..,...fields}`, which journald keeps and
// `journalctl -o cat | jq` reads. The web login's fail2ban filter reads these lines (infra/render/fail2ban.ts).
// Never pass secrets in; a field whose name looks secret is redacted anyway, as a second line of defence.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface LogEntry extends LogFields {
  time: string;
  level: LogLevel;
  event: string;
}

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** The same logger with `fields` on every entry (a device id, a GPIO line). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Fields on every entry. */
  base?: LogFields;
  /** Receives each entry; default: `write` its JSON line. */
  sink?: (entry: LogEntry) => void;
  /** Receives each JSON line (without newline); default: stdout. */
  write?: (line: string) => void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /pass(word)?|secret|cookie|token|key|authorization/i;
const REDACTED = "[redacted]";

/** Top-level fields whose name looks secret are replaced; an Error becomes its message. */
export function redactFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELD.test(k)) out[k] = REDACTED;
    else if (v instanceof Error) out[k] = v.message;
    else out[k] = v;
  }
  return out;
}

// Errors stringify to {} by default; nested in a field, a log line still needs the message.
function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}

/** One JSON line for an entry (what the default sink writes). */
export function formatLogEntry(entry: LogEntry): string {
  return JSON.stringify(entry, errorReplacer);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = LEVELS[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const sink = opts.sink ?? ((e: LogEntry) => write(formatLogEntry(e)));
  const base = redactFields(opts.base ?? {});
  const at =
    (level: LogLevel) =>
    (event: string, fields: LogFields = {}): void => {
      if (LEVELS[level] < min) return;
      const entry: LogEntry = { time: "", level, event, ...base, ...redactFields(fields) };
      // Set again, in their first places: a field cannot pass for the time, level or event of a line.
      entry.time = new Date().toISOString();
      entry.level = level;
      entry.event = event;
      sink(entry);
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (fields) => createLogger({ ...opts, base: { ...opts.base, ...fields } }),
  };
}

/** A logger that keeps entries in memory: for tests and for embedding (the demo). */
export function memoryLogger(level: LogLevel = "debug"): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return Object.assign(createLogger({ level, sink: (e) => entries.push(e) }), { entries });
}

/** Drops everything: for tests and library use. */
export const silentLogger: Logger = createLogger({ sink: () => {} });
