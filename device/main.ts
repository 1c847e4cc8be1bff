import { traceToFile } from "../protocol/trace";
import { loadDeviceConfig } from "./config";
import { createLogger } from "./log";
import { startDeviceService } from "./service";

// Entry of the device bundle: `node /opt/diy-device/device.js --config /etc/diy-device/config.json`.
// Exits non-zero only when it cannot start at all; systemd restarts it then.

const DEFAULT_CONFIG = "/etc/diy-device/config.json";

function configPath(argv: string[]): string {
  const i = argv.indexOf("--config");
  if (i >= 0) {
    const path = argv[i + 1];
    if (!path) throw new Error("--config needs a path");
    return path;
  }
  return DEFAULT_CONFIG;
}

async function main(): Promise<void> {
  if (process.env.DIY_LATENCY_TRACE) traceToFile(process.env.DIY_LATENCY_TRACE);
  let log = createLogger({ level: process.env.DIY_DEVICE_LOG_LEVEL === "debug" ? "debug" : "info" });
  process.on("uncaughtException", (err) => {
    log.error("uncaught exception", { err, stack: err.stack });
    process.exit(1);
  });
  const config = loadDeviceConfig(configPath(process.argv.slice(2)));
  log = log.child({ deviceId: config.deviceId });
  const service = await startDeviceService({ config, log });
  log.info("started", { outputs: config.outputs.length, inputs: config.inputs.length, node: process.version });
  const shutdown = (signal: string) => {
    log.info("shutting down", { signal });
    service.stop().then(
      () => process.exit(0),
      (err) => {
        log.error("shutdown failed", { err });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: Error) => {
  createLogger().error("cannot start", { err });
  process.exit(1);
});
