// The `broker` stack key: mosquitto on the instance (default) or AWS IoT Core. A bad value is one clear problem,
// reported before the program creates anything.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { ConfigError, NAMESPACE } from "../../infra/config";
import { HA_DISCOVERY_FILTERS, HA_SUPPORTED_COMPONENTS } from "../../protocol";
import { configErrorOf, settingsFrom } from "../support/settings";
import { fullExampleRaw, installMocks, setConfig, TEST_SSH_KEY } from "./program-harness";

const minimal = { adminCidrs: '["198.51.100.7/32"]' };

const problemsOf = configErrorOf;
const HA_ON = '{"homeAssistant":{"enabled":true}}';
const HA_OFF = '{"homeAssistant":{"enabled":false}}';

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
  test("the full example stack (every kind of board), Home Assistant off, fits IoT Core", () => {
    const raw = { ...fullExampleRaw(), broker: "iot-core", integrations: HA_OFF };
    assert.equal(settingsFrom(raw).broker, "iot-core");
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

  test("Home Assistant is refused with broker iot-core: its discovery subscribes more filters than one connection holds", () => {
    // Home Assistant's filters as its discovery subscribes them (discovery.py async_start), written out here.
    const ha = { integrations: HA_ON, broker: "iot-core" };
    // Two per supported component and two for device-based discovery (homeassistant/device/...).
    assert.equal(HA_DISCOVERY_FILTERS.length, 2 * HA_SUPPORTED_COMPONENTS.length + 2);
    for (const c of ["switch", "sensor", "event", "binary_sensor", "light", "device"]) {
      assert.ok(HA_DISCOVERY_FILTERS.includes(`homeassistant/${c}/+/config`), c);
      assert.ok(HA_DISCOVERY_FILTERS.includes(`homeassistant/${c}/+/+/config`), c);
    }
    assert.ok(!HA_DISCOVERY_FILTERS.includes("homeassistant/+/+/config"), "not the wildcard form older releases used");
    const n = HA_DISCOVERY_FILTERS.length;
    assert.ok(n > 50, `${n} filters`);
    // Any fleet, even none: one problem at integrations.homeAssistant (no per-policy size report besides it).
    for (const devices of [[], pis(1), pis(30)]) {
      const err = problemsOf(stack(devices, ha));
      assert.deepEqual(err.keys, ["integrations"], `${devices.length} devices`);
      assert.deepEqual(
        err.problems.map((p) => p.path),
        ["integrations.homeAssistant"],
      );
      const [p] = err.problems;
      assert.match(p?.problem ?? "", new RegExp(`discovery subscribes ${n} filters on its one connection`));
      assert.match(p?.problem ?? "", new RegExp(`iot-core: ${n} subscriptions on one connection; at most 50`));
      assert.match(p?.problem ?? "", /home-assistant\/core mqtt\/discovery\.py/);
      assert.match(p?.problem ?? "", /"Subscriptions per connection", not adjustable/);
      assert.match(p?.fix ?? "", /--path 'diy-device-cloud:integrations\.homeAssistant\.enabled' false/);
      assert.match(
        p?.fix ?? "",
        /keep broker mosquitto for Home Assistant: pulumi config set diy-device-cloud:broker mosquitto/,
      );
    }
    // Both ways out are accepted.
    assert.equal(settingsFrom(stack(pis(30), { ...ha, broker: "mosquitto" })).integrations.homeAssistant, true);
    assert.equal(settingsFrom(stack(pis(30), { ...ha, integrations: HA_OFF })).broker, "iot-core");
  });

  test("README says why Home Assistant needs mosquitto, with the module's count", () => {
    const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
    const n = HA_DISCOVERY_FILTERS.length;
    assert.match(readme, new RegExp(`discovery subscribes ${n} filters on its one connection`));
    assert.match(
      readme,
      new RegExp(`refused at config: its discovery subscribes ${n} filters on one connection, IoT Core allows 50`),
    );
  });

  test("a stack with Home Assistant and broker iot-core fails while the program loads, before any resource is registered", () => {
    const h = installMocks("diy-device-cloud", "dev");
    setConfig({
      [`${NAMESPACE}:adminCidrs`]: '["198.51.100.7/32"]',
      [`${NAMESPACE}:broker`]: "iot-core",
      [`${NAMESPACE}:integrations`]: HA_ON,
    });
    assert.throws(
      () => require("../../infra/index"),
      (e: unknown) =>
        e instanceof ConfigError && e.keys.join() === "integrations" && /Home Assistant cannot connect/.test(e.message),
    );
    assert.equal(h.resources.length, 0);
  });

  test("the quotas are checked only against lists that parsed: a bad device entry is named first", () => {
    const err = problemsOf(stack([{ ...bridgeWith(51), host: "" }], { broker: "iot-core" }));
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ["devices[0].host"],
    );
  });
});
