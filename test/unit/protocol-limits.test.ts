// The protocol stays valid on both brokers it runs on (protocol/limits.ts holds their documented limits):
// every topic, filter, payload, QoS and client id the protocol can produce, at the longest ids and names
// the protocol allows, is one that mosquitto as we run it and AWS IoT Core both accept.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { renderBridgeMosquittoConf } from "../../infra/render/bridge-mosquitto";
import { MESSAGE_SIZE_LIMIT } from "../../infra/render/mosquitto";
import {
  BROKER_KINDS,
  BROKER_LIMITS,
  HA_STATUS_TOPIC,
  HOME_ASSISTANT_CLIENT_ID,
  IOT_PREFIX_MAX,
  IOT_THING_NAME_PATTERN,
  InputPayload,
  MAX_PAYLOAD_BYTES,
  PROTOCOL_QOS,
  WEB_CLIENT_ID,
  bridgeIdentity,
  clientIdProblem,
  encodeCommand,
  encodeInput,
  encodeSensor,
  encodeState,
  haDiscoveryConfigs,
  haTopics,
  identityOfThing,
  iotNamePrefix,
  iotPresenceTopics,
  iotThingName,
  isDeviceId,
  isIoName,
  parsePresenceTopic,
  parseSensor,
  parseState,
  payloadProblem,
  subscriptions,
  subscriptionsProblem,
  topicProblem,
  topics,
} from "../../protocol";
import { HA_SUBSCRIPTIONS } from "./homeassistant-double";

/** The longest id and name protocol/ids.ts allows (32 characters each). */
const LONGEST_ID = `a${"-".repeat(30)}z`;
const LONGEST_NAME = `b${"_".repeat(30)}y`;
/** Home Assistant's own discovery subscriptions, current and older releases (homeassistant-double.ts). */
const HA_OWN_SUBSCRIPTIONS = Object.values(HA_SUBSCRIPTIONS).flat();

const ids = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/).filter(isDeviceId);
const names = fc.stringMatching(/^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$/);
const requestIds = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/);
/** Clock readings as toISOString writes them in the schemas' form (4-digit years: the device's clock, not year 10000). */
const LAST_DATE = new Date("9999-12-31T23:59:59.999Z");
const dates = fc.date({ noInvalidDate: true, min: new Date(0), max: LAST_DATE });
/** A sensor unit as SensorPayload allows it: 1-16 printable characters, any plane (4-byte UTF-8 included). */
const units = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 16 })
  .filter((u) => [...u].length <= 16 && /^[^\p{Cc}<>&"']+$/u.test(u));

function assertOnBoth(what: string, check: (broker: (typeof BROKER_KINDS)[number]) => string | undefined) {
  for (const broker of BROKER_KINDS) assert.equal(check(broker), undefined, what);
}

describe("protocol limits: the protocol is valid on mosquitto and on AWS IoT Core", () => {
  it("holds the documented IoT Core quotas and the mosquitto settings we render", () => {
    const iot = BROKER_LIMITS["iot-core"];
    // AWS General Reference, AWS IoT Core quotas: 256-byte topics, 7 slashes, 128 KB payload, 128-byte
    // client id, 50 subscriptions per connection, 8 per SUBSCRIBE; developer guide: QoS 0 and 1 only.
    assert.deepEqual(
      [iot.maxTopicBytes, iot.maxTopicLevels - 1, iot.maxPayloadBytes, iot.maxClientIdBytes, iot.maxQos],
      [256, 7, 131_072, 128, 1],
    );
    assert.deepEqual([iot.maxSubscriptionsPerConnection, iot.maxFiltersPerSubscribe], [50, 8]);
    assert.equal(iot.replaysRetainedToWildcards, false);
    // Our mosquitto takes exactly the protocol's payload cap (infra/render/mosquitto.ts message_size_limit).
    assert.equal(BROKER_LIMITS.mosquitto.maxPayloadBytes, MESSAGE_SIZE_LIMIT);
    assert.equal(PROTOCOL_QOS, Math.min(...BROKER_KINDS.map((b) => BROKER_LIMITS[b].maxQos)));
  });

  it("every topic of a device, at the longest id and names, fits both brokers (and is not in their reserved $ tree)", () => {
    const every = (id: string, name: string) => [
      topics.device(id),
      topics.set(id, name),
      topics.state(id, name),
      topics.input(id, name),
      topics.status(id),
      topics.sensor(id, name),
    ];
    for (const t of every(LONGEST_ID, LONGEST_NAME)) assertOnBoth(t, (b) => topicProblem(b, t, { publish: true }));
    fc.assert(
      fc.property(ids, names, (id, name) => {
        for (const t of every(id, name)) assertOnBoth(t, (b) => topicProblem(b, t, { publish: true }));
      }),
    );
  });

  it("every Home Assistant discovery topic and payload, at the longest ids, label and model, fits both brokers", () => {
    const configs = haDiscoveryConfigs({
      devices: [
        {
          id: LONGEST_ID,
          name: "L".repeat(64),
          model: "M".repeat(64),
          via: `v${"-".repeat(30)}v`,
          outputs: [LONGEST_NAME],
          inputs: [LONGEST_NAME],
          sensors: [{ name: LONGEST_NAME, unit: "\u{1F321}".repeat(16) }],
        },
      ],
    });
    assert.equal(configs.length, 3);
    for (const c of configs) {
      assertOnBoth(c.topic, (b) => topicProblem(b, c.topic, { publish: true }));
      assertOnBoth(c.topic, (b) => payloadProblem(b, c.payload));
    }
    for (const t of [HA_STATUS_TOPIC, ...haTopics.ourConfigs(), ...HA_OWN_SUBSCRIPTIONS])
      assertOnBoth(t, (b) => topicProblem(b, t));
  });

  it("every payload an encoder can produce is under the protocol's cap, which both brokers take", () => {
    for (const b of BROKER_KINDS) assert.ok(MAX_PAYLOAD_BYTES <= BROKER_LIMITS[b].maxPayloadBytes, b);
    const fits = (p: string) => assertOnBoth(p, (b) => payloadProblem(b, p));
    fc.assert(
      fc.property(fc.constantFrom("on" as const, "off" as const), fc.option(requestIds), dates, (v, req, at) => {
        const p = encodeState(v, req ?? undefined, at);
        fits(p);
        assert.ok(parseState(p).ok, p);
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom("on" as const, "off" as const, "toggle" as const), requestIds, (value, req) =>
        fits(encodeCommand({ value, req })),
      ),
    );
    fc.assert(
      fc.property(fc.constantFrom(...InputPayload.shape.value.options), dates, (v, at) => fits(encodeInput(v, at))),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), units, dates, (value, unit, at) => {
        const p = encodeSensor(value, unit, at);
        fits(p);
        assert.ok(parseSensor(p).ok, p);
      }),
    );
    // The widest sensor reading there is: a 24-character double, 16 four-byte characters.
    const widest = encodeSensor(-2.2250738585072014e-308, "\u{1F321}".repeat(16), LAST_DATE);
    fits(widest);
    assert.ok(parseSensor(widest).ok);
    for (const s of ["online", "offline"]) fits(s);
  });

  it("publishes and subscribes at QoS 1 at most: the device, the web app and the bridge ask for no QoS 2", () => {
    // mqtt.js options in the two programs that talk to the broker (their only QoS literals).
    for (const file of ["apps/web/broker.ts", "device/service.ts"]) {
      const qos = [...readFileSync(file, "utf8").matchAll(/\bqos:\s*(\d)/g)].map((m) => Number(m[1]));
      assert.ok(qos.length > 0, `${file}: no qos option found`);
      for (const q of qos) assert.ok(q <= PROTOCOL_QOS, `${file} asks for QoS ${q}`);
    }
    // mosquitto.conf(5) bridge `topic <pattern> <direction> <qos>`: the QoS it subscribes and publishes with.
    const conf = renderBridgeMosquittoConf({
      bridgeId: "gw1",
      lanAddress: "192.168.1.50",
      lanPort: 1883,
      cloud: { host: "broker.example.com", port: 8883 },
      children: [{ id: "ard1", outputs: ["led"], inputs: ["button"], sensors: ["temp"] }],
    });
    const bridged = conf.split("\n").filter((l) => l.startsWith("topic "));
    assert.ok(bridged.length > 0);
    for (const l of bridged) assert.ok(Number(l.split(" ")[3]) <= PROTOCOL_QOS, l);
  });

  it("each client's subscriptions fit one connection and one SUBSCRIBE packet on both brokers", () => {
    // apps/web/broker.ts subscribes subscriptions.web in one packet and each extension's (Home Assistant) in another.
    const web = [[...subscriptions.web], [HA_STATUS_TOPIC, ...haTopics.ourConfigs()]];
    const device = [subscriptions.device(LONGEST_ID)];
    for (const [who, packets] of [
      ["web", web],
      ["device", device],
    ] as const) {
      assertOnBoth(who, (b) => subscriptionsProblem(b, packets));
      for (const f of packets.flat()) assertOnBoth(f, (b) => topicProblem(b, f));
    }
    // The web app on IoT Core also follows presence: two more filters, still within the limits.
    assertOnBoth("web + presence", (b) => subscriptionsProblem(b, [...web, [...iotPresenceTopics.filters]]));
    // The check itself refuses what IoT Core refuses.
    assert.match(subscriptionsProblem("iot-core", [Array(9).fill("a")]) ?? "", /9 filters in one SUBSCRIBE/);
    assert.match(subscriptionsProblem("iot-core", Array(7).fill(Array(8).fill("a"))) ?? "", /56 subscriptions/);
    assert.equal(subscriptionsProblem("mosquitto", Array(7).fill(Array(8).fill("a"))), undefined);
  });

  it("on IoT Core the web app's wildcard subscriptions get no retained replay, so it must load state by API", () => {
    // Developer guide "MQTT retained messages": replayed to exact-topic subscriptions only.
    for (const f of subscriptions.web) assert.ok(f.includes("+"), f);
    assert.equal(BROKER_LIMITS.mosquitto.replaysRetainedToWildcards, true);
    assert.equal(BROKER_LIMITS["iot-core"].replaysRetainedToWildcards, false);
  });

  it("every identity's client id fits both brokers; on IoT Core it is a valid thing name of its stack", () => {
    const identities = [LONGEST_ID, WEB_CLIENT_ID, HOME_ASSISTANT_CLIENT_ID, bridgeIdentity(LONGEST_ID)];
    const longestPrefix = iotNamePrefix("p".repeat(100), "s".repeat(100));
    assert.equal(longestPrefix.length, IOT_PREFIX_MAX);
    for (const identity of identities) {
      // mosquitto: client id = certificate CN (use_identity_as_username + use_username_as_clientid).
      assert.equal(clientIdProblem("mosquitto", identity), undefined);
      const thing = iotThingName(longestPrefix, identity);
      assert.match(thing, IOT_THING_NAME_PATTERN);
      assert.equal(clientIdProblem("iot-core", thing), undefined);
      assert.equal(identityOfThing(longestPrefix, thing), identity);
      for (const t of [iotPresenceTopics.connected(thing), iotPresenceTopics.disconnected(thing)]) {
        assertOnBoth(t, (b) => topicProblem(b, t));
        assert.equal(parsePresenceTopic(t)?.clientId, thing);
      }
    }
    assert.equal(identityOfThing(longestPrefix, "other-stack:pi1"), undefined);
    assert.equal(iotNamePrefix("diy-device-cloud", "org/dev"), "diy-device-cloud-org-dev");
    assert.throws(() => iotThingName("", "pi1"), /prefix/);
    assert.throws(() => iotThingName("a:b", "pi1"), /prefix/);
    assert.throws(() => iotThingName("p", "pi 1"), /thing name/);
    assert.match(clientIdProblem("iot-core", "x".repeat(129)) ?? "", /129 bytes; at most 128/);
  });

  it("refuses what IoT Core refuses: 9 levels, 257 bytes, a publish into $aws, 128 KiB + 1", () => {
    assert.match(topicProblem("iot-core", "a/b/c/d/e/f/g/h/i") ?? "", /9 levels; at most 8/);
    assert.equal(topicProblem("iot-core", "a/b/c/d/e/f/g/h"), undefined);
    assert.match(topicProblem("iot-core", "x".repeat(257)) ?? "", /257 bytes; at most 256/);
    assert.match(topicProblem("iot-core", "$aws/things/x", { publish: true }) ?? "", /reserves/);
    assert.equal(topicProblem("iot-core", "$aws/events/presence/connected/+"), undefined);
    assert.match(payloadProblem("iot-core", Buffer.alloc(131_073)) ?? "", /131073 bytes/);
    assert.ok(isIoName(LONGEST_NAME) && isDeviceId(LONGEST_ID));
  });
});
