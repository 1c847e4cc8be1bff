// Home Assistant end to end: the real mosquitto with the rendered ACL, the real web app publishing
// discovery, real device services (simulated backend), and a client acting as Home Assistant with the
// integration's certificate over MQTT 5 that follows what Home Assistant does with the configs
// (test/unit/homeassistant-double.ts: its discovery rules, its switch and event entities, real Jinja2).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { memoryLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import {
  HA_STATUS_TOPIC,
  HOME_ASSISTANT_CLIENT_ID,
  type HaDiscoveryConfig,
  aclModel,
  haDiscoveryConfigs,
  haTopics,
  parseSensor,
} from "../../protocol";
import {
  HA_RELEASES,
  HA_SUBSCRIPTIONS,
  type HaRelease,
  availableFrom,
  discover,
  eventFrom,
  sensorStateFrom,
  switchCommand,
  switchStateFrom,
} from "../unit/homeassistant-double";
import { type AttackStack, startAttackStack } from "./attack-support";
import { type Received, collect, publish, subscribe } from "../support/mqtt";
import { letMessagesArrive, waitUntil } from "../support/wait";
import { type TestBroker, startTestBroker } from "../support/broker";

/** Home Assistant's own discovery subscriptions (discovery.py async_start), as a release makes them. */
const subscribeAs = async (client: MqttClient, release: HaRelease) => {
  const filters = HA_SUBSCRIPTIONS[release];
  // SUBACK: every filter granted at QoS 1 (mosquitto's acl_file does not check subscriptions).
  assert.deepEqual(
    await subscribe(client, [...filters]),
    filters.map(() => 1),
    `${release} releases' filters`,
  );
};

const configsIn = (got: Received[], from = 0) => got.slice(from).filter((m) => m.topic.endsWith("/config"));

describe("Home Assistant through the web app's discovery (web app + devices + broker)", () => {
  let stack: AttackStack;
  let ha: MqttClient;
  let got: Received[];
  let configs: readonly HaDiscoveryConfig[];

  before(async () => {
    stack = await startAttackStack(
      "ha-web",
      [
        { id: "pi1", outputs: ["led"], inputs: ["button"], sensors: [{ name: "temp" }] },
        { id: "pi2", outputs: ["led"] },
      ],
      { homeAssistant: true, homeAssistantMinIntervalMs: 0 },
    );
    configs = stack.web.homeAssistant?.configs ?? [];
    ha = await stack.broker.connect(HOME_ASSISTANT_CLIENT_ID, { protocolVersion: 5 });
    got = collect(ha);
    await subscribeAs(ha, "current");
  });
  after(async () => {
    ha?.end(true);
    await stack?.cleanup();
  });

  it("receives every config, each one Home Assistant accepts", async () => {
    assert.deepEqual(
      configs.map((c) => c.topic),
      haDiscoveryConfigs({
        devices: [
          {
            id: "pi1",
            name: "pi1",
            model: "simulated board",
            outputs: ["led"],
            inputs: ["button"],
            sensors: [{ name: "temp", unit: "°C" }],
          },
          { id: "pi2", name: "pi2", model: "simulated board", outputs: ["led"], inputs: [] },
        ],
      }).map((c) => c.topic),
    );
    await waitUntil(
      () => configs.every((c) => got.some((m) => m.topic === c.topic && m.payload === c.payload)),
      `every config; got ${JSON.stringify(got.map((m) => m.topic))}`,
    );
    for (const m of configsIn(got)) assert.ok(discover(m.topic, m.payload).config, m.topic);
  });

  it("commands an output through the advertised command topic and sees the state change", async () => {
    const sw = configs.find((c) => c.objectId === "pi1_led");
    assert.ok(sw);
    const config = discover(sw.topic, sw.payload).config ?? {};
    const entity = collect(ha);
    await subscribe(ha, [String(config.state_topic), String(config.availability_topic)]);
    await waitUntil(
      () => entity.some((m) => m.topic === config.availability_topic && availableFrom(config, m.payload) === true),
      "the switch available",
    );
    await waitUntil(
      () => entity.some((m) => m.topic === config.state_topic && switchStateFrom(config, m.payload) === false),
      "the switch off (the device's retained state)",
    );
    const cmd = switchCommand(config, true);
    assert.deepEqual(await publish(ha, cmd.topic, cmd.payload, cmd.retain), { ok: true });
    await waitUntil(
      () => entity.some((m) => m.topic === config.state_topic && switchStateFrom(config, m.payload) === true),
      "the switch on",
    );
    assert.equal(stack.devices.pi1?.line("led"), "on");
    assert.equal(stack.devices.pi2?.line("led"), "off", "the other device is untouched");
    // The page sees the same change, marked as Home Assistant's.
    const led = stack.web.store.get("pi1")?.outputs.find((o) => o.name === "led");
    assert.deepEqual([led?.value, led?.req], ["on", "homeassistant"]);
  });

  it("fires an event entity when the device's input is pressed", async () => {
    const ev = configs.find((c) => c.objectId === "pi1_button");
    assert.ok(ev);
    const config = discover(ev.topic, ev.payload).config ?? {};
    const entity = collect(ha);
    await subscribe(ha, String(config.state_topic));
    writeFileSync(join(stack.devices.pi1?.dir ?? "", "button.input"), "pressed\n");
    await waitUntil(
      () => entity.some((m) => m.topic === config.state_topic && eventFrom(config, m.payload, m.retain) === "pressed"),
      "a pressed event",
    );
  });

  it("reads a sensor's number as the device publishes it", async () => {
    const temp = configs.find((c) => c.objectId === "pi1_temp");
    assert.ok(temp);
    const config = discover(temp.topic, temp.payload).config ?? {};
    assert.deepEqual([config.unit_of_measurement, config.device_class], ["°C", "temperature"]);
    const entity = collect(ha);
    await subscribe(ha, String(config.state_topic));
    writeFileSync(join(stack.devices.pi1?.dir ?? "", "temp.value"), "21.5\n");
    // The device publishes every second: find its 21.5 reading, then let Home Assistant's template read it.
    // By its parsed value: before the file is read, the simulated signal (~21 ± 2) also publishes, and a
    // substring match took its 21.566 for the 21.5 this test wrote.
    const reading = await waitUntil(
      () =>
        entity.find((m) => {
          const parsed = m.topic === config.state_topic ? parseSensor(m.payload) : undefined;
          return parsed?.ok === true && parsed.value.value === 21.5;
        }),
      () => `the device publishing 21.5; got ${JSON.stringify(entity.map((m) => m.payload))}`,
    );
    assert.equal(sensorStateFrom(config, reading.payload), "21.5");
  });

  it("sends the configs again when Home Assistant announces itself (birth message)", async () => {
    const from = got.length;
    const rounds = stack.web.homeAssistant?.counts.rounds ?? 0;
    assert.deepEqual(await publish(ha, HA_STATUS_TOPIC, "online"), { ok: true });
    await waitUntil(
      () => configs.every((c) => configsIn(got, from).some((m) => m.topic === c.topic && m.payload === c.payload)),
      "every config again after the birth message",
    );
    assert.equal(stack.web.homeAssistant?.counts.rounds, rounds + 1);
  });

  it("a client subscribed to homeassistant/# gets exactly every config, retained, and nothing else", async () => {
    // One connection per identity (the broker binds the client id to the certificate): this one replaces `ha`.
    ha.end(true);
    ha = await stack.broker.connect(HOME_ASSISTANT_CLIENT_ID, { protocolVersion: 5 });
    const all = collect(ha);
    assert.deepEqual(await subscribe(ha, "homeassistant/#"), [1]);
    await waitUntil(
      () => configs.every((c) => all.some((m) => m.topic === c.topic && m.payload === c.payload && m.retain)),
      `every config, retained, under homeassistant/#; got ${JSON.stringify(all.map((m) => m.topic))}`,
    );
    await letMessagesArrive(300);
    assert.deepEqual([...new Set(all.map((m) => m.topic))].sort(), configs.map((c) => c.topic).sort());
  });
});

describe("Home Assistant discovery when devices leave the stack", () => {
  let broker: TestBroker;
  let ha: MqttClient;
  const webs: RunningWeb[] = [];

  const startWebWith = async (devices: { id: string; outputs: string[]; inputs: string[] }[]) => {
    const cert = await broker.client("web");
    const web = await startWeb(
      {
        listen: { host: "127.0.0.1", port: 0 },
        broker: { url: broker.url, ca: broker.caFile, cert: cert.cert, key: cert.key },
        devices,
        homeAssistant: {},
        cookieSecure: false,
      },
      {
        password: "ha-removal-password",
        sessionSecret: "ha-removal-session-secret-0123456789",
        logger: memoryLogger(),
      },
    );
    webs.push(web);
    return web;
  };

  before(async () => {
    // The ACL of the stack before the change: the web identity's discovery rights do not depend on devices.
    broker = await startTestBroker("ha-removal", {
      acl: aclModel({
        devices: [],
        homeAssistant: [
          { id: "pi1", outputs: ["led"], inputs: ["button"] },
          { id: "pi2", outputs: ["led"], inputs: [] },
        ],
      }),
    });
    ha = await broker.connect(HOME_ASSISTANT_CLIENT_ID);
  });
  after(async () => {
    ha?.end(true);
    for (const w of webs) await w.close();
    await broker?.cleanup();
  });

  it("clears the configs of a removed device and a renamed output; Home Assistant removes those entities", async () => {
    const got = collect(ha);
    await subscribeAs(ha, "current");
    const before = await startWebWith([
      { id: "pi1", outputs: ["led"], inputs: ["button"] },
      { id: "pi2", outputs: ["led"], inputs: [] },
    ]);
    await waitUntil(() => configsIn(got).length >= 3, "the first stack's three configs");
    await before.close();

    // pi2 left the stack, pi1's led became "light".
    const now = await startWebWith([{ id: "pi1", outputs: ["light"], inputs: ["button"] }]);
    const gone = [haTopics.config("switch", "pi2_led"), haTopics.config("switch", "pi1_led")];
    await waitUntil(
      () => gone.every((t) => got.some((m) => m.topic === t && m.payload === "")),
      `empty configs for ${gone.join(", ")}; got ${JSON.stringify(got.map((m) => [m.topic, m.payload.length]))}`,
    );
    for (const t of gone) assert.equal(discover(t, "").config, undefined, "an empty config is a removal");
    await waitUntil(() => now.homeAssistant?.counts.removed === 2, "the web app counting two removals");

    // What a Home Assistant connecting now finds retained, current or older release: exactly the current stack's
    // configs. (One connection per identity: the broker binds the client id to the certificate.)
    ha.end(true);
    const want = (now.homeAssistant?.configs ?? []).map((c) => c.topic).sort();
    assert.deepEqual(want, [haTopics.config("event", "pi1_button"), haTopics.config("switch", "pi1_light")].sort());
    for (const release of HA_RELEASES) {
      const fresh = await broker.connect(HOME_ASSISTANT_CLIENT_ID);
      const retained = collect(fresh);
      await subscribeAs(fresh, release);
      await waitUntil(() => retained.length >= want.length, `the retained configs (${release} releases)`);
      await letMessagesArrive(300);
      assert.deepEqual(retained.map((m) => m.topic).sort(), want, release);
      assert.ok(retained.every((m) => m.retain));
      for (const m of retained) assert.ok(discover(m.topic, m.payload, release).config, `${release}: ${m.topic}`);
      fresh.end(true);
    }
  });
});
