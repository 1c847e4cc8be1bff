// The web app's broker profile is chosen by its own config (apps/web/config.ts broker.kind): mosquitto by
// default, so every existing config means what it meant; iot-core needs its thing prefix and region, and a
// mosquitto config with IoT settings is refused rather than half-used.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseWebConfig } from "../../apps/web/config";

const broker = {
  url: "mqtts://abc123-ats.iot.eu-central-1.amazonaws.com:8883",
  ca: "/etc/diy-web/ca.pem",
  cert: "/etc/diy-web/web.pem",
  key: "/etc/diy-web/web.key",
};
const iot = { thingPrefix: "diy-device-cloud-dev", region: "eu-central-1" };

function problems(data: unknown): string {
  try {
    parseWebConfig(data);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail("expected a ConfigError");
}

describe("web config: broker profile", () => {
  it("is mosquitto when not named, and iot-core with its thing prefix and region", () => {
    assert.equal(parseWebConfig({ broker }).broker.kind, "mosquitto");
    const c = parseWebConfig({ broker: { ...broker, kind: "iot-core", iot } }).broker;
    assert.equal(c.kind, "iot-core");
    assert.deepEqual(c.iot, iot);
  });

  it("refuses an iot-core profile without its settings, IoT settings on mosquitto, and bad values, naming the key", () => {
    assert.match(problems({ broker: { ...broker, kind: "iot-core" } }), /broker\.iot: .*thingPrefix, region/);
    assert.match(problems({ broker: { ...broker, iot } }), /broker\.iot: .*"iot-core" only/);
    assert.match(problems({ broker: { ...broker, kind: "emqx" } }), /broker\.kind/);
    assert.match(
      problems({ broker: { ...broker, kind: "iot-core", iot: { ...iot, thingPrefix: "a:b" } } }),
      /broker\.iot\.thingPrefix/,
    );
    assert.match(
      problems({ broker: { ...broker, kind: "iot-core", iot: { ...iot, region: "Frankfurt" } } }),
      /broker\.iot\.region: .*eu-central-1/,
    );
  });
});
