// Entry point of the web app (bundled to /opt/diy-web/web.js, run by diy-web.service):
//   node web.js --config /etc/diy-web/config.json     (or DIY_WEB_CONFIG)
// Secrets come from the environment: DIY_WEB_PASSWORD, DIY_SESSION_SECRET (EnvironmentFile
// /etc/diy-web/secrets.env). Exits 2 on a config error with a message naming the key.
import { traceToFile } from "../../protocol/trace";
import { ConfigError, configPathFrom, loadWebConfig, secretsFromEnv } from "./config";
import { createLogger } from "./log";
import { startWeb } from "./server";

export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  // The click benchmark's per-hop timestamps (protocol/trace.ts); off otherwise.
  if (env.DIY_LATENCY_TRACE) traceToFile(env.DIY_LATENCY_TRACE);
  const log = createLogger({ level: env.DIY_WEB_LOG_LEVEL === "debug" ? "debug" : "info" });
  let web: Awaited<ReturnType<typeof startWeb>>;
  try {
    const config = loadWebConfig(configPathFrom(argv, env));
    web = await startWeb(config, { ...secretsFromEnv(env), logger: log });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`diy-web: ${e.message}\n`);
      process.exit(2);
    }
    log.error("start_failed", { error: (e as Error).message });
    process.exit(1);
  }
  const stop = (signal: string) => {
    log.info("shutdown", { signal });
    web.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

if (require.main === module) void main();
