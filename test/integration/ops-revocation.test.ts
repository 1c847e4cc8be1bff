// Revocation with the real mosquitto 2.0 and the CRL the program produces (infra/render/crl.ts):
// a connected device is revoked, cut off and refused, another device carries on, un-revoking works.
// Also records why the push restarts mosquitto instead of SIGHUP: a reload rereads the CRL for new
// connections but leaves an already connected revoked device connected.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import { aclModel } from "../../protocol";
import { renderStableCrl } from "../../infra/render/crl";
import { renderMosquittoConf } from "../../infra/render/mosquitto";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import { type Pem, createCa, issueCert } from "../../infra/render/x509";
import { connectOnce } from "../support/mqtt";
import { startMosquitto } from "../support/broker";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";
import { type Daemon, giveToDaemon, shareWithDaemon } from "../support/daemon";

interface Identity {
  cert: string;
  key: string;
  serial: string;
}

describe("revoking a device with the stack CRL on a real mosquitto", () => {
  const tmp = tempDir("ops-revoke", { daemonsMayEnter: true });
  let ca: Pem;
  let pi1: Identity;
  let pi2: Identity;
  let port = 0;
  let confPath = "";
  const crlPath = join(tmp.dir, "crl.pem");
  let broker: Daemon | undefined;
  const clients: MqttClient[] = [];

  /** A reconnecting client (mqtt.js retries every 100 ms) reports each refusal as an error; the tests read them by code. */
  const connect = async (id: Identity, clientId: string, reconnect = false): Promise<MqttClient> => {
    const client = await connectOnce(
      port,
      { servername: "localhost", ca: ca.certPem, cert: id.cert, key: id.key },
      clientId,
      { options: { reconnectPeriod: reconnect ? 100 : 0 } },
    );
    clients.push(client);
    return client;
  };

  const writeCrl = async (revoked: Identity[]) => {
    writeFileSync(
      crlPath,
      await renderStableCrl({
        caCertPem: ca.certPem,
        caKeyPem: ca.keyPem,
        revokedSerials: revoked.map((r) => r.serial),
      }),
    );
    chmodSync(crlPath, 0o644);
  };
  const startBroker = async () => {
    broker = await startMosquitto(confPath);
  };
  /** What the push does when mosquitto's files change (infra/render/push-script.ts: restart). */
  const restartBroker = async () => {
    await broker?.stop();
    await startBroker();
  };
  const log = () => `\nbroker output:\n${broker?.output() ?? ""}`;

  before(async () => {
    ca = await createCa({ commonName: "test stack CA" });
    const server = await issueCert(ca, {
      commonName: "localhost",
      kind: "server",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    const issue = async (cn: string): Promise<Identity> => {
      const c = await issueCert(ca, { commonName: cn, kind: "client" });
      return { cert: c.certPem, key: c.keyPem, serial: c.serial };
    };
    pi1 = await issue("pi1");
    pi2 = await issue("pi2");
    const file = (name: string, text: string, mode = 0o644) => {
      const p = join(tmp.dir, name);
      writeFileSync(p, text);
      chmodSync(p, mode);
      return p;
    };
    const caFile = file("ca.pem", ca.certPem);
    const certFile = file("server.pem", server.certPem);
    const keyFile = file("server.key", server.keyPem, 0o640);
    shareWithDaemon(keyFile, "mosquitto");
    const aclFile = file(
      "acl",
      renderMosquittoAcl({
        ...aclModel({ devices: ["pi1", "pi2"].map((id) => ({ id, outputs: ["led"], inputs: [] })) }),
        source: "ops revocation test",
      }),
    );
    const data = join(tmp.dir, "data");
    mkdirSync(data);
    giveToDaemon(data, "mosquitto");
    port = await freePort();
    confPath = file(
      "mosquitto.conf",
      renderMosquittoConf({
        source: "ops revocation test",
        listener: { port, bindAddress: "127.0.0.1" },
        tls: { cafile: caFile, certfile: certFile, keyfile: keyFile, crlfile: crlPath },
        aclFile,
        persistenceDir: data,
        log: { to: "stderr" },
      }),
    );
    await writeCrl([]); // always a CRL, empty when nothing is revoked
    await startBroker();
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker?.stop();
    tmp.cleanup();
  });

  test("with the empty CRL both devices connect", async () => {
    const a = await connect(pi1, "pi1-first");
    const b = await connect(pi2, "pi2-first");
    assert.ok(a.connected && b.connected, log());
    a.end(true);
    b.end(true);
  });

  test("SIGHUP rereads the CRL for new connections but leaves a connected revoked device connected", async () => {
    const revokedButConnected = await connect(pi1, "pi1-hup");
    await writeCrl([pi1]);
    const from = broker?.output().length ?? 0;
    broker?.proc.kill("SIGHUP");
    await waitUntil(
      () => /Reloading config/.test(broker?.output().slice(from) ?? ""),
      () => `the reload${log()}`,
      { intervalMs: 50 },
    );
    await assert.rejects(connect(pi1, "pi1-after-hup"), (e: Error & { code?: string }) => {
      assert.equal(
        e.code,
        "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
        `a new connection of the revoked device is refused: ${e.message}`,
      );
      return true;
    });
    await waitUntil(
      () => /certificate verify failed/.test(broker?.output().slice(from) ?? ""),
      () => `the broker to log the refusal${log()}`,
      { intervalMs: 50 },
    );
    assert.equal(revokedButConnected.connected, true, "the old connection survives a reload: the push must restart");
    await revokedButConnected.publishAsync("probe", "x", { qos: 1 }).catch(() => {}); // still talking to the broker
    assert.equal(revokedButConnected.connected, true);
    revokedButConnected.end(true);
    await writeCrl([]);
    await restartBroker();
  });

  test("revoking a connected device: after the push (new CRL, restart) it is cut off and refused, the other device reconnects", async () => {
    const revoked = await connect(pi1, "pi1", true);
    const other = await connect(pi2, "pi2", true);
    let revokedReconnects = 0;
    revoked.on("connect", () => revokedReconnects++);
    const refusals: string[] = [];
    revoked.on("error", (e: Error & { code?: string | number }) => refusals.push(String(e.code ?? e.message)));
    let otherReconnects = 0;
    other.on("connect", () => otherReconnects++);

    await writeCrl([pi1]);
    await restartBroker();
    const from = broker?.output().length ?? 0;
    await waitUntil(
      () => otherReconnects > 0 && other.connected,
      () => `the other device to reconnect${log()}`,
      { intervalMs: 50 },
    );
    await waitUntil(
      () => /certificate verify failed/.test(broker?.output().slice(from) ?? ""),
      () => `the revoked device to be refused${log()}`,
      { intervalMs: 50 },
    );
    assert.equal(revoked.connected, false, log());
    // (while the broker restarts the client may first see ECONNREFUSED; then the TLS refusal)
    await waitUntil(
      () => refusals.includes("ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED"),
      () => `the revoked device to see the refusal${log()}`,
      { intervalMs: 50 },
    );
    assert.equal(revokedReconnects, 0, "the revoked device never got back in");
    await other.publishAsync("pi2-still-works", "x", { qos: 1 }).catch((e: Error & { code?: number }) => {
      assert.equal(e.code, 135, "only an ACL refusal is acceptable, not a dead connection");
    });
    assert.equal(other.connected, true);
    revoked.end(true);
    other.end(true);
  });

  test("un-revoking (an empty CRL pushed again) lets the device connect again", async () => {
    await assert.rejects(connect(pi1, "pi1-still-revoked"), /certificate revoked/);
    await writeCrl([]);
    await restartBroker();
    const back = await connect(pi1, "pi1-back");
    assert.equal(back.connected, true, log());
    back.end(true);
  });
});
