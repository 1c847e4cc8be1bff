// The bridge board's mosquitto with the rendered IoT Core bridge (infra/render/bridge-mosquitto.ts, cloud kind
// iot-core), read and run by the real mosquitto binary: it starts and serves its LAN children while the endpoint is
// unreachable, and against a stand-in for the ATS endpoint (test/support/iot-endpoint.ts, which holds IoT Core's
// rules for CONNECT and SUBSCRIBE) it connects the way AWS IoT Core requires: MQTT 3.1.1 without mosquitto's bridge
// marker (try_private sets bit 0x80 of the protocol level: mosquitto src/bridge.c, mosquitto.conf(5)), client id =
// its thing name, and within IoT Core's 50 subscriptions per connection (protocol/limits.ts).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { renderBridgeMosquittoConf } from "../../infra/render/bridge-mosquitto";
import { createCa, issueCert } from "../../infra/render/x509";
import { bridgeIdentity, encodeState, iotThingName, topics } from "../../protocol";
import { BROKER_LIMITS } from "../../protocol/limits";
import { layBridgeBoard } from "../support/bridge-board";
import { type IotEndpointStandIn, standInIotEndpoint } from "../support/iot-endpoint";
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

describe("bridge to AWS IoT Core: the rendered bridge config under the real mosquitto", () => {
  const tmp = tempDir("bridge-iot-core", { daemonsMayEnter: true });
  const daemons: Daemon[] = [];
  let endpoint: IotEndpointStandIn;
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
    endpoint = await standInIotEndpoint(tmp.dir, thingCa.certPem, THING);
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
