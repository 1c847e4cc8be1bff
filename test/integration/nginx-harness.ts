// The real nginx (Debian's package and its nginx.conf) serving the site the push ships, moved to a
// scratch prefix: listeners on 127.0.0.1 and free ports, certificates under the prefix, and the
// upstream pointed at whatever the test runs in the web app's place. Used by daemons-nginx-live and
// the attack suite's TLS and proxy tests.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SERVER_NGINX_PATHS, SERVER_WEB_UPSTREAM } from "../../infra/render/nginx";
import type { RenderedFixture } from "./daemons-fixtures";
import { siteOnLoopback } from "./daemons-support";
import { freePort } from "../support/ports";
import { type Daemon, startDaemon, waitForPort } from "../support/daemon";

export interface RunningNginx {
  httpPort: number;
  httpsPort: number;
  /** The site as nginx runs it (after the moves above). */
  site: string;
  /** nginx's output and error.log, for assertion messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx on the fixture's shipped site. `upstream` replaces the shipped proxy_pass target
 * (e.g. `http://127.0.0.1:PORT` or `http://unix:/path/web.sock`).
 */
export async function startShippedNginx(dir: string, r: RenderedFixture, upstream: string): Promise<RunningNginx> {
  chmodSync(dir, 0o755);
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const prefix = join(dir, "prefix");
  mkdirSync(join(prefix, "tls"), { recursive: true, mode: 0o755 });
  mkdirSync(join(prefix, "logs"), { recursive: true });
  mkdirSync(join(prefix, "sites-enabled"), { recursive: true });
  chmodSync(prefix, 0o755);
  writeFileSync(join(prefix, "tls", "server.pem"), r.content(SERVER_NGINX_PATHS.certificate));
  writeFileSync(join(prefix, "tls", "server.key"), r.content(SERVER_NGINX_PATHS.certificateKey), { mode: 0o600 });
  const shipped = r.content(SERVER_NGINX_PATHS.site);
  if (!shipped.includes(`proxy_pass ${SERVER_WEB_UPSTREAM};`))
    throw new Error(`the shipped site no longer proxies to ${SERVER_WEB_UPSTREAM}: adjust startShippedNginx`);
  const site = siteOnLoopback(shipped, httpPort, httpsPort)
    .replaceAll("/etc/nginx/tls/", `${prefix}/tls/`)
    .replaceAll(`proxy_pass ${SERVER_WEB_UPSTREAM};`, `proxy_pass ${upstream};`);
  writeFileSync(join(prefix, "sites-enabled", "diy"), site);
  const conf = readFileSync("/etc/nginx/nginx.conf", "utf8")
    .replace(/^pid .*;$/m, `pid ${prefix}/nginx.pid;`)
    .replace(/^(\s*)access_log .*;$/m, `$1access_log ${prefix}/logs/access.log;`)
    .replace(/^(\s*)error_log .*;$/m, `$1error_log ${prefix}/logs/error.log;`)
    .replace(/^(\s*)include \/etc\/nginx\/sites-enabled\/\*;$/m, `$1include ${prefix}/sites-enabled/*;`);
  writeFileSync(join(prefix, "nginx.conf"), conf);
  const nginx: Daemon = await startDaemon(
    "nginx",
    ["-c", join(prefix, "nginx.conf"), "-p", `${prefix}/`, "-e", `${prefix}/logs/error.log`, "-g", "daemon off;"],
    null,
  );
  const log = (): string => {
    let errors = "";
    try {
      errors = readFileSync(join(prefix, "logs", "error.log"), "utf8");
    } catch {}
    return `\nnginx output:\n${nginx.output()}\nerror.log:\n${errors}`;
  };
  try {
    await waitForPort(httpsPort, nginx);
  } catch (e) {
    await nginx.stop();
    throw new Error(`${(e as Error).message}${log()}`);
  }
  return { httpPort, httpsPort, site, log, stop: () => nginx.stop() };
}
