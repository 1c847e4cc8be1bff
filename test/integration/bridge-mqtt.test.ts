import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { renderBridgeMosquittoConf } from "../../infra/render/bridge-mosquitto";
import { WEB_CLIENT_ID, bridgeIdentity, encodeCommand, encodeState, topics } from "../../protocol";
import { collect, connectOnce, connectWithFiles, publish, subscribe } from "../support/mqtt";
import { letMessagesArrive, waitUntil } from "../support/wait";
import { tempDir } from "../support/temp-dir";
import { layBridgeBoard } from "../support/bridge-board";
import { type Daemon, startDaemon } from "../support/daemon";
import { type LocalBroker, type LocalPki, ensureLocalPki, startLocalBroker } from "../support/broker";
import { freePort } from "../support/ports";

// Two real mosquitto processes: the cloud broker with the rendered server config and ACL (bridge
// "pib" relaying child "ard1"), and the bridge board's mosquitto with the rendered bridge drop-in,
// included from a main config shaped like Debian's. ard1 is a plain MQTT client on the LAN side.

const BRIDGE = "pib";
/** The bridge connection's own identity (the board's device service is "pib"). */
const BRIDGE_IDENTITY = bridgeIdentity(BRIDGE);
const CHILD = "ard1";
const SIBLING = "ard2";
/** The children as the stack lists them: each with its own outputs and inputs. */
const CHILDREN = [
  { id: CHILD, outputs: ["led"], inputs: ["button"] },
  { id: SIBLING, outputs: ["led"], inputs: [] },
];
const PASSWORDS = { [CHILD]: "ard1-lan-password-123", [SIBLING]: "ard2-lan-password-456" };

describe("bridge: a plain LAN client reaches the cloud through the board's mTLS bridge", () => {
  const tmp = tempDir("bridge", { daemonsMayEnter: true });
  let pki: LocalPki;
  let cloud: LocalBroker;
  let bridge: Daemon;
  let lanPort = 0;
  const clients: MqttClient[] = [];
  const cloudAs = async (cn: string) => {
    const c = await connectWithFiles(cloud.port, { ca: pki.ca, ...(await pki.client(cn)) }, `${cn}-test`);
    clients.push(c);
    return c;
  };
  const lanAs = async (username: string, password: string, clientId = username) => {
    const c = await connectOnce(lanPort, {}, clientId, { options: { protocol: "mqtt", username, password } });
    clients.push(c);
    return c;
  };
  const logs = () => `\ncloud log:\n${cloud.output()}\nbridge log:\n${bridge?.output()}`;
  /**
   * True once the cloud logs the bridge (re)connecting after this call: call it before whatever makes the bridge
   * connect, since the cloud may log the connection before the caller gets to wait for it. The bridge's own
   * session is persistent (cleansession false: "c0" in mosquitto's log line); a test client holding the bridge's
   * certificate connects clean ("c1") and is not taken for the bridge.
   */
  const bridgeConnected = () => {
    const from = cloud?.output().length ?? 0;
    return () =>
      new RegExp(`New client connected .* as ${BRIDGE_IDENTITY} \\(p5, c0,`).test(cloud.output().slice(from));
  };

  before(async () => {
    pki = await ensureLocalPki(join(tmp.dir, "pki"));
    cloud = await startLocalBroker({
      dir: join(tmp.dir, "cloud"),
      pki,
      devices: [
        { id: BRIDGE, outputs: [], inputs: [] },
        { id: "pi1", outputs: ["led"], inputs: [] },
      ],
      bridges: [{ id: BRIDGE, children: CHILDREN }],
      source: "bridge test",
    });

    // The bridge board, laid out as the install script leaves it (key root:mosquitto 0640).
    const board = join(tmp.dir, "board");
    const own = await pki.client(BRIDGE_IDENTITY);
    const files = layBridgeBoard(board, {
      bridgeId: BRIDGE,
      children: CHILDREN,
      passwords: PASSWORDS,
      caPem: readFileSync(pki.ca, "utf8"),
      certPem: readFileSync(own.cert, "utf8"),
      keyPem: readFileSync(own.key, "utf8"),
    });
    const { confd } = files;

    lanPort = await freePort();
    writeFileSync(
      join(confd, "diy-bridge.conf"),
      renderBridgeMosquittoConf({
        bridgeId: BRIDGE,
        lanAddress: "127.0.0.1",
        lanPort,
        cloud: { host: "127.0.0.1", port: cloud.port },
        children: CHILDREN,
        paths: files,
        source: "bridge test",
      }),
    );
    const main = join(board, "mosquitto.conf");
    writeFileSync(main, `log_dest stderr\nlog_type all\ninclude_dir ${confd}\n`);
    const connected = bridgeConnected();
    bridge = await startDaemon("mosquitto", ["-c", main], /Opening ipv4 listen socket/);
    await waitUntil(connected, () => `the bridge connecting to the cloud${logs()}`, { timeoutMs: 15_000 });
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await bridge?.stop();
    await cloud?.stop();
    tmp.cleanup();
  });

  it("connects to the cloud with its own certificate, so the cloud knows it as the bridge identity", () => {
    // Client id = username = the bridge certificate's CN, apart from the board's device identity.
    assert.match(cloud.output(), new RegExp(`as ${BRIDGE_IDENTITY} \\(p5, [^)]*u'${BRIDGE_IDENTITY}'\\)`), logs());
  });

  it("delivers a child's retained state and status published on the LAN to the cloud topics of that child", async () => {
    const web = await cloudAs(WEB_CLIENT_ID);
    const seen = collect(web);
    await subscribe(web, [topics.state(CHILD, "+"), topics.status(CHILD)]);
    const ard1 = await lanAs(CHILD, PASSWORDS[CHILD]);
    const state = encodeState("on", "r1");
    assert.deepEqual(await publish(ard1, topics.state(CHILD, "led"), state, true), { ok: true });
    assert.deepEqual(await publish(ard1, topics.status(CHILD), "online", true), { ok: true });
    await waitUntil(
      () => seen.find((m) => m.topic === topics.state(CHILD, "led") && m.payload === state),
      `state on the cloud${logs()}`,
    );
    await waitUntil(
      () => seen.find((m) => m.topic === topics.status(CHILD) && m.payload === "online"),
      `status on the cloud${logs()}`,
    );

    // Retained on the cloud too: the web app started later still sees the child's last state.
    const late = await cloudAs(WEB_CLIENT_ID);
    const lateSeen = collect(late);
    await subscribe(late, topics.state(CHILD, "led"));
    const retained = await waitUntil(
      () => lateSeen.find((m) => m.payload === state),
      `retained state on the cloud${logs()}`,
    );
    assert.equal(retained.retain, true);
  });

  it("delivers a command from the web identity on the cloud to the plain client", async () => {
    const ard1 = await lanAs(CHILD, PASSWORDS[CHILD]);
    const got = collect(ard1);
    assert.deepEqual(await subscribe(ard1, topics.set(CHILD, "+")), [1]);
    const web = await cloudAs(WEB_CLIENT_ID);
    const cmd = encodeCommand({ value: "toggle", req: "bridge-1" });
    assert.deepEqual(await publish(web, topics.set(CHILD, "led"), cmd), { ok: true });
    const m = await waitUntil(
      () => got.find((x) => x.topic === topics.set(CHILD, "led")),
      `the command on the LAN${logs()}`,
    );
    assert.equal(m.payload, cmd);
  });

  it("refuses the bridge identity publishing for a device that is not its child", async () => {
    // Straight to the cloud with the bridge's certificate: what a rewritten bridge config could do.
    // It takes the bridge's place on the cloud (one connection per identity); the bridge comes back after.
    const back = bridgeConnected();
    const asBridge = await cloudAs(BRIDGE_IDENTITY);
    const web = await cloudAs(WEB_CLIENT_ID);
    const seen = collect(web);
    await subscribe(web, [topics.state("pi1", "+"), topics.status("pi1")]);
    for (const [topic, payload] of [
      [topics.state("pi1", "led"), encodeState("on")],
      [topics.status("pi1"), "offline"],
    ] as const) {
      const r = await publish(asBridge, topic, payload);
      assert.equal(r.ok ? 0 : r.reasonCode, 135, `${topic}: ${JSON.stringify(r)}`);
    }
    assert.deepEqual(
      await publish(asBridge, topics.state(CHILD, "led"), encodeState("off")),
      { ok: true },
      "its child is allowed",
    );
    await letMessagesArrive();
    assert.deepEqual(
      seen.filter((m) => m.topic.includes("/pi1/")),
      [],
    );
    asBridge.end(true);
    await waitUntil(back, `the bridge reconnecting${logs()}`, { timeoutMs: 20_000 });
  });

  it("does not relay a LAN publish on another device's topics", async () => {
    const web = await cloudAs(WEB_CLIENT_ID);
    const seen = collect(web);
    await subscribe(web, [topics.state("pi1", "+"), topics.state(SIBLING, "+")]);
    const ard1 = await lanAs(CHILD, PASSWORDS[CHILD]);
    // A device outside the bridge, and ard1 posing as its sibling: both refused by the LAN ACL.
    for (const topic of [topics.state("pi1", "led"), topics.state(SIBLING, "led")]) {
      const r = await publish(ard1, topic, encodeState("on"));
      assert.equal(r.ok ? 0 : r.reasonCode, 135, `${topic}: ${JSON.stringify(r)}`);
    }
    await letMessagesArrive();
    assert.deepEqual(seen, []);
  });

  it("refuses a child publishing under a name it does not have, on the LAN already", async () => {
    const web = await cloudAs(WEB_CLIENT_ID);
    const seen = collect(web);
    await subscribe(web, [topics.state(CHILD, "+"), topics.input(CHILD, "+")]);
    const ard1 = await lanAs(CHILD, PASSWORDS[CHILD]);
    for (const topic of [topics.state(CHILD, "junk"), topics.input(CHILD, "junk"), topics.state(SIBLING, "led")]) {
      const r = await publish(ard1, topic, encodeState("on"), true);
      assert.equal(r.ok ? 0 : r.reasonCode, 135, `${topic}: ${JSON.stringify(r)}`);
    }
    await letMessagesArrive();
    assert.deepEqual(
      seen.filter((m) => m.topic.includes("junk")),
      [],
    );
  });

  it("refuses anonymous and wrong-password clients on the LAN listener", async () => {
    await assert.rejects(
      connectOnce(lanPort, {}, "anon", { options: { protocol: "mqtt" } }),
      /Not authorized|Bad User Name or Password|closed/i,
    );
    await assert.rejects(lanAs(CHILD, "wrong-password-000"), /Bad User Name or Password|Not authorized|closed/i);
  });
});
