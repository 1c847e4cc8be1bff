// The iot-core profile's online/offline comes from AWS IoT Core's presence events (apps/web/iot-presence.ts),
// which the developer guide says may arrive out of order and twice ("Lifecycle events"): the newest connection's
// state wins, a stale Last Will on the status topic changes nothing, and events of clients that are not this
// stack's configured devices are ignored.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IotPresence, storePresenceSink } from "../../apps/web/iot-presence";
import { memoryLogger } from "../../apps/web/log";
import { DeviceStore } from "../../apps/web/state";
import { iotPresenceTopics, iotThingName, topics } from "../../protocol";

const PREFIX = "diy-device-cloud-dev";
const PI1 = iotThingName(PREFIX, "pi1");

/** A presence event as the developer guide shows it (life-cycle-events.html, Connect/Disconnect events). */
function event(
  type: "connected" | "disconnected",
  clientId: string,
  versionNumber: number,
  timestamp = 1_700_000_000_000,
) {
  const topic = type === "connected" ? iotPresenceTopics.connected(clientId) : iotPresenceTopics.disconnected(clientId);
  const body = {
    clientId,
    timestamp,
    eventType: type,
    sessionIdentifier: "a4666d2a7d844ae4ac5d7b38c9cb7967",
    principalIdentifier: "12345678901234567890123456789012",
    ...(type === "disconnected" ? { clientInitiatedDisconnect: false, disconnectReason: "CONNECTION_LOST" } : {}),
    versionNumber,
  };
  return { topic, payload: Buffer.from(JSON.stringify(body)) };
}

function setup() {
  const store = new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [] }]);
  const log = memoryLogger();
  const presence = new IotPresence(PREFIX, storePresenceSink(store), log);
  const deliver = (m: { topic: string; payload: Buffer }) => {
    assert.ok(presence.owns(m.topic), m.topic);
    presence.onMessage(m.topic, m.payload);
  };
  return { store, log, presence, deliver };
}

describe("web app, iot-core profile: presence from $aws/events/presence", () => {
  it("subscribes to both presence filters and follows connect and disconnect", () => {
    const { store, presence, deliver } = setup();
    assert.deepEqual(presence.subscriptions, [...iotPresenceTopics.filters]);
    deliver(event("connected", PI1, 1));
    assert.equal(store.get("pi1")?.online, true);
    deliver(event("disconnected", PI1, 1));
    assert.equal(store.get("pi1")?.online, false);
    deliver(event("connected", PI1, 2));
    assert.equal(store.get("pi1")?.online, true);
  });

  it("keeps the newer connection's state when the old connection's disconnect arrives after it, or twice", () => {
    const { store, presence, deliver } = setup();
    deliver(event("connected", PI1, 7));
    deliver(event("disconnected", PI1, 6)); // the previous connection, delivered late
    assert.equal(store.get("pi1")?.online, true);
    deliver(event("connected", PI1, 7)); // a duplicate
    assert.equal(presence.counts.stale, 2);
    assert.equal(store.get("pi1")?.online, true);
  });

  it("a stale Last Will on the status topic after a newer connect changes nothing", () => {
    const { store, presence, deliver } = setup();
    deliver(event("connected", PI1, 3));
    // The broker publishes the old connection's Will (retained `offline`) after the device reconnected.
    assert.ok(presence.owns(topics.status("pi1")), "status messages stop at the presence profile");
    presence.onMessage(topics.status("pi1"), Buffer.from("offline"));
    assert.equal(store.get("pi1")?.online, true);
  });

  it("ignores other stacks' clients, identities that are not configured devices, and malformed events", () => {
    const { store, log, presence, deliver } = setup();
    deliver(event("connected", "other-stack:pi1", 1));
    deliver(event("connected", "pi1", 1));
    deliver(event("connected", iotThingName(PREFIX, "web"), 1));
    deliver(event("connected", iotThingName(PREFIX, "pi2"), 1));
    assert.equal(store.get("pi1")?.online, null);
    assert.equal(presence.counts.ignored, 4);
    const wrongTopic = event("disconnected", PI1, 9);
    presence.onMessage(iotPresenceTopics.connected(PI1), wrongTopic.payload);
    presence.onMessage(iotPresenceTopics.connected(PI1), Buffer.from("{not json"));
    presence.onMessage(iotPresenceTopics.connected(PI1), Buffer.from(JSON.stringify({ clientId: PI1 })));
    assert.equal(store.get("pi1")?.online, null);
    assert.equal(log.entries.filter((e) => e.event === "presence_event_dropped").length, 3);
    assert.ok(!presence.owns("devices/pi1/out/led/state") && !presence.owns("$aws/events/subscriptions/subscribed/x"));
  });
});
