// The `broker` stack key: mosquitto on the instance (default) or AWS IoT Core. A bad value is one clear problem,
// reported before the program creates anything.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, NAMESPACE } from "../../infra/config";
import { configErrorOf, settingsFrom } from "../support/settings";
import { fullExampleRaw, installMocks, setConfig, TEST_SSH_KEY } from "./program-harness";

const minimal = { adminCidrs: '["198.51.100.7/32"]' };

const problemsOf = configErrorOf;

describe("broker stack key", () => {
  test("defaults to mosquitto, also for Pulumi.yaml's empty default", () => {
    assert.equal(settingsFrom(minimal).broker, "mosquitto");
    assert.equal(settingsFrom({ ...minimal, broker: "" }).broker, "mosquitto");
  });

  test("accepts iot-core and mosquitto", () => {
    assert.equal(settingsFrom({ ...minimal, broker: "iot-core" }).broker, "iot-core");
    assert.equal(settingsFrom({ ...minimal, broker: "mosquitto" }).broker, "mosquitto");
  });

  for (const bad of ["iotcore", "IoT-Core", "aws", "mosquitto ", "1"]) {
    test(`refuses ${JSON.stringify(bad)}, naming the key, the choices and the fix`, () => {
      const err = problemsOf({ ...minimal, broker: bad });
      assert.deepEqual(err.keys, ["broker"]);
      const [p] = err.problems;
      assert.match(p?.problem ?? "", /must be one of mosquitto, iot-core/);
      assert.equal(p?.fix, `pulumi config set ${NAMESPACE}:broker iot-core`);
    });
  }

  test("a stack with a bad broker fails while the program loads, before any resource is registered", () => {
    const h = installMocks("diy-device-cloud", "dev");
    setConfig({ [`${NAMESPACE}:adminCidrs`]: '["198.51.100.7/32"]', [`${NAMESPACE}:broker`]: "iotcore" });
    assert.throws(
      () => require("../../infra/index"),
      (e: unknown) => e instanceof ConfigError && e.keys.join() === "broker",
    );
    assert.equal(h.resources.length, 0);
  });
});

/** `count` Raspberry Pis, each with an LED and a button. */
const pis = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: `pi${i}`,
    host: `pi${i}.lan`,
    board: "raspberrypi",
    outputs: [{ name: "led" }],
    inputs: [{ name: "button" }],
  }));
const stack = (devices: unknown[], extra: Record<string, unknown> = {}) => ({
  ...minimal,
  deviceSshPrivateKey: TEST_SSH_KEY,
  devices: JSON.stringify(devices),
  ...extra,
});
/** A bridge board whose children have `outputs` outputs in all (ten per child). */
const bridgeWith = (outputs: number) => ({
  id: "gw1",
  host: "gw1.lan",
  board: "generic",
  bridge: {
    lanAddress: "192.0.2.30",
    children: Array.from({ length: Math.ceil(outputs / 10) }, (_, c) => ({
      id: `arduino${c}`,
      outputs: Array.from({ length: Math.min(10, outputs - c * 10) }, (_, o) => `relay${o}`),
      inputs: [],
    })),
  },
});

describe("broker iot-core: what AWS IoT Core would refuse fails at config, naming the key and the fix", () => {
  test("the full example stack (every kind of board, Home Assistant) fits IoT Core", () => {
    assert.equal(settingsFrom({ ...fullExampleRaw(), broker: "iot-core" }).broker, "iot-core");
  });

  test("a bridge connection relaying more than 50 command topics: IoT Core holds 50 subscriptions per connection", () => {
    assert.equal(settingsFrom(stack([bridgeWith(50)], { broker: "iot-core" })).devices.length, 1);
    const err = problemsOf(stack([bridgeWith(51)], { broker: "iot-core" }));
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ["devices[0].bridge.children"],
    );
    const [p] = err.problems;
    assert.match(
      p?.problem ?? "",
      /gw1:bridge subscribes each of its children's 51 command topics; iot-core: 51 subscriptions on one connection; at most 50/,
    );
    assert.match(p?.fix ?? "", /split the children of bridge gw1 over two bridge boards.*broker mosquitto/);
    // mosquitto has no such limit: the same stack is fine there.
    assert.equal(settingsFrom(stack([bridgeWith(51)])).broker, "mosquitto");
  });

  test("Home Assistant's policies beyond 10 x 2,048 characters (its grants name every device's topics)", () => {
    const ha = { integrations: '{"homeAssistant":{"enabled":true}}', broker: "iot-core" };
    assert.equal(settingsFrom(stack(pis(25), ha)).integrations.homeAssistant, true);
    const err = problemsOf(stack(pis(30), ha));
    assert.deepEqual(err.keys, ["integrations"]);
    const [p] = err.problems;
    assert.equal(p?.path, "integrations.homeAssistant");
    assert.match(p?.problem ?? "", /homeassistant needs 11 policies; IoT Core attaches at most 10 to a certificate/);
    assert.match(p?.fix ?? "", /integrations\.homeAssistant\.enabled' false/);
    assert.equal(settingsFrom(stack(pis(30), { ...ha, broker: "mosquitto" })).broker, "mosquitto");
  });

  test("the quotas are checked only against lists that parsed: a bad device entry is named first", () => {
    const err = problemsOf(stack([{ ...bridgeWith(51), host: "" }], { broker: "iot-core" }));
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ["devices[0].host"],
    );
  });
});
