// The `broker` stack key: mosquitto on the instance (default) or AWS IoT Core. A bad value is one clear problem,
// reported before the program creates anything.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, NAMESPACE } from "../../infra/config";
import { configErrorOf, settingsFrom } from "../support/settings";
import { installMocks, setConfig } from "./program-harness";

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
