// Brokers for tests: real mosquitto (Debian's binary) on a free loopback port. startMosquitto runs a given
// mosquitto.conf (the shipped files under test); startTestBroker is scripts/local-broker.ts's startLocalBroker (the
// demo's broker: mosquitto.conf and ACL from infra/render) on a throwaway CA made for the test, and adds what tests
// do to a broker: issue and reissue client certificates, connect, play a push (new ACL and CRL, restart).
// startLocalBroker with its persistent local PKI is re-exported here for the tests that run it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IClientOptions, MqttClient } from "mqtt";
import { renderStableCrl } from "../../infra/render/crl";
import { type Pem, certNotAfter, createCa, issueCert } from "../../infra/render/x509";
import { type AclModel, type AclUser, type DeviceAcl, aclModel } from "../../protocol";
import {
  type CertFiles,
  LOOPBACK_SERVER,
  type LocalBroker,
  MOSQUITTO_READY,
  startLocalBroker,
} from "../../scripts/local-broker";
import { type Daemon, shareWithDaemon, startDaemon } from "./daemon";
import { connectWithFiles } from "./mqtt";
import { tempDir } from "./temp-dir";

export {
  type CertFiles,
  type LocalBroker,
  type LocalPki,
  ensureLocalPki,
  requireMosquitto,
  startLocalBroker,
} from "../../scripts/local-broker";

/** mosquitto -c <conf>, resolved once it logs that it runs; the caller stops it. */
export function startMosquitto(confPath: string): Promise<Daemon> {
  return startDaemon("mosquitto", ["-c", confPath], MOSQUITTO_READY);
}

export interface IssuedFiles extends CertFiles {
  serial: string;
  notAfter: string;
}

export interface TestBroker extends LocalBroker {
  dir: string;
  caFile: string;
  /** Issues a client certificate with this CN (device id, or "web") and writes it to files. */
  client(cn: string): Promise<IssuedFiles>;
  /** A new certificate for `cn` (a rotation): client() and connect() use it from now on; old files stay. */
  reissue(cn: string): Promise<IssuedFiles>;
  /** Connects an MQTT 5 client with a certificate for `cn` (or with these certificate files). */
  connect(cn: string, opts?: IClientOptions, files?: CertFiles): Promise<MqttClient>;
  /** Rewrites the ACL (revoked devices denied by name) and the CRL (needs `crl`), then restarts: a push. */
  configure(push: { revoked?: readonly string[]; crlSerials?: readonly string[] }): Promise<void>;
  restart(): Promise<void>;
  /** Stops the broker and removes the temp dir. */
  cleanup(): Promise<void>;
}

export interface TestBrokerOptions {
  /** The broker's whole ACL model (default: aclModel of `devices`). */
  acl?: AclModel;
  /** The stack's devices with their outputs and inputs: the ACL grants each exactly those. */
  devices?: readonly DeviceAcl[];
  /** ACL users beside the stack's (a test's own observer). */
  extraAclUsers?: readonly AclUser[];
  /** Run with a CRL (crlfile), empty until configure() names serials. */
  crl?: boolean;
}

export async function startTestBroker(name = "web", opts: TestBrokerOptions = {}): Promise<TestBroker> {
  const tmp = tempDir(name, { daemonsMayEnter: true });
  const ca: Pem = await createCa({ commonName: "diy test CA", days: 2 });
  const caFile = join(tmp.dir, "ca.pem");
  writeFileSync(caFile, ca.certPem);
  const server = await issueCert(ca, { ...LOOPBACK_SERVER, days: 2 });
  const serverFiles = { cert: join(tmp.dir, "server.pem"), key: join(tmp.dir, "server.key") };
  writeFileSync(serverFiles.cert, server.certPem);
  writeFileSync(serverFiles.key, server.keyPem, { mode: 0o600 });
  shareWithDaemon(serverFiles.key, "mosquitto");
  const crlFile = join(tmp.dir, "crl.pem");
  const writeCrl = async (serials: readonly string[]) =>
    writeFileSync(
      crlFile,
      await renderStableCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, revokedSerials: serials }),
    );
  if (opts.crl) await writeCrl([]);
  const aclOf = (revoked: readonly string[]) => opts.acl ?? aclModel({ devices: opts.devices ?? [], revoked });
  const broker = await startLocalBroker({
    dir: tmp.dir,
    pki: { ca: caFile, server: serverFiles, ...(opts.crl ? { crl: crlFile } : {}) },
    acl: aclOf([]),
    extraAclUsers: [...(opts.extraAclUsers ?? [])],
    source: "web integration test",
  });
  const restart = async () => {
    await broker.stop();
    await broker.start();
  };

  const issued = new Map<string, IssuedFiles>();
  const reissue = async (cn: string): Promise<IssuedFiles> => {
    const c = await issueCert(ca, { commonName: cn, kind: "client", days: 2 });
    const name = issued.has(cn) ? `${cn}.${c.serial}` : cn;
    const files = {
      cert: join(tmp.dir, `${name}.pem`),
      key: join(tmp.dir, `${name}.key`),
      serial: c.serial,
      notAfter: certNotAfter(c.certPem),
    };
    writeFileSync(files.cert, c.certPem);
    writeFileSync(files.key, c.keyPem, { mode: 0o600 });
    issued.set(cn, files);
    return files;
  };
  const client = async (cn: string): Promise<IssuedFiles> => issued.get(cn) ?? reissue(cn);

  return {
    ...broker,
    dir: tmp.dir,
    caFile,
    client,
    reissue,
    async connect(cn, opts = {}, given) {
      const files = given ?? (await client(cn));
      const clientId = `${cn}-${Math.random().toString(36).slice(2, 8)}`;
      return connectWithFiles(broker.port, { ca: caFile, ...files }, clientId, opts);
    },
    restart,
    async configure(push) {
      broker.writeAcl(aclOf(push.revoked ?? []));
      if (push.crlSerials) {
        if (!opts.crl) throw new Error("start the broker with { crl: true } to push a CRL");
        await writeCrl(push.crlSerials);
      }
      await restart();
    },
    async cleanup() {
      await broker.stop();
      tmp.cleanup();
    },
  };
}
