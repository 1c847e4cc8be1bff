import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decide } from "../../device/state";
import {
  HA_COMPONENTS,
  HA_NODE_ID,
  type HaDevice,
  MAX_PAYLOAD_BYTES,
  encodeInput,
  encodeSensor,
  encodeState,
  haDiscoveryConfigs,
  haTopics,
  isDeviceId,
  isIoName,
  parseCommand,
  parseDiscoveryTopic,
  parseStatus,
  topics,
} from "../../protocol";
import {
  HA_RELEASES,
  availableFrom,
  discover,
  eventFrom,
  renderTemplates,
  sensorStateFrom,
  subscribedTo,
  switchCommand,
  switchStateFrom,
} from "./homeassistant-double";

const pi1: HaDevice = {
  id: "pi1",
  name: "Kitchen Pi",
  model: "Raspberry Pi",
  outputs: ["led"],
  inputs: ["button"],
  sensors: [{ name: "cpu", unit: "°C" }, { name: "level", unit: "mV" }, { name: "raw" }],
};
const arduino1: HaDevice = {
  id: "arduino1",
  name: "arduino1",
  model: "MQTT device via bridge1",
  via: "bridge1",
  outputs: ["relay"],
  inputs: [],
};

describe("Home Assistant discovery payloads (golden)", () => {
  const configs = haDiscoveryConfigs({ devices: [pi1, arduino1] });

  it("announces an output as a switch commanding and reading our topics with our JSON payloads", () => {
    const sw = configs.find((c) => c.topic === "homeassistant/switch/diy-device-cloud/pi1_led/config");
    assert.ok(sw, JSON.stringify(configs.map((c) => c.topic)));
    assert.equal(
      sw.payload,
      '{"~":"devices/pi1","name":"led","unique_id":"diy-device-cloud_switch_pi1_led",' +
        '"command_topic":"~/out/led/set","state_topic":"~/out/led/state","value_template":"{{ value_json.value }}",' +
        '"payload_on":"{\\"value\\":\\"on\\",\\"req\\":\\"homeassistant\\"}",' +
        '"payload_off":"{\\"value\\":\\"off\\",\\"req\\":\\"homeassistant\\"}",' +
        '"state_on":"on","state_off":"off","qos":1,"retain":false,' +
        '"availability_topic":"~/status","payload_available":"online","payload_not_available":"offline",' +
        '"device":{"identifiers":["diy-device-cloud_pi1"],"name":"Kitchen Pi","model":"Raspberry Pi"},' +
        '"origin":{"name":"DIY Device Cloud"}}',
    );
  });

  it("announces an input as an event entity with our two edge types", () => {
    const ev = configs.find((c) => c.topic === "homeassistant/event/diy-device-cloud/pi1_button/config");
    assert.ok(ev);
    assert.equal(
      ev.payload,
      '{"~":"devices/pi1","name":"button","unique_id":"diy-device-cloud_event_pi1_button",' +
        '"state_topic":"~/in/button","value_template":"{\\"event_type\\":\\"{{ value_json.value }}\\"}",' +
        '"event_types":["pressed","released"],"qos":1,' +
        '"availability_topic":"~/status","payload_available":"online","payload_not_available":"offline",' +
        '"device":{"identifiers":["diy-device-cloud_pi1"],"name":"Kitchen Pi","model":"Raspberry Pi"},' +
        '"origin":{"name":"DIY Device Cloud"}}',
    );
  });

  it("announces a sensor with its unit (a temperature unit adds the temperature class) as a measurement", () => {
    const cpu = configs.find((c) => c.topic === "homeassistant/sensor/diy-device-cloud/pi1_cpu/config");
    assert.ok(cpu);
    assert.equal(
      cpu.payload,
      '{"~":"devices/pi1","name":"cpu","unique_id":"diy-device-cloud_sensor_pi1_cpu",' +
        '"state_topic":"~/sensor/cpu","value_template":"{{ value_json.value }}",' +
        '"unit_of_measurement":"°C","device_class":"temperature","state_class":"measurement","qos":1,' +
        '"availability_topic":"~/status","payload_available":"online","payload_not_available":"offline",' +
        '"device":{"identifiers":["diy-device-cloud_pi1"],"name":"Kitchen Pi","model":"Raspberry Pi"},' +
        '"origin":{"name":"DIY Device Cloud"}}',
    );
    const level = JSON.parse(configs.find((c) => c.objectId === "pi1_level")?.payload ?? "{}");
    assert.deepEqual([level.unit_of_measurement, level.device_class], ["mV", undefined]);
    const raw = JSON.parse(configs.find((c) => c.objectId === "pi1_raw")?.payload ?? "{}");
    assert.deepEqual(
      [raw.unit_of_measurement, raw.device_class, raw.state_class],
      [undefined, undefined, "measurement"],
    );
  });

  it("links a bridge child to its bridge (via_device) and announces nothing for a device without I/O", () => {
    const relay = configs.find((c) => c.objectId === "arduino1_relay");
    assert.deepEqual(JSON.parse(relay?.payload ?? "{}").device, {
      identifiers: ["diy-device-cloud_arduino1"],
      name: "arduino1",
      model: "MQTT device via bridge1",
      via_device: "diy-device-cloud_bridge1",
    });
    assert.deepEqual(haDiscoveryConfigs({ devices: [{ ...pi1, outputs: [], inputs: [], sensors: [] }] }), []);
    assert.deepEqual(
      configs.map((c) => c.topic),
      [
        "homeassistant/switch/diy-device-cloud/pi1_led/config",
        "homeassistant/event/diy-device-cloud/pi1_button/config",
        "homeassistant/sensor/diy-device-cloud/pi1_cpu/config",
        "homeassistant/sensor/diy-device-cloud/pi1_level/config",
        "homeassistant/sensor/diy-device-cloud/pi1_raw/config",
        "homeassistant/switch/diy-device-cloud/arduino1_relay/config",
      ],
    );
  });
});

describe("Home Assistant discovery payloads against Home Assistant's rules (homeassistant-double.ts)", () => {
  const configs = haDiscoveryConfigs({ devices: [pi1, arduino1] });

  it("every config passes Home Assistant's discovery topic matcher and its component schema", () => {
    for (const c of configs) {
      const d = discover(c.topic, c.payload);
      assert.equal(d.component, c.component);
      assert.equal(d.nodeId, HA_NODE_ID);
      assert.equal(d.objectId, c.objectId);
      assert.ok(d.config, c.topic);
    }
  });

  it("every config reaches Home Assistant through its discovery subscriptions, current and older releases", () => {
    for (const release of HA_RELEASES) {
      for (const c of configs) assert.ok(discover(c.topic, c.payload, release).config, `${release}: ${c.topic}`);
      // Every component the web app may publish or clear, not only those this stack uses.
      for (const component of HA_COMPONENTS)
        assert.ok(subscribedTo(haTopics.config(component, "pi1_x"), release), `${release}: ${component}`);
    }
  });

  it("the double receives only what Home Assistant subscribes to (so the check above can fail)", () => {
    const payload = configs[0]?.payload ?? "";
    // A component Home Assistant does not support: current releases do not subscribe to it at all, older ones
    // receive it through their wildcards and drop it (discovery.py "Integration %s is not supported").
    const unsupported = `homeassistant/led/${HA_NODE_ID}/pi1_led/config`;
    assert.throws(() => discover(unsupported, payload), /does not subscribe/);
    assert.throws(() => discover(unsupported, payload, "older"), /not supported/);
    for (const release of HA_RELEASES)
      for (const topic of [`homeassistant/switch/${HA_NODE_ID}/pi1/led/config`, `other/switch/${HA_NODE_ID}/x/config`])
        assert.throws(() => discover(topic, payload, release), /does not subscribe/, `${release}: ${topic}`);
  });

  it("the double refuses what Home Assistant refuses (so the check above can fail)", () => {
    const sw = JSON.parse(configs[0]?.payload ?? "{}") as Record<string, unknown>;
    const topic = configs[0]?.topic ?? "";
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ["no command_topic", { ...sw, command_topic: undefined }, /command_topic/],
      ["wildcard command topic", { ...sw, command_topic: "devices/+/out/led/set" }, /Wildcards/],
      ["misspelt key", { ...sw, state_topik: "x" }, /state_topik/],
      ["device without identifiers", { ...sw, device: { name: "x" } }, /identifying value/],
      ["origin without name", { ...sw, origin: {} }, /name/],
      ["qos 3", { ...sw, qos: 3 }, /qos/],
      ["both availability forms", { ...sw, availability: [{ topic: "a" }] }, /exclusive/],
    ];
    for (const [what, payload, why] of bad) assert.throws(() => discover(topic, JSON.stringify(payload)), why, what);
    const ev = JSON.parse(configs[1]?.payload ?? "{}") as Record<string, unknown>;
    assert.throws(
      () => discover(configs[1]?.topic ?? "", JSON.stringify({ ...ev, event_types: undefined })),
      /event_types/,
    );
    const cpu = configs.find((c) => c.objectId === "pi1_cpu");
    const sensor = JSON.parse(cpu?.payload ?? "{}") as Record<string, unknown>;
    assert.throws(
      () => discover(cpu?.topic ?? "", JSON.stringify({ ...sensor, unit_of_measurement: "mV" })),
      /not valid/,
    );
    assert.throws(
      () => discover(cpu?.topic ?? "", JSON.stringify({ ...sensor, state_topic: undefined })),
      /state_topic/,
    );
    assert.throws(() => discover("homeassistant/switch/diy device/x/config", configs[0]?.payload ?? ""), /illegal/);
    assert.throws(() => discover("homeassistant/switch/x/config", "not json"), /Unable to parse JSON/);
  });

  it("Home Assistant's switch sends commands our device applies, and reads our device's state", () => {
    const d = discover(configs[0]?.topic ?? "", configs[0]?.payload ?? "");
    const config = d.config ?? {};
    assert.equal(config.command_topic, topics.set("pi1", "led"));
    assert.equal(config.state_topic, topics.state("pi1", "led"));
    for (const on of [true, false]) {
      const cmd = switchCommand(config, on);
      assert.deepEqual({ qos: cmd.qos, retain: cmd.retain }, { qos: 1, retain: false });
      assert.equal(parseCommand(cmd.payload).ok, true, cmd.payload);
      // The device service's own decision on that message: applied to the output.
      const states = new Map([["led" as string, on ? ("off" as const) : ("on" as const)]]);
      assert.deepEqual(decide("pi1", states, cmd.topic, cmd.payload), {
        kind: "apply",
        output: "led",
        value: on ? "on" : "off",
        req: "homeassistant",
      });
    }
    // What the device publishes after a command from the page (its own req) or from Home Assistant.
    assert.equal(switchStateFrom(config, encodeState("on", "r1")), true);
    assert.equal(switchStateFrom(config, encodeState("off", "homeassistant")), false);
    assert.equal(switchStateFrom(config, encodeState("on")), true);
    assert.equal(switchStateFrom(config, "garbage"), undefined);
  });

  it("Home Assistant's event entity fires our input's edges and ignores a replayed retained one", () => {
    const config = discover(configs[1]?.topic ?? "", configs[1]?.payload ?? "").config ?? {};
    assert.equal(config.state_topic, topics.input("pi1", "button"));
    assert.equal(eventFrom(config, encodeInput("pressed"), false), "pressed");
    assert.equal(eventFrom(config, encodeInput("released"), false), "released");
    assert.equal(eventFrom(config, encodeInput("pressed"), true), undefined);
  });

  it("Home Assistant's sensor takes the number our device publishes", () => {
    const cpu = configs.find((c) => c.objectId === "pi1_cpu");
    const config = discover(cpu?.topic ?? "", cpu?.payload ?? "").config ?? {};
    assert.equal(config.state_topic, topics.sensor("pi1", "cpu"));
    assert.equal(sensorStateFrom(config, encodeSensor(48.3, "°C")), "48.3");
    assert.equal(sensorStateFrom(config, encodeSensor(-0.5, "°C")), "-0.5");
  });

  it("availability follows the status the device retains and its Last Will", () => {
    for (const c of configs) {
      const config = discover(c.topic, c.payload).config ?? {};
      const device = c.objectId.split("_")[0] ?? "";
      assert.equal(config.availability_topic, topics.status(device));
      for (const s of ["online", "offline"]) {
        assert.equal(parseStatus(s).ok, true);
        assert.equal(availableFrom(config, s), s === "online");
      }
    }
  });

  it("renders templates with the real Jinja2 (value_json from the payload, output stripped)", () => {
    assert.deepEqual(
      renderTemplates([
        { template: "{{ value_json.value }}", payload: '{"value":" on "}' },
        { template: "{{ value }}", payload: "plain" },
      ]),
      ["on", "plain"],
    );
  });
});

describe("Home Assistant discovery topics and sizes", () => {
  it("reads our discovery topics back and nothing else", () => {
    assert.deepEqual(parseDiscoveryTopic(haTopics.config("switch", "pi1_led")), {
      component: "switch",
      objectId: "pi1_led",
    });
    for (const t of [
      "homeassistant/switch/other-node/pi1_led/config",
      "homeassistant/light/diy-device-cloud/pi1_led/config",
      "homeassistant/switch/diy-device-cloud/pi1_led",
      "homeassistant/switch/diy-device-cloud/pi 1/config",
      "homeassistant/status",
      topics.state("pi1", "led"),
    ])
      assert.equal(parseDiscoveryTopic(t), undefined, t);
    assert.deepEqual(haTopics.ourConfigs(), [
      "homeassistant/switch/diy-device-cloud/+/config",
      "homeassistant/event/diy-device-cloud/+/config",
      "homeassistant/sensor/diy-device-cloud/+/config",
    ]);
  });

  it("gives every entity its own topic and unique_id, and stays under the protocol's payload limit", () => {
    const id = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/).filter(isDeviceId);
    const name = fc.stringMatching(/^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$/).filter(isIoName);
    const text = fc.string({ minLength: 1, maxLength: 64, unit: fc.constantFrom("a", "Z", " ", "-", "(", ".") });
    const device = fc.record({
      id,
      name: text,
      model: text,
      via: fc.option(id, { nil: undefined }),
      outputs: fc.uniqueArray(name, { maxLength: 3 }),
      inputs: fc.uniqueArray(name, { maxLength: 3 }),
      sensors: fc.uniqueArray(
        fc.record({ name, unit: fc.option(fc.string({ minLength: 1, maxLength: 16 }), { nil: undefined }) }),
        { selector: (x) => x.name, maxLength: 2 },
      ),
    });
    fc.assert(
      fc.property(fc.uniqueArray(device, { selector: (d) => d.id, maxLength: 4 }), (devices) => {
        const all = haDiscoveryConfigs({ devices: devices.map((d) => (d.via ? d : { ...d, via: undefined })) });
        assert.equal(new Set(all.map((c) => c.topic)).size, all.length);
        const uids = all.map((c) => JSON.parse(c.payload).unique_id as string);
        assert.equal(new Set(uids).size, uids.length);
        for (const c of all)
          assert.ok(Buffer.byteLength(c.payload) <= MAX_PAYLOAD_BYTES, `${c.topic}: ${c.payload.length}`);
      }),
    );
    // The longest ids, label and model there are: still under the limit.
    const longest: HaDevice = {
      id: "a".repeat(32),
      name: "L".repeat(64),
      model: "M".repeat(64),
      via: "b".repeat(32),
      outputs: ["c".repeat(32)],
      inputs: ["d".repeat(32)],
      sensors: [{ name: "e".repeat(32), unit: "U".repeat(16) }],
    };
    for (const c of haDiscoveryConfigs({ devices: [longest] }))
      assert.ok(Buffer.byteLength(c.payload) <= MAX_PAYLOAD_BYTES);
  });
});
