// Structured logs: one JSON object per line on stdout (journald keeps them). Never pass secrets in;
// fields whose name looks secret are redacted anyway as a second line of defence.

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
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /pass(word)?|secret|cookie|token|key|authorization/i;

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELD.test(k)) out[k] = "[redacted]";
    else if (v instanceof Error) out[k] = v.message;
    else out[k] = v;
  }
  return out;
}

/** A logger that hands each entry to `sink`; the default writes JSON lines to stdout. */
export function createLogger(opts: { level?: LogLevel; sink?: (entry: LogEntry) => void } = {}): Logger {
  const min = LEVELS[opts.level ?? "info"];
  const sink = opts.sink ?? ((e: LogEntry) => process.stdout.write(`${JSON.stringify(e)}\n`));
  const at =
    (level: LogLevel) =>
    (event: string, fields: LogFields = {}) => {
      if (LEVELS[level] < min) return;
      sink({ time: new Date().toISOString(), level, event, ...redact(fields) });
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that keeps entries in memory: for tests and for embedding (the demo). */
export function memoryLogger(level: LogLevel = "debug"): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return Object.assign(createLogger({ level, sink: (e) => entries.push(e) }), { entries });
}

export const silentLogger: Logger = createLogger({ sink: () => {} });
