import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import { renderMosquittoConf } from "../../infra/render/mosquitto";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import { aclModel, topics } from "../../protocol";
import { type TestPki, makePki } from "./daemons-support";
import { type ClientFiles, connectWithFiles } from "../support/mqtt";
import { startMosquitto } from "../support/broker";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";
import { type Daemon, giveToDaemon, isRoot, shareWithDaemon } from "../support/daemon";

function connect(port: number, files: ClientFiles, clientId: string): Promise<MqttClient> {
  return connectWithFiles(port, files, clientId, { servername: "localhost" });
}

describe("mosquitto runs the rendered mosquitto.conf and ACL", () => {
  const tmp = tempDir("mosq", { daemonsMayEnter: true });
  let pki: TestPki;
  let broker: Daemon | undefined;
  let port = 0;
  const clients: MqttClient[] = [];

  before(async () => {
    pki = makePki(tmp.dir);
    shareWithDaemon(pki.serverKey, "mosquitto");
    const data = join(tmp.dir, "data");
    mkdirSync(data);
    giveToDaemon(data, "mosquitto");
    port = await freePort();
    const confPath = join(tmp.dir, "mosquitto.conf");
    const aclPath = join(tmp.dir, "acl");
    writeFileSync(
      aclPath,
      renderMosquittoAcl({
        ...aclModel({
          devices: ["pi1", "pi2", "pi3", "pi4"].map((id) => ({ id, outputs: ["led"], inputs: [] })),
          bridges: [{ id: "bridge1", children: [{ id: "ard1", outputs: ["led"], inputs: [] }] }],
        }),
        source: "integration test",
      }),
    );
    writeFileSync(
      confPath,
      renderMosquittoConf({
        source: "integration test",
        listener: { port, bindAddress: "127.0.0.1" },
        tls: { cafile: pki.ca, certfile: pki.serverCert, keyfile: pki.serverKey },
        aclFile: aclPath,
        persistenceDir: data,
        log: { to: "stderr" },
        // Sized limits no stack key sets yet: mosquitto must take them as rendered.
        limits: { maxQueuedMessages: 5000, persistentClientExpiration: "30d" },
      }),
    );
    broker = await startMosquitto(confPath);
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker?.stop();
    tmp.cleanup();
  });

  const brokerLog = (): string => `\nbroker output:\n${broker?.output() ?? ""}`;

  test("accepts a device presenting a certificate from the stack CA (mTLS)", async () => {
    const { cert, key } = pki.client("pi1");
    const client = await connect(port, { ca: pki.ca, cert, key }, "pi1");
    clients.push(client);
    assert.equal(client.connected, true, brokerLog());
  });

  test("refuses an anonymous client without a certificate", async () => {
    await assert.rejects(connect(port, { ca: pki.ca }, "anon"), (err: Error) => {
      assert.match(err.message, /certificate required/, `unexpected refusal: ${err.message}${brokerLog()}`);
      return true;
    });
  });

  test("refuses a client certificate issued by another CA", async () => {
    const { cert, key } = pki.rogueClient("pi1");
    await assert.rejects(connect(port, { ca: pki.ca, cert, key }, "rogue"), (err: Error) => {
      assert.match(err.message, /unknown ca/, `unexpected refusal: ${err.message}${brokerLog()}`);
      return true;
    });
  });

  test("delivers a web command to the addressed device and its state back to the web app", async () => {
    const dev = pki.client("pi2");
    const web = pki.client("web");
    const device = await connect(port, { ca: pki.ca, ...dev }, "pi2");
    const webApp = await connect(port, { ca: pki.ca, ...web }, "web");
    clients.push(device, webApp);
    const gotCommand = new Promise<string>((resolve) => device.on("message", (_t, p) => resolve(p.toString())));
    await device.subscribeAsync(topics.set("pi2", "+"), { qos: 1 });
    await webApp.subscribeAsync(topics.state("+", "+"), { qos: 1 });
    const gotState = new Promise<string>((resolve) => webApp.on("message", (_t, p) => resolve(p.toString())));
    // mqtt.js rejects publishAsync when the PUBACK carries an error reason (e.g. 135 Not authorized).
    await webApp.publishAsync(topics.set("pi2", "led"), '{"value":"on","req":"r1"}', { qos: 1 });
    assert.equal(await gotCommand, '{"value":"on","req":"r1"}');
    await device.publishAsync(topics.state("pi2", "led"), '{"value":"on"}', { qos: 1, retain: true });
    assert.equal(await gotState, '{"value":"on"}');
  });

  test("refuses a device publishing to another device's state topic (reason code, and nothing delivered)", async () => {
    const intruder = await connect(port, { ca: pki.ca, ...pki.client("pi3") }, "pi3");
    const owner = await connect(port, { ca: pki.ca, ...pki.client("pi4") }, "pi4");
    const webApp = await connect(port, { ca: pki.ca, ...pki.client("web") }, "web-watch");
    clients.push(intruder, owner, webApp);
    const first = new Promise<string>((resolve) => webApp.on("message", (_t, p) => resolve(p.toString())));
    await webApp.subscribeAsync(topics.state("pi4", "led"), { qos: 1 });
    await assert.rejects(
      intruder.publishAsync(topics.state("pi4", "led"), '{"value":"forged"}', { qos: 1 }),
      (err: Error & { code?: number }) => {
        assert.equal(err.code, 135, `expected "Not authorized" (135), got ${err.message}${brokerLog()}`);
        return true;
      },
    );
    // Ordering, not time: the first message the web app sees must be the owner's, published after the forgery.
    await owner.publishAsync(topics.state("pi4", "led"), '{"value":"genuine"}', { qos: 1 });
    assert.equal(await first, '{"value":"genuine"}');
  });

  test("runs as the unprivileged mosquitto user and still reads the root:mosquitto 0640 key", { skip: !isRoot }, () => {
    const pid = broker?.proc.pid;
    assert.ok(pid);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    assert.notEqual(uid, "0", `broker still runs as root${brokerLog()}`);
  });
});
