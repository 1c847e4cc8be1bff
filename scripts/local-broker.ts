// A real mosquitto on 127.0.0.1 with a local CA: the rendered mosquitto.conf and ACL (the same
// renderers the server gets), real certificates and a CRL. Used by `npm run demo`, the broker and
// device integration tests and the benchmarks; the tests' throwaway broker (test/support/broker.ts
// startTestBroker) is this one on a CA made for the test.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { renderMosquittoConf } from "../infra/render/mosquitto";
import { renderMosquittoAcl } from "../infra/render/mosquitto-acl";
import { type Pem, certSerial, createCa, issueCert, renderCrl } from "../infra/render/x509";
import { type AclModel, type AclStack, type AclUser, aclModel } from "../protocol";

export const MOSQUITTO_MISSING =
  "mosquitto is not installed. Install it with: sudo apt-get install mosquitto (or bash scripts/setup.sh demo)";

/** What mosquitto logs once its listeners are open. */
export const MOSQUITTO_READY = /mosquitto version [\d.]+ running/;

/** Throws MOSQUITTO_MISSING when no mosquitto binary is on PATH. */
export function requireMosquitto(bin = "mosquitto"): void {
  const r = spawnSync(bin, ["-h"], { stdio: "ignore" });
  if (r.error) throw new Error(MOSQUITTO_MISSING);
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on host:port (we can bind it). */
export async function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export interface CertFiles {
  cert: string;
  key: string;
}

/** The certificate of a broker on the loopback address: what clients on this machine verify. */
export const LOOPBACK_SERVER = {
  commonName: "localhost",
  kind: "server",
  dnsNames: ["localhost"],
  ipAddresses: ["127.0.0.1"],
} as const;

/** What the broker's TLS listener reads: the CA, its own certificate and, when given, a CRL. */
export interface BrokerTls {
  ca: string;
  server: CertFiles;
  crl?: string;
}

export interface LocalPki extends BrokerTls {
  dir: string;
  crl: string;
  /** The certificate files of a client identity (CN = id), issued on first use and reused after. */
  client(cn: string): Promise<CertFiles>;
  /** Adds a client's serial to the CRL (the broker reads it on its next start). */
  revoke(cn: string): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

/**
 * mosquitto started as root drops to the `mosquitto` user before it reads certificates: as on the
 * server, its key is root:mosquitto 0640 and its data directory belongs to it.
 */
function shareWithMosquitto(path: string, mode: number, own = false): void {
  if (!isRoot) return;
  try {
    const uid = Number(execFileSync("id", ["-u", "mosquitto"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "mosquitto"], { encoding: "utf8" }).trim());
    chownSync(path, own ? uid : 0, gid);
    chmodSync(path, mode);
  } catch {
    // no mosquitto user: mosquitto then keeps running as root and reads everything
  }
}

function writeSecret(path: string, data: string): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

function loadPem(dir: string, name: string): Pem | undefined {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  if (!existsSync(cert) || !existsSync(key)) return undefined;
  return { certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}

/**
 * Creates (or reuses, on a rerun) a CA, a server certificate for 127.0.0.1/localhost and a CRL in
 * `dir`. Client certificates are issued on demand. Keys are 0600.
 */
export async function ensureLocalPki(dir: string): Promise<LocalPki> {
  mkdirSync(dir, { recursive: true });
  // mosquitto (dropped to its user) must traverse the directory to reach its files.
  chmodSync(dir, 0o755);
  let ca = loadPem(dir, "ca");
  if (!ca) {
    ca = await createCa({ commonName: "DIY Device Cloud local CA" });
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    writeSecret(join(dir, "ca.key"), ca.keyPem);
  }
  const caPem = ca;
  if (!loadPem(dir, "server")) {
    const server = await issueCert(caPem, LOOPBACK_SERVER);
    writeFileSync(join(dir, "server.pem"), server.certPem);
    writeSecret(join(dir, "server.key"), server.keyPem);
  }
  shareWithMosquitto(join(dir, "server.key"), 0o640);
  const revokedFile = join(dir, "revoked.json");
  const revoked = (): string[] =>
    existsSync(revokedFile) ? (JSON.parse(readFileSync(revokedFile, "utf8")) as string[]) : [];
  const writeCrl = async (serials: string[]) => {
    writeFileSync(join(dir, "crl.pem"), await renderCrl({ ca: caPem, revoked: serials.map((serial) => ({ serial })) }));
  };
  // A fresh CRL on every start: mosquitto refuses every client once a CRL is past its nextUpdate.
  await writeCrl(revoked());

  const client = async (cn: string): Promise<CertFiles> => {
    if (!/^[a-z0-9][a-z0-9-]*(:bridge)?$/.test(cn)) throw new Error(`bad client name ${cn}`);
    const files = { cert: join(dir, `${cn}.pem`), key: join(dir, `${cn}.key`) };
    if (!loadPem(dir, cn)) {
      const issued = await issueCert(caPem, { commonName: cn, kind: "client" });
      writeFileSync(files.cert, issued.certPem);
      writeSecret(files.key, issued.keyPem);
    }
    return files;
  };
  return {
    dir,
    ca: join(dir, "ca.pem"),
    server: { cert: join(dir, "server.pem"), key: join(dir, "server.key") },
    crl: join(dir, "crl.pem"),
    client,
    revoke: async (cn) => {
      const { cert } = await client(cn);
      const serials = [...new Set([...revoked(), certSerial(readFileSync(cert, "utf8"))])];
      writeFileSync(revokedFile, JSON.stringify(serials));
      await writeCrl(serials);
    },
  };
}

export interface LocalBrokerOptions {
  /** Holds mosquitto.conf, acl and the persistence directory. */
  dir: string;
  /** ensureLocalPki's files, or a test's own CA (test/support/broker.ts). */
  pki: BrokerTls;
  /** Defaults to a free port. */
  port?: number;
  /** The devices (with their outputs and inputs) and bridges the ACL grants, as a stack lists them. */
  devices?: AclStack["devices"];
  bridges?: AclStack["bridges"];
  /** The whole ACL model instead (default: the one of devices and bridges). */
  acl?: AclModel;
  /** ACL users beside the stack's (a benchmark's baseline clients: one connection per identity). */
  extraAclUsers?: AclUser[];
  source?: string;
  /** Called with every chunk mosquitto logs. */
  onLog?: (text: string) => void;
  /**
   * Runs mosquitto in its own process group, so a terminal's Ctrl-C reaches only our process, which
   * then stops devices and web app before the broker (they publish `offline` on the way out).
   */
  ownProcessGroup?: boolean;
}

export interface LocalBroker {
  port: number;
  url: string;
  confPath: string;
  aclPath: string;
  /** Everything mosquitto logged since start. */
  output(): string;
  /** Stops mosquitto (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>;
  /** Kills mosquitto without a clean shutdown (as a crash would). */
  kill(): Promise<void>;
  /** Starts mosquitto again on the same port and files. */
  start(): Promise<void>;
  /** Rewrites the ACL file from this model (with extraAclUsers); mosquitto reads it when it starts. */
  writeAcl(acl: AclModel): void;
}

/** Renders mosquitto.conf and the ACL with the project's renderers and starts mosquitto on 127.0.0.1. */
export async function startLocalBroker(opts: LocalBrokerOptions): Promise<LocalBroker> {
  requireMosquitto();
  mkdirSync(opts.dir, { recursive: true });
  chmodSync(opts.dir, 0o755);
  const port = opts.port ?? (await freePort());
  const data = join(opts.dir, "data");
  mkdirSync(data, { recursive: true });
  shareWithMosquitto(data, 0o750, true);
  const confPath = join(opts.dir, "mosquitto.conf");
  const aclPath = join(opts.dir, "acl");
  const source = opts.source ?? "local broker (scripts/local-broker.ts)";
  const writeAcl = (acl: AclModel) =>
    writeFileSync(aclPath, renderMosquittoAcl({ users: [...acl.users, ...(opts.extraAclUsers ?? [])], source }));
  writeAcl(opts.acl ?? aclModel({ devices: opts.devices ?? [], bridges: opts.bridges ?? [] }));
  writeFileSync(
    confPath,
    renderMosquittoConf({
      source,
      listener: { port, bindAddress: "127.0.0.1" },
      tls: {
        cafile: opts.pki.ca,
        certfile: opts.pki.server.cert,
        keyfile: opts.pki.server.key,
        ...(opts.pki.crl === undefined ? {} : { crlfile: opts.pki.crl }),
      },
      aclFile: aclPath,
      persistenceDir: data,
      log: { to: "stderr" },
    }),
  );

  let proc: ChildProcess | undefined;
  let log = "";
  const start = async () => {
    const child = spawn("mosquitto", ["-c", confPath], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: opts.ownProcessGroup ?? false,
    });
    proc = child;
    // Never leave a broker behind, even when our process exits without calling stop().
    const reap = () => child.kill("SIGKILL");
    process.once("exit", reap);
    child.once("exit", () => process.removeListener("exit", reap));
    let mine = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`mosquitto not ready after 15 s:\n${mine}`));
      }, 15_000);
      const onData = (d: Buffer) => {
        const text = d.toString();
        log += text;
        mine += text;
        opts.onLog?.(text);
        if (MOSQUITTO_READY.test(mine)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`mosquitto exited with ${code} before it was ready:\n${mine}`));
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  };
  const halt = (signal: NodeJS.Signals) => async () => {
    const child = proc;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill(signal);
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    });
  };
  await start();
  return {
    port,
    url: `mqtts://127.0.0.1:${port}`,
    confPath,
    aclPath,
    output: () => log,
    stop: halt("SIGTERM"),
    kill: halt("SIGKILL"),
    start,
    writeAcl,
  };
}
