// The bridge board's mosquitto with the rendered IoT Core bridge (infra/render/bridge-mosquitto.ts, cloud kind
// iot-core), read and run by the real mosquitto binary: it starts and serves its LAN children while the endpoint is
// unreachable, and against a stand-in for the ATS endpoint it connects the way AWS IoT Core requires.
//
// The stand-in is a TLS server that verifies the client certificate (IoT Core authenticates by it) and reads the
// MQTT CONNECT and SUBSCRIBE packets the bridge sends. What it checks is IoT Core's documented behaviour:
// - AWS IoT Core Developer Guide, "MQTT" > "AWS IoT differences from MQTT specifications": MQTT 3.1.1 (protocol
//   level 4) and 5 only, QoS 0 and 1 only; mosquitto's try_private sets bit 0x80 of the protocol level
//   (mosquitto src/bridge.c; mosquitto.conf(5) try_private), which is no MQTT version IoT Core speaks.
// - "Thing policy variables": the client id must be the thing name for iot:Connect on
//   client/${iot:Connection.Thing.ThingName}.
// - AWS General Reference, IoT Core quotas (protocol/limits.ts): at most 50 subscriptions per connection.
// Packet layout: MQTT 3.1.1 (OASIS) 3.1 CONNECT, 3.8 SUBSCRIBE, 3.2 CONNACK, 3.9 SUBACK.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as tls from "node:tls";
import { renderBridgeMosquittoConf } from "../../infra/render/bridge-mosquitto";
import { createCa, issueCert } from "../../infra/render/x509";
import { bridgeIdentity, encodeState, iotThingName, topics } from "../../protocol";
import { BROKER_LIMITS } from "../../protocol/limits";
import { layBridgeBoard } from "../support/bridge-board";
import { type Daemon, startDaemon } from "../support/daemon";
import { connectOnce, publish } from "../support/mqtt";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";

const BRIDGE = "gw1";
const PREFIX = "diy-device-cloud-test";
const THING = iotThingName(PREFIX, bridgeIdentity(BRIDGE));
const CHILDREN = [
  { id: "ard1", outputs: ["relay"], inputs: ["door"] },
  { id: "ard2", outputs: ["led", "fan"], inputs: [] },
];
const PASSWORDS: Record<string, string> = { ard1: "ard1-lan-password-1", ard2: "ard2-lan-password-2" };

interface Connect {
  protocolLevel: number;
  cleanSession: boolean;
  keepalive: number;
  clientId: string;
}

/** Whole packets at the start of `buf`, and how many bytes they take; "remaining length" (2.2.3): 7 bits a byte. */
function packets(buf: Buffer): { packets: { type: number; body: Buffer }[]; used: number } {
  const out: { type: number; body: Buffer }[] = [];
  let i = 0;
  while (i + 1 < buf.length) {
    const type = (buf[i] ?? 0) >> 4;
    let len = 0;
    let mul = 1;
    let j = i + 1;
    for (;;) {
      const b = buf[j++] ?? 0;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) break;
    }
    if (j + len > buf.length) break;
    out.push({ type, body: buf.subarray(j, j + len) });
    i = j + len;
  }
  return { packets: out, used: i };
}

const str = (b: Buffer, at: number) => {
  const n = b.readUInt16BE(at);
  return { value: b.subarray(at + 2, at + 2 + n).toString("utf8"), next: at + 2 + n };
};

/**
 * A TLS endpoint standing in for IoT Core's: mutual TLS; a CONNECT of another protocol level than 3.1.1/5 gets
 * CONNACK 0x01 (unacceptable protocol version), one with another client id than the thing's is closed (its policy
 * denies iot:Connect); a QoS 2 subscription gets 0x80 (failure). It records what it accepted.
 */
async function standInEndpoint(dir: string, clientCaPem: string, thingName: string) {
  const serverCa = await createCa({ commonName: "Amazon Root CA stand-in", days: 2 });
  const server = await issueCert(serverCa, {
    commonName: "localhost",
    kind: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    days: 2,
  });
  const caFile = join(dir, "endpoint-ca.pem");
  writeFileSync(caFile, serverCa.certPem);
  const attempts: Connect[] = [];
  const connects: Connect[] = [];
  const subscribed: { filter: string; qos: number }[] = [];
  const srv = tls.createServer(
    { cert: server.certPem, key: server.keyPem, ca: clientCaPem, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      let pending = Buffer.alloc(0);
      socket.on("data", (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        const got = packets(pending);
        pending = pending.subarray(got.used);
        for (const p of got.packets) {
          if (p.type === 1) {
            const name = str(p.body, 0);
            const level = p.body[name.next] ?? 0;
            const flags = p.body[name.next + 1] ?? 0;
            const connect = {
              protocolLevel: level,
              cleanSession: (flags & 0x02) !== 0,
              keepalive: p.body.readUInt16BE(name.next + 2),
              clientId: str(p.body, name.next + 4).value,
            };
            attempts.push(connect);
            if (level !== 4 && level !== 5) {
              socket.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
              return;
            }
            if (connect.clientId !== thingName) {
              socket.destroy();
              return;
            }
            connects.push(connect);
            socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
          } else if (p.type === 8) {
            const packetId = p.body.readUInt16BE(0);
            const granted: number[] = [];
            for (let at = 2; at < p.body.length; ) {
              const f = str(p.body, at);
              const qos = p.body[f.next] ?? 0;
              if (qos <= 1) subscribed.push({ filter: f.value, qos });
              granted.push(qos <= 1 ? qos : 0x80);
              at = f.next + 1;
            }
            socket.write(Buffer.from([0x90, 2 + granted.length, packetId >> 8, packetId & 0xff, ...granted]));
          }
        }
      });
      socket.on("error", () => undefined);
    },
  );
  const port = await freePort();
  await new Promise<void>((resolve) => srv.listen(port, "127.0.0.1", resolve));
  return { port, caFile, attempts, connects, subscribed, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe("bridge to AWS IoT Core: the rendered bridge config under the real mosquitto", () => {
  const tmp = tempDir("bridge-iot-core", { daemonsMayEnter: true });
  const daemons: Daemon[] = [];
  let endpoint: Awaited<ReturnType<typeof standInEndpoint>>;
  let thingCert: { certPem: string; keyPem: string };

  /** Lays out a board as the install script does and starts its mosquitto with the IoT Core bridge. */
  async function board(name: string, cloud: { host: string; port: number }, caFile: string) {
    const files = layBridgeBoard(join(tmp.dir, name), {
      bridgeId: BRIDGE,
      children: CHILDREN,
      passwords: PASSWORDS,
      caPem: readFileSync(caFile, "utf8"),
      ...thingCert,
    });
    const dir = join(tmp.dir, name);
    const lanPort = await freePort();
    const conf = renderBridgeMosquittoConf({
      bridgeId: BRIDGE,
      lanAddress: "127.0.0.1",
      lanPort,
      cloud: { kind: "iot-core", ...cloud, clientId: THING },
      children: CHILDREN,
      paths: files,
      source: "bridge-iot-core test",
    });
    writeFileSync(join(files.confd, "diy-bridge.conf"), conf);
    const main = join(dir, "mosquitto.conf");
    writeFileSync(main, `log_dest stderr\nlog_type all\ninclude_dir ${files.confd}\n`);
    const d = await startDaemon("mosquitto", ["-c", main], /Opening ipv4 listen socket on port/);
    daemons.push(d);
    return { daemon: d, lanPort, conf };
  }

  before(async () => {
    const thingCa = await createCa({ commonName: "AWS IoT issuer stand-in", days: 2 });
    thingCert = await issueCert(thingCa, { commonName: "iot-stand-in", kind: "client", days: 2 });
    endpoint = await standInEndpoint(tmp.dir, thingCa.certPem, THING);
  });

  after(async () => {
    for (const d of daemons) await d.stop();
    await endpoint?.close();
    tmp.cleanup();
  });

  it("starts with the endpoint unreachable and still serves its LAN children", async () => {
    const closed = await freePort();
    const b = await board("unreachable", { host: "localhost", port: closed }, endpoint.caFile);
    await waitUntil(
      () => /Connecting bridge .*diy-cloud \(localhost:/.test(b.daemon.output()),
      `a bridge connection attempt:\n${b.daemon.output()}`,
    );
    assert.equal(b.daemon.proc.exitCode, null, b.daemon.output());
    assert.doesNotMatch(b.daemon.output(), /Unknown configuration variable|Error:.*config/i);
    const ard1 = await connectOnce(b.lanPort, {}, "ard1", {
      options: { protocol: "mqtt", username: "ard1", password: PASSWORDS.ard1 },
    });
    assert.deepEqual(await publish(ard1, topics.state("ard1", "relay"), encodeState("on"), true), { ok: true });
    ard1.end(true);
  });

  it("connects as MQTT 3.1.1 without the bridge marker, clean session, client id = its thing name", async () => {
    const b = await board("endpoint", { host: "localhost", port: endpoint.port }, endpoint.caFile);
    await waitUntil(() => endpoint.attempts[0], `a CONNECT at the endpoint:\n${b.daemon.output()}`);
    assert.deepEqual(endpoint.attempts[0], { protocolLevel: 4, cleanSession: true, keepalive: 60, clientId: THING });
    assert.equal(endpoint.connects.length, 1, "the stand-in accepted it");
    assert.match(THING, /^diy-device-cloud-test:gw1:bridge$/);
  });

  it("subscribes exactly its children's command topics at QoS 1, within IoT Core's 50 per connection", async () => {
    const expected = CHILDREN.flatMap((c) => c.outputs.map((o) => topics.set(c.id, o))).sort();
    await waitUntil(
      () => endpoint.subscribed.length >= expected.length,
      `${expected.length} subscriptions at the endpoint, got ${JSON.stringify(endpoint.subscribed)}`,
    );
    assert.deepEqual(endpoint.subscribed.map((s) => s.filter).sort(), expected);
    for (const s of endpoint.subscribed) assert.equal(s.qos, 1, s.filter);
    assert.ok(endpoint.subscribed.length <= BROKER_LIMITS["iot-core"].maxSubscriptionsPerConnection);
  });

  it("refuses to render a bridge whose children need more than 50 subscriptions", () => {
    const many = Array.from({ length: 26 }, (_, i) => ({ id: `a${i}`, outputs: ["x", "y"], inputs: [] }));
    assert.throws(
      () =>
        renderBridgeMosquittoConf({
          bridgeId: BRIDGE,
          lanAddress: "192.0.2.50",
          lanPort: 1883,
          cloud: { kind: "iot-core", host: "a1-ats.iot.eu-central-1.amazonaws.com", port: 8883, clientId: THING },
          children: many,
        }),
      /52 subscriptions on one connection; at most 50/,
    );
  });
});
