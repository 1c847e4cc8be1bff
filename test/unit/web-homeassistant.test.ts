import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseWebConfig } from "../../apps/web/config";
import { HomeAssistantDiscovery, haDevices, isStaleConfig } from "../../apps/web/homeassistant";
import { memoryLogger } from "../../apps/web/log";
import { HA_STATUS_TOPIC, haDiscoveryConfigs, haTopics } from "../../protocol";
import { waitUntil } from "../support/wait";

const broker = {
  url: "mqtts://127.0.0.1:8883",
  ca: "/etc/diy-web/ca.pem",
  cert: "/etc/diy-web/web.pem",
  key: "/etc/diy-web/web.key",
};

/** Records what the app publishes; the broker side is exercised in test/integration/homeassistant-*.test.ts. */
function recordingLink() {
  const sent: { topic: string; payload: string; retain: boolean }[] = [];
  return {
    sent,
    publish: async (topic: string, payload: string, retain: boolean) => {
      sent.push({ topic, payload, retain });
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe("web config: homeAssistant", () => {
  it("maps devices to Home Assistant devices with the label as name, model and bridge from config", () => {
    const config = parseWebConfig({
      broker,
      devices: [
        { id: "pi1", label: "Kitchen", outputs: ["led"], sensors: [{ name: "cpu" }, { name: "raw" }] },
        { id: "arduino1", outputs: ["relay"] },
      ],
      homeAssistant: {
        devices: {
          pi1: { model: "Raspberry Pi", units: { cpu: "°C" } },
          arduino1: { model: "Arduino", via: "bridge1" },
        },
      },
    });
    assert.deepEqual(haDevices(config), [
      {
        id: "pi1",
        name: "Kitchen",
        model: "Raspberry Pi",
        outputs: ["led"],
        inputs: [],
        sensors: [{ name: "cpu", unit: "°C" }, { name: "raw" }],
      },
      { id: "arduino1", name: "arduino1", model: "Arduino", via: "bridge1", outputs: ["relay"], inputs: [] },
    ]);
  });

  it("refuses model entries for unknown devices and a label whose config would not fit one message", () => {
    let msg = "";
    try {
      parseWebConfig({
        broker,
        devices: [{ id: "pi1", label: "🌡".repeat(64), outputs: ["led"] }],
        homeAssistant: { devices: { pi9: { model: "x" }, pi1: { model: "x", extra: 1 } } },
      });
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      msg = e.message;
    }
    assert.match(msg, /homeAssistant\.devices\.pi1\.extra: unknown key/);
    // The unknown-key problem stops the parse before the cross-checks; fix it and the rest shows.
    const id = "p".repeat(32);
    const output = "o".repeat(32);
    try {
      parseWebConfig({
        broker,
        devices: [{ id, label: "🌡".repeat(64), outputs: [output] }],
        homeAssistant: { devices: { pi9: { model: "x" }, [id]: { model: "M".repeat(64) } } },
      });
      assert.fail("expected a ConfigError");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /homeAssistant\.devices\.pi9: "pi9" is not in devices/);
      assert.match(
        e.message,
        new RegExp(
          `devices\\.0\\.label: the Home Assistant config of "${id}_${output}" would be \\d+ bytes \\(limit 1024\\)`,
        ),
      );
    }
  });
});

describe("web app: Home Assistant discovery publisher", () => {
  const devices = [{ id: "pi1", name: "pi1", model: "Raspberry Pi", outputs: ["led"], inputs: ["button"] }];

  it("publishes every config retained on connect", async () => {
    const link = recordingLink();
    const ha = new HomeAssistantDiscovery(devices, link, memoryLogger());
    ha.onConnect();
    await flush();
    assert.deepEqual(
      link.sent,
      haDiscoveryConfigs({ devices }).map((c) => ({ topic: c.topic, payload: c.payload, retain: true })),
    );
    ha.stop();
  });

  it("owns Home Assistant's status and our discovery topics, nothing else", () => {
    const ha = new HomeAssistantDiscovery(devices, recordingLink(), memoryLogger());
    assert.deepEqual(ha.subscriptions, [HA_STATUS_TOPIC, ...haTopics.ourConfigs()]);
    assert.equal(ha.owns(HA_STATUS_TOPIC), true);
    assert.equal(ha.owns(haTopics.config("switch", "old_led")), true);
    assert.equal(ha.owns("homeassistant/switch/other-node/x/config"), false);
    assert.equal(ha.owns("devices/pi1/status"), false);
  });

  it("clears a retained config of a device or name the stack no longer has, and only that", async () => {
    const link = recordingLink();
    const log = memoryLogger();
    const ha = new HomeAssistantDiscovery(devices, link, log);
    const current = haDiscoveryConfigs({ devices })[0];
    const gone = haTopics.config("switch", "pi2_led");
    ha.onMessage(current?.topic ?? "", Buffer.from(current?.payload ?? ""), true);
    ha.onMessage(gone, Buffer.from('{"name":"led"}'), true);
    ha.onMessage(gone, Buffer.from(""), true); // our own removal, echoed back
    ha.onMessage(haTopics.config("event", "pi1_led"), Buffer.from("{}"), false); // renamed: input became output
    await flush();
    assert.deepEqual(link.sent, [
      { topic: gone, payload: "", retain: true },
      { topic: haTopics.config("event", "pi1_led"), payload: "", retain: true },
    ]);
    assert.equal(ha.counts.removed, 2);
    assert.ok(log.entries.some((e) => e.event === "ha_discovery_removed" && e.topic === gone));
    assert.equal(isStaleConfig("homeassistant/switch/other-node/x/config", "{}", new Set()), false);
  });

  it("republishes on Home Assistant's birth, at most once per interval however many births arrive", async () => {
    // The interval is measured on the app's clock (opts.now): a fake one here, so that "the interval has
    // passed" is a fact of the test and not of two real timers racing each other on a loaded machine.
    let clock = 0;
    const link = recordingLink();
    const ha = new HomeAssistantDiscovery(devices, link, memoryLogger(), { minIntervalMs: 200, now: () => clock });
    ha.onConnect();
    for (let i = 0; i < 100; i++) ha.onMessage(HA_STATUS_TOPIC, Buffer.from("online"), false);
    ha.onMessage(HA_STATUS_TOPIC, Buffer.from("offline"), false); // its Last Will: nothing to do
    await flush();
    assert.equal(ha.counts.births, 100);
    assert.equal(ha.counts.rounds, 1, "the births right after connect wait for the interval");
    // The coalesced republish runs on a real timer (200 ms): wait for it instead of sleeping a guess.
    await waitUntil(() => ha.counts.rounds >= 2, "the coalesced republish");
    assert.equal(ha.counts.rounds, 2, "one coalesced republish");
    assert.equal(link.sent.length, 2 * haDiscoveryConfigs({ devices }).length);
    // Once the interval has passed (on the app's clock) since that round, a birth republishes at once.
    clock += 200;
    ha.onMessage(HA_STATUS_TOPIC, Buffer.from("online"), false);
    await flush();
    assert.equal(ha.counts.rounds, 3);
    ha.stop();
  });
});
