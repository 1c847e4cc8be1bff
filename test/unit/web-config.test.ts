import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, configPathFrom, loadWebConfig, parseWebConfig, secretsFromEnv } from "../../apps/web/config";

const broker = {
  url: "mqtts://127.0.0.1:8883",
  ca: "/etc/diy-web/ca.pem",
  cert: "/etc/diy-web/web.pem",
  key: "/etc/diy-web/web.key",
};

function problems(data: unknown): string {
  try {
    parseWebConfig(data);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail("expected a ConfigError");
}

describe("web config", () => {
  it("fills defaults: loopback :3000, secure cookie, no devices", () => {
    const c = parseWebConfig({ broker });
    assert.deepEqual(c.listen, { host: "127.0.0.1", port: 3000 });
    assert.equal(c.cookieSecure, true);
    assert.deepEqual(c.devices, []);
    const d = parseWebConfig({ broker, devices: [{ id: "pi1", outputs: ["led"] }] }).devices[0];
    assert.deepEqual(d, { id: "pi1", outputs: ["led"], inputs: [], sensors: [] });
  });

  it("listens on a unix socket for nginx (socket + group) or on TCP, never both", () => {
    const c = parseWebConfig({ broker, listen: { socket: "/run/diy-web/web.sock", group: "www-data" } });
    assert.deepEqual(c.listen, { socket: "/run/diy-web/web.sock", group: "www-data" });
    assert.match(problems({ broker, listen: { socket: "/run/x.sock" } }), /^ {2}listen\.group: .*www-data/m);
    assert.match(
      problems({ broker, listen: { socket: "run/x.sock", group: "www-data" } }),
      /listen\.socket: must be an absolute path/,
    );
    assert.match(
      problems({ broker, listen: { socket: "/run/x.sock", group: "www-data", port: 3000 } }),
      /listen\.socket: give either/,
    );
    assert.match(problems({ broker, listen: { group: "www-data" } }), /listen\.group: only for a socket/);
  });

  it("names the key of every problem", () => {
    const msg = problems({
      broker: { ...broker, url: "mqtt://plain:1883" },
      listen: { port: 70000 },
      devices: [
        { id: "Pi 1", outputs: ["LED"] },
        { id: "pi2", outputs: ["led"], inputs: ["led"] },
        { id: "pi2", outputs: [] },
      ],
      publicOrigin: "ftp://x",
      extra: true,
    });
    for (const key of [
      "broker.url",
      "listen.port",
      "devices.0.id",
      "devices.0.outputs.0",
      "devices.1",
      "devices.2.id",
      "publicOrigin",
      "extra",
    ]) {
      assert.match(msg, new RegExp(`^  ${key.replace(/\./g, "\\.")}: `, "m"), `${key} in:\n${msg}`);
    }
    assert.match(problems({}), /broker: /);
    assert.match(problems({ broker: { ...broker, url: "mqtt://x:1883" } }), /TLS only/);
  });

  it("loads a JSON file and reports unreadable or invalid JSON clearly", () => {
    const dir = mkdtempSync(join(tmpdir(), "diy-webcfg-"));
    try {
      const good = join(dir, "config.json");
      writeFileSync(good, JSON.stringify({ broker, devices: [{ id: "pi1", outputs: ["led"] }] }));
      assert.equal(loadWebConfig(good).devices[0]?.id, "pi1");
      const bad = join(dir, "bad.json");
      writeFileSync(bad, "{ nope");
      assert.throws(() => loadWebConfig(bad), /bad\.json is not valid JSON/);
      assert.throws(() => loadWebConfig(join(dir, "missing.json")), /cannot read web config .*missing\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the config path from --config, --config= or DIY_WEB_CONFIG, else says how to pass it", () => {
    assert.equal(configPathFrom(["--config", "/a.json"], {}), "/a.json");
    assert.equal(configPathFrom(["--config=/b.json"], { DIY_WEB_CONFIG: "/c.json" }), "/b.json");
    assert.equal(configPathFrom([], { DIY_WEB_CONFIG: "/c.json" }), "/c.json");
    assert.throws(() => configPathFrom([], {}), /--config <file> or set DIY_WEB_CONFIG/);
    assert.throws(() => configPathFrom(["--config"], {}), /needs a file path/);
  });

  it("reads secrets from the environment and names missing ones without echoing values", () => {
    const secret = "x".repeat(32);
    assert.deepEqual(secretsFromEnv({ DIY_WEB_PASSWORD: "pw", DIY_SESSION_SECRET: secret }), {
      password: "pw",
      sessionSecret: secret,
    });
    assert.throws(() => secretsFromEnv({}), /DIY_WEB_PASSWORD is not set[\s\S]*DIY_SESSION_SECRET must be at least 32/);
    try {
      secretsFromEnv({ DIY_WEB_PASSWORD: "hunter2-password", DIY_SESSION_SECRET: "short-secret-value" });
      assert.fail("expected an error");
    } catch (e) {
      assert.doesNotMatch((e as Error).message, /hunter2|short-secret-value/);
    }
  });
});

// The web app's broker profile is chosen by its own config (apps/web/config.ts broker.kind): mosquitto by
// default, so every existing config means what it meant; iot-core needs its thing prefix and region, and a
// mosquitto config with IoT settings is refused rather than half-used.
const iotBroker = { ...broker, url: "mqtts://abc123-ats.iot.eu-central-1.amazonaws.com:8883" };
const iot = { thingPrefix: "diy-device-cloud-dev", region: "eu-central-1" };

describe("web config: broker profile", () => {
  it("is mosquitto when not named, and iot-core with its thing prefix and region", () => {
    assert.equal(parseWebConfig({ broker: iotBroker }).broker.kind, "mosquitto");
    const c = parseWebConfig({ broker: { ...iotBroker, kind: "iot-core", iot } }).broker;
    assert.equal(c.kind, "iot-core");
    assert.deepEqual(c.iot, iot);
  });

  it("refuses an iot-core profile without its settings, IoT settings on mosquitto, and bad values, naming the key", () => {
    assert.match(problems({ broker: { ...iotBroker, kind: "iot-core" } }), /broker\.iot: .*thingPrefix, region/);
    assert.match(problems({ broker: { ...iotBroker, iot } }), /broker\.iot: .*"iot-core" only/);
    assert.match(problems({ broker: { ...iotBroker, kind: "emqx" } }), /broker\.kind/);
    assert.match(
      problems({ broker: { ...iotBroker, kind: "iot-core", iot: { ...iot, thingPrefix: "a:b" } } }),
      /broker\.iot\.thingPrefix/,
    );
    assert.match(
      problems({ broker: { ...iotBroker, kind: "iot-core", iot: { ...iot, region: "Frankfurt" } } }),
      /broker\.iot\.region: .*eu-central-1/,
    );
  });
});
