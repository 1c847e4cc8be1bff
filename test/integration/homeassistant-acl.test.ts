// The Home Assistant identity (CN homeassistant) against the real mosquitto with the rendered ACL: what
// Home Assistant may do (command configured outputs, read their state, inputs, status and our discovery
// configs, announce its birth) and what it, a device or the web app may not. Denials are asserted by
// the MQTT 5 PUBACK reason (135 Not authorized) and by a subscriber that receives nothing.
// Home Assistant subscribes with its real discovery filters (homeassistant-double.ts HA_SUBSCRIPTIONS: current
// releases one pair per component, older ones a wildcard pair). mosquitto 2.0's acl_file never refuses a
// SUBSCRIBE (src/security_default.c mosquitto_acl_check_default returns success for MOSQ_ACL_SUBSCRIBE, "FIXME");
// `read` is checked per message delivered (subs.c, retain.c), so what a filter yields is what to assert.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import {
  HA_STATUS_TOPIC,
  HOME_ASSISTANT_CLIENT_ID,
  WEB_CLIENT_ID,
  aclModel,
  encodeCommand,
  encodeInput,
  encodeSensor,
  encodeState,
  haTopics,
  topics,
} from "../../protocol";
import { HA_RELEASES, HA_SUBSCRIPTIONS } from "../unit/homeassistant-double";
import { type Received, collect, publish, subscribe } from "../support/mqtt";
import { letMessagesArrive, waitUntil } from "../support/wait";
import { type TestBroker, startTestBroker } from "../support/broker";

// Home Assistant sees pi1 (led, button, temp) and pi2 (led); pi3 is a device of the stack it is not shown.
const seen = [
  { id: "pi1", outputs: ["led"], inputs: ["button"], sensors: ["temp"] },
  { id: "pi2", outputs: ["led"], inputs: [], sensors: [] },
];
const NOT_AUTHORIZED = 135;
/** SUBACK reason code 1: granted, at QoS 1 (what the test client asks for). */
const GRANTED_QOS1 = 1;
const granted = (filters: readonly string[]) => filters.map(() => GRANTED_QOS1);
/** Another publisher of discovery configs on the broker (another integration's bridge), for contrast only. */
const OTHER_PUBLISHER = "other-publisher";

describe("broker ACL: the Home Assistant identity", () => {
  let broker: TestBroker;
  const clients: MqttClient[] = [];
  const as = async (cn: string) => {
    const c = await broker.connect(cn);
    clients.push(c);
    return c;
  };
  const refused = async (client: MqttClient, topic: string, payload: string, retain = false) => {
    const r = await publish(client, topic, payload, retain);
    assert.equal(r.ok ? 0 : r.reasonCode, NOT_AUTHORIZED, `${topic} was accepted${`\n${broker.output()}`}`);
  };
  const only = (got: Received[], allowed: (topic: string) => boolean) =>
    got.filter((m) => !allowed(m.topic)).map((m) => m.topic);

  before(async () => {
    broker = await startTestBroker("ha-acl", {
      acl: aclModel({
        devices: [...seen, { id: "pi3", outputs: ["led"], inputs: [], sensors: ["temp"] }],
        homeAssistant: seen,
      }),
      extraAclUsers: [{ username: OTHER_PUBLISHER, rules: [{ access: "write", topic: "homeassistant/#" }] }],
    });
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await broker?.cleanup();
  });

  it("lets Home Assistant command a configured output, and the device receives it", async () => {
    const ha = await as(HOME_ASSISTANT_CLIENT_ID);
    const pi1 = await as("pi1");
    const got = collect(pi1);
    await subscribe(pi1, topics.set("pi1", "+"));
    const cmd = encodeCommand({ value: "on", req: "homeassistant" });
    assert.deepEqual(await publish(ha, topics.set("pi1", "led"), cmd), { ok: true });
    await waitUntil(
      () => got.find((m) => m.topic === topics.set("pi1", "led") && m.payload === cmd),
      "pi1 got the command",
    );
  });

  it("lets Home Assistant read state, inputs, sensors and status of what it sees, our discovery configs, and announce itself", async () => {
    const ha = await as(HOME_ASSISTANT_CLIENT_ID);
    const web = await as(WEB_CLIENT_ID);
    const pi1 = await as("pi1");
    const haGot = collect(ha);
    const webGot = collect(web);
    const filters = [
      ...HA_SUBSCRIPTIONS.current,
      topics.state("pi1", "led"),
      topics.input("pi1", "button"),
      topics.sensor("pi1", "temp"),
      topics.status("pi1"),
    ];
    assert.deepEqual(await subscribe(ha, filters), granted(filters));
    await subscribe(web, HA_STATUS_TOPIC);
    assert.deepEqual(await publish(pi1, topics.state("pi1", "led"), encodeState("on"), true), { ok: true });
    assert.deepEqual(await publish(pi1, topics.input("pi1", "button"), encodeInput("pressed")), { ok: true });
    assert.deepEqual(await publish(pi1, topics.status("pi1"), "online", true), { ok: true });
    assert.deepEqual(await publish(pi1, topics.sensor("pi1", "temp"), encodeSensor(21.5, "°C")), { ok: true });
    const config = haTopics.config("switch", "pi1_led");
    assert.deepEqual(await publish(web, config, '{"name":"led"}', true), { ok: true });
    for (const t of [
      topics.state("pi1", "led"),
      topics.input("pi1", "button"),
      topics.sensor("pi1", "temp"),
      topics.status("pi1"),
      config,
    ])
      await waitUntil(() => haGot.find((m) => m.topic === t), `Home Assistant reading ${t}`);
    assert.deepEqual(await publish(ha, HA_STATUS_TOPIC, "online"), { ok: true });
    await waitUntil(
      () => webGot.find((m) => m.topic === HA_STATUS_TOPIC && m.payload === "online"),
      "web hearing the birth",
    );
    // Leave nothing retained behind for the other tests.
    await publish(web, config, "", true);
    await publish(pi1, topics.state("pi1", "led"), "", true);
    await publish(pi1, topics.status("pi1"), "", true);
  });

  for (const release of HA_RELEASES)
    it(`grants each discovery filter of Home Assistant's ${release} releases and delivers through them exactly our configs`, async () => {
      const web = await as(WEB_CLIENT_ID);
      const other = await as(OTHER_PUBLISHER);
      const ours = [
        haTopics.config("switch", "pi1_led"),
        haTopics.config("event", "pi1_button"),
        haTopics.config("sensor", "pi1_temp"),
        haTopics.config("switch", "pi2_led"),
      ];
      // Configs HA_SUBSCRIPTIONS match that are not this stack's: HA's ACL must not deliver them.
      const foreign = [
        "homeassistant/light/zigbee2mqtt/lamp/config",
        "homeassistant/switch/plug/config",
        "homeassistant/switch/other-node/pi1_led/config",
      ];
      for (const t of ours) assert.deepEqual(await publish(web, t, '{"name":"x"}', true), { ok: true }, t);
      for (const t of foreign) assert.deepEqual(await publish(other, t, '{"name":"x"}', true), { ok: true }, t);
      const ha = await as(HOME_ASSISTANT_CLIENT_ID);
      const got = collect(ha);
      const filters = HA_SUBSCRIPTIONS[release];
      const codes = await subscribe(ha, [...filters]);
      assert.deepEqual(
        filters.flatMap((f, i) => (codes[i] === GRANTED_QOS1 ? [] : [`${f}: ${codes[i]}`])),
        [],
        "filters refused",
      );
      assert.equal(codes.length, filters.length);
      // Retained: replayed on subscribe. Live: each our config once more, published after the subscription.
      await waitUntil(() => ours.every((t) => got.some((m) => m.topic === t)), "the retained configs");
      for (const t of ours) await publish(web, t, '{"name":"y"}', true);
      for (const t of foreign) await publish(other, t, '{"name":"y"}', true);
      await waitUntil(() => ours.every((t) => got.some((m) => m.topic === t && m.payload === '{"name":"y"}')), "live");
      await letMessagesArrive();
      assert.deepEqual(
        got.map((m) => m.topic).filter((t) => !ours.includes(t)),
        [],
        "received a foreign config",
      );
      for (const t of [...ours, ...foreign]) await publish(ours.includes(t) ? web : other, t, "", true);
    });

  it("refuses Home Assistant commanding an unconfigured output or a device it is not shown (135, nothing delivered)", async () => {
    const ha = await as(HOME_ASSISTANT_CLIENT_ID);
    const pi1 = await as("pi1");
    const pi3 = await as("pi3");
    const got = collect(pi1);
    const got3 = collect(pi3);
    await subscribe(pi1, topics.set("pi1", "+"));
    await subscribe(pi3, topics.set("pi3", "+"));
    const cmd = encodeCommand({ value: "on", req: "homeassistant" });
    await refused(ha, topics.set("pi1", "fan"), cmd);
    await refused(ha, topics.set("pi3", "led"), cmd);
    await letMessagesArrive();
    assert.deepEqual(got, []);
    assert.deepEqual(got3, []);
  });

  it("refuses Home Assistant forging a device's state, input or status, or writing any discovery config", async () => {
    const ha = await as(HOME_ASSISTANT_CLIENT_ID);
    const web = await as(WEB_CLIENT_ID);
    const watcher = collect(web);
    await subscribe(web, [
      topics.state("+", "+"),
      topics.input("+", "+"),
      topics.status("+"),
      ...haTopics.ourConfigs(),
    ]);
    await refused(ha, topics.state("pi1", "led"), encodeState("off"), true);
    await refused(ha, topics.input("pi1", "button"), encodeInput("pressed"));
    await refused(ha, topics.status("pi1"), "offline", true);
    await refused(ha, topics.sensor("pi1", "temp"), encodeSensor(99, "°C"), true);
    await refused(ha, haTopics.config("switch", "pi1_led"), "", true); // removing an entity
    await refused(ha, haTopics.config("switch", "evil_led"), '{"name":"x"}', true); // adding one
    await letMessagesArrive();
    assert.deepEqual(watcher, []);
  });

  it("lets Home Assistant read nothing else: not the web app's commands, not other devices, not $SYS", async () => {
    const ha = await as(HOME_ASSISTANT_CLIENT_ID);
    const web = await as(WEB_CLIENT_ID);
    const pi3 = await as("pi3");
    const pi2 = await as("pi2");
    const haGot = collect(ha);
    await subscribe(ha, ["#", "$SYS/#"]);
    // What Home Assistant may see, for contrast: pi2's status.
    assert.deepEqual(await publish(pi2, topics.status("pi2"), "online", true), { ok: true });
    await publish(web, topics.set("pi1", "led"), encodeCommand({ value: "toggle", req: "page" }));
    await publish(web, topics.set("pi3", "led"), encodeCommand({ value: "on", req: "page" }));
    await publish(pi3, topics.state("pi3", "led"), encodeState("on"), true);
    await publish(pi3, topics.status("pi3"), "online", true);
    await publish(pi3, topics.sensor("pi3", "temp"), encodeSensor(30, "°C"));
    await waitUntil(() => haGot.find((m) => m.topic === topics.status("pi2")), "Home Assistant reading pi2's status");
    await letMessagesArrive(1000);
    const allowed = new Set([
      ...seen.flatMap((d) => [
        topics.status(d.id),
        ...d.outputs.map((o) => topics.state(d.id, o)),
        ...d.inputs.map((i) => topics.input(d.id, i)),
        ...d.sensors.map((x) => topics.sensor(d.id, x)),
      ]),
    ]);
    assert.deepEqual(
      only(haGot, (t) => allowed.has(t)),
      [],
      "Home Assistant received topics outside its ACL",
    );
    await publish(pi3, topics.state("pi3", "led"), "", true);
  });

  it("refuses a device announcing entities or waking the web app's republish", async () => {
    const pi1 = await as("pi1");
    const web = await as(WEB_CLIENT_ID);
    const watcher = collect(web);
    await subscribe(web, [HA_STATUS_TOPIC, ...haTopics.ourConfigs()]);
    await refused(pi1, HA_STATUS_TOPIC, "online");
    await refused(pi1, haTopics.config("switch", "pi1_led"), '{"name":"x"}', true);
    await letMessagesArrive();
    assert.deepEqual(watcher, []);
  });

  it("lets the web app write only our node's configs of our components, and never Home Assistant's birth", async () => {
    const web = await as(WEB_CLIENT_ID);
    const ha = await as(HOME_ASSISTANT_CLIENT_ID);
    const haGot = collect(ha);
    await subscribe(ha, [...new Set(Object.values(HA_SUBSCRIPTIONS).flat()), HA_STATUS_TOPIC]);
    await refused(web, "homeassistant/switch/other-node/x/config", '{"name":"x"}', true);
    await refused(web, "homeassistant/light/diy-device-cloud/pi1_led/config", '{"name":"x"}', true);
    await refused(web, "homeassistant/switch/pi1_led/config", '{"name":"x"}', true);
    await refused(web, HA_STATUS_TOPIC, "online");
    await letMessagesArrive();
    assert.deepEqual(haGot, []);
  });
});
