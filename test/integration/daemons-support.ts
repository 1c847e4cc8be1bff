// Shared by the daemons-*.test.ts files: a local PKI, config trees for nginx and fail2ban, and child processes
// that are always killed and whose output is kept for assertion messages.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WEB_LOGIN_JAIL, renderFail2banWebLoginFilter } from "../../infra/render/fail2ban";

export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  client: (cn: string) => { cert: string; key: string };
  /** A CA the broker does not trust, with its own client cert. */
  rogueClient: (cn: string) => { cert: string; key: string };
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    key,
    "-subj",
    `/CN=${name}`,
    "-days",
    "2",
    "-out",
    cert,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { cert, key };
}

function issue(dir: string, ca: { cert: string; key: string }, cn: string, ext: string): { cert: string; key: string } {
  const key = join(dir, `${cn}.key`);
  const csr = join(dir, `${cn}.csr`);
  const cert = join(dir, `${cn}.pem`);
  const extFile = join(dir, `${cn}.ext`);
  writeFileSync(extFile, ext);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  openssl(["req", "-new", "-key", key, "-subj", `/CN=${cn}`, "-out", csr]);
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    extFile,
    "-out",
    cert,
  ]);
  return { cert, key };
}

/** A throwaway CA, a server cert for 127.0.0.1/localhost and client certs on demand (openssl CLI). */
export function makePki(dir: string): TestPki {
  const ca = makeCa(dir, "ca");
  const server = issue(
    dir,
    ca,
    "server",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  const clientExt = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n";
  const rogueDir = mkdtempSync(join(dir, "rogue-"));
  const rogueCa = makeCa(rogueDir, "rogue-ca");
  return {
    dir,
    ca: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    client: (cn) => issue(dir, ca, cn, clientExt),
    rogueClient: (cn) => issue(rogueDir, rogueCa, cn, clientExt),
  };
}

/** Debian's nginx.conf with its pid/log/site includes pointed into the prefix: the same http block the site lands in. */
export function nginxTree(prefix: string, site: string): string {
  const debian = readFileSync("/etc/nginx/nginx.conf", "utf8");
  mkdirSync(join(prefix, "sites-enabled"), { recursive: true });
  mkdirSync(join(prefix, "logs"), { recursive: true });
  writeFileSync(join(prefix, "sites-enabled", "diy"), site);
  const conf = debian
    .replace(/^pid .*;$/m, `pid ${prefix}/nginx.pid;`)
    .replace(/^(\s*)access_log .*;$/m, `$1access_log ${prefix}/logs/access.log;`)
    .replace(/^(\s*)error_log .*;$/m, `$1error_log ${prefix}/logs/error.log;`)
    .replace(/^(\s*)include \/etc\/nginx\/sites-enabled\/\*;$/m, `$1include ${prefix}/sites-enabled/*;`);
  if (!conf.includes(`${prefix}/sites-enabled/*`))
    throw new Error("Debian's nginx.conf no longer includes sites-enabled: adjust the test");
  const file = join(prefix, "nginx.conf");
  writeFileSync(file, conf);
  return file;
}

/** The site with the server certificate paths moved into the prefix, where this puts the certs. */
export function siteWithCertsIn(prefix: string, site: string, certPem: string, keyPem: string): string {
  mkdirSync(join(prefix, "tls"), { recursive: true });
  writeFileSync(join(prefix, "tls", "server.pem"), certPem);
  writeFileSync(join(prefix, "tls", "server.key"), keyPem, { mode: 0o600 });
  return site.replaceAll("/etc/nginx/tls/", `${prefix}/tls/`);
}

/** The rendered site's listeners moved to 127.0.0.1 on the given ports (IPv6 listeners dropped), everything else as shipped. */
export function siteOnLoopback(site: string, httpPort: number, httpsPort: number): string {
  const moved = site
    .replace(/^ {4}listen \[::\]:.*\n/gm, "")
    .replace(/^ {4}listen 80 /m, `    listen 127.0.0.1:${httpPort} `)
    .replace(/^ {4}listen 443 /m, `    listen 127.0.0.1:${httpsPort} `);
  if (!moved.includes(`127.0.0.1:${httpPort} `) || !moved.includes(`127.0.0.1:${httpsPort} `))
    throw new Error("the rendered site no longer listens on 80/443 as expected: adjust siteOnLoopback");
  return moved;
}

/**
 * fail2ban's own [Definition] for an instance of the test's (fail2ban.conf(5)): log, socket and pid file in `dir`,
 * the database in memory, so it never meets a fail2ban of the machine.
 */
export function privateFail2banDefinition(dir: string): string {
  return [
    "[Definition]",
    "loglevel = INFO",
    `logtarget = ${join(dir, "fail2ban.log")}`,
    `socket = ${join(dir, "f2b.sock")}`,
    `pidfile = ${join(dir, "f2b.pid")}`,
    "dbfile = :memory:",
    "",
  ].join("\n");
}

/** A copy of Debian's /etc/fail2ban with our jail.local and our filters (default: the rendered ones). */
export function fail2banTree(
  dir: string,
  jailLocal: string,
  filters: Record<string, string> = { [WEB_LOGIN_JAIL]: renderFail2banWebLoginFilter({ source: "test" }) },
): string {
  const tree = join(dir, "fail2ban");
  cpSync("/etc/fail2ban", tree, { recursive: true });
  writeFileSync(join(tree, "jail.local"), jailLocal);
  for (const [name, text] of Object.entries(filters)) writeFileSync(join(tree, "filter.d", `${name}.conf`), text);
  return tree;
}
