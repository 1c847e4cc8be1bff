// Attack suite, Home Assistant <-> broker <-> web app: what a stolen Home Assistant key (CN homeassistant,
// a secret stack output that lives on the Home Assistant box) can and cannot do to the devices, the page
// and the other Home Assistant entities; and what a device key can do to the discovery topics.
// Real mosquitto (rendered config + ACL), real web app publishing discovery, real device services.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import {
  HA_STATUS_TOPIC,
  HOME_ASSISTANT_CLIENT_ID,
  encodeCommand,
  encodeInput,
  encodeState,
  haTopics,
  topics,
} from "../../protocol";
import { type AttackStack, startAttackStack } from "./attack-support";
import { collect, publish, subscribe } from "../support/mqtt";
import { letMessagesArrive, waitUntil } from "../support/wait";

const NOT_AUTHORIZED = 135;

describe("attack: a stolen Home Assistant key", () => {
  let stack: AttackStack;
  let ha: MqttClient;

  before(async () => {
    stack = await startAttackStack(
      "attack-ha",
      [
        { id: "sim1", outputs: ["led"], inputs: ["button"] },
        { id: "sim2", outputs: ["led"] },
      ],
      // Long enough that nothing in this file reaches the end of one interval.
      { homeAssistant: true, homeAssistantMinIntervalMs: 10 * 60_000 },
    );
    ha = await stack.broker.connect(HOME_ASSISTANT_CLIENT_ID);
  });
  after(async () => {
    ha?.end(true);
    await stack?.cleanup();
  });

  it("commands no output the stack does not configure, on any device", async () => {
    const sim1 = stack.devices.sim1;
    assert.ok(sim1);
    const before = sim1.applied.length;
    for (const topic of [topics.set("sim1", "fan"), topics.set("web", "led"), topics.set("homeassistant", "x")]) {
      const r = await publish(ha, topic, encodeCommand({ value: "on", req: "stolen" }));
      assert.equal(r.ok ? 0 : r.reasonCode, NOT_AUTHORIZED, topic);
    }
    await letMessagesArrive();
    assert.deepEqual(sim1.applied.slice(before), []);
  });

  it("cannot make the page show a state, an input or a status the device did not publish", async () => {
    const view = () => JSON.stringify(stack.web.store.get("sim1"));
    const shown = view();
    for (const [topic, payload] of [
      [topics.state("sim1", "led"), encodeState("on", "stolen")],
      [topics.input("sim1", "button"), encodeInput("pressed")],
      [topics.status("sim1"), "offline"],
    ] as const) {
      const r = await publish(ha, topic, payload, true);
      assert.equal(r.ok ? 0 : r.reasonCode, NOT_AUTHORIZED, topic);
    }
    await letMessagesArrive();
    assert.equal(view(), shown);
    assert.equal(stack.web.store.get("sim1")?.online, true);
  });

  it("cannot add, change or remove an entity in Home Assistant (discovery configs stay the web app's)", async () => {
    const configs = stack.web.homeAssistant?.configs ?? [];
    const own = configs[0];
    assert.ok(own);
    for (const [topic, payload] of [
      [own.topic, ""], // remove the switch
      [own.topic, own.payload.replace("/set", "/fan/set")], // point it elsewhere
      [haTopics.config("switch", "sim2_fan"), own.payload], // add one
    ] as const) {
      const r = await publish(ha, topic, payload, true);
      assert.equal(r.ok ? 0 : r.reasonCode, NOT_AUTHORIZED, topic);
    }
    // What Home Assistant reads retained is still exactly what the web app published.
    const got = collect(ha);
    await subscribe(ha, haTopics.ourConfigs());
    await waitUntil(() => got.length >= configs.length, "the retained configs");
    await letMessagesArrive();
    assert.deepEqual(got.map((m) => [m.topic, m.payload]).sort(), configs.map((c) => [c.topic, c.payload]).sort());
  });

  it("a flood of birth messages makes the web app republish at most once per interval, and it keeps answering", async () => {
    const discovery = stack.web.homeAssistant;
    assert.ok(discovery);
    const rounds = discovery.counts.rounds;
    const births = discovery.counts.births;
    await Promise.all(Array.from({ length: 300 }, () => publish(ha, HA_STATUS_TOPIC, "online")));
    await waitUntil(() => discovery.counts.births >= births + 300, "the web app hearing every birth");
    const health = await fetch(`${stack.web.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(discovery.counts.rounds, rounds, "300 births inside one interval: one republish, still pending");
  });

  it("a command it retains is applied once, live, and never replayed when the device reconnects", async () => {
    const sim2 = stack.devices.sim2;
    assert.ok(sim2);
    const setTopic = topics.set("sim2", "led");
    try {
      assert.deepEqual(await publish(ha, setTopic, encodeCommand({ value: "toggle", req: "homeassistant" }), true), {
        ok: true,
      });
      await waitUntil(() => sim2.applied.some((a) => a.req === "homeassistant"), "the live command applied");
      const before = sim2.applied.length;
      await sim2.restart();
      await letMessagesArrive(500);
      assert.deepEqual(sim2.applied.slice(before), [], "the retained command was replayed");
      // The service stops to its safe state (off); a replayed toggle would have turned it on again.
      assert.equal(sim2.line("led"), "off");
    } finally {
      await publish(ha, setTopic, "", true);
    }
  });

  // Last in this suite: a second connection with the same certificate replaces `ha` (one client id per CN).
  it("cannot become a device: under a device's client id it stays homeassistant and the device stays connected", async () => {
    const sim1 = stack.devices.sim1;
    assert.ok(sim1);
    const disconnects = sim1.disconnects;
    const from = stack.broker.output().length;
    const thief = await stack.broker.connect(HOME_ASSISTANT_CLIENT_ID, { clientId: "sim1" });
    try {
      // mosquitto logs the client id it uses: the certificate's CN, not the one asked for.
      await waitUntil(
        () =>
          /New client connected from .* as homeassistant \(p5, [^)]*u'homeassistant'\)/.test(
            stack.broker.output().slice(from),
          ),
        `the thief connected as homeassistant\n${stack.broker.output().slice(from)}`,
      );
      for (const [topic, payload] of [
        [topics.state("sim1", "led"), encodeState("on", "stolen")],
        [topics.status("sim1"), "offline"],
      ] as const) {
        const r = await publish(thief, topic, payload, true);
        assert.equal(r.ok ? 0 : r.reasonCode, NOT_AUTHORIZED, topic);
      }
      await letMessagesArrive();
      assert.equal(sim1.disconnects, disconnects, "sim1 was thrown off the broker");
      assert.equal(stack.web.store.get("sim1")?.online, true);
      assert.doesNotMatch(stack.broker.output().slice(from), /Client sim1 already connected, closing old connection/);
    } finally {
      thief.end(true);
    }
  });
});

describe("attack: a device key against the Home Assistant integration", () => {
  let stack: AttackStack;

  before(async () => {
    stack = await startAttackStack("attack-ha-device", [{ id: "sim1" }], { homeAssistant: true });
  });
  after(() => stack?.cleanup());

  it("cannot wake the web app's republish nor announce an entity", async () => {
    const dev = await stack.broker.connect("sim9");
    try {
      const births = stack.web.homeAssistant?.counts.births;
      for (const [topic, payload] of [
        [HA_STATUS_TOPIC, "online"],
        [haTopics.config("switch", "sim1_led"), '{"name":"x"}'],
        [haTopics.config("switch", "sim9_door"), '{"name":"x"}'],
      ] as const) {
        const r = await publish(dev, topic, payload, topic !== HA_STATUS_TOPIC);
        assert.equal(r.ok ? 0 : r.reasonCode, NOT_AUTHORIZED, topic);
      }
      await letMessagesArrive();
      assert.equal(stack.web.homeAssistant?.counts.births, births);
      assert.equal(stack.web.homeAssistant?.counts.removed, 0, "nothing foreign reached our config topics");
    } finally {
      dev.end(true);
    }
  });
});
