// The web app logs in the format every program we ship shares (protocol/log.ts).
export {
  type LogEntry,
  type LogFields,
  type LogLevel,
  type Logger,
  createLogger,
  memoryLogger,
  silentLogger,
} from "../../protocol/log";
