// Public API of the web app for the demo, tests and alerts.
export { createWebApp, type WebApp, type WebAppOptions } from "./app";
export { BrokerLink, BrokerRejectedError, BrokerUnavailableError, type CommandSender } from "./broker";
export {
  ConfigError,
  WebConfig,
  type WebConfigInput,
  WebDeviceConfig,
  loadWebConfig,
  parseWebConfig,
  secretsFromEnv,
  type WebSecrets,
} from "./config";
export { createLogger, memoryLogger, type Logger, type LogEntry } from "./log";
export { startWeb, type RunningWeb, type StartWebOptions } from "./server";
export { DeviceStore, type DeviceView, type StatusChange, type InputEvent } from "./state";
