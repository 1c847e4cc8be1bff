// The iot-core profile's start-up state through the real AWS SDK against a local endpoint that answers as the
// retained-message API documents it (iot-data-double.ts): the page starts from every configured device's
// retained state, readings and status, fetched page by page; nothing of another stack's devices or of other
// kinds is fetched (each GET is billed); a message cleared meanwhile is skipped; a live value is never
// overwritten by the older retained one.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { RETAINED_PAGE_SIZE, loadRetainedState } from "../../apps/web/iot-retained";
import { memoryLogger } from "../../apps/web/log";
import { DeviceStore } from "../../apps/web/state";
import { encodeSensor, encodeState, topics } from "../../protocol";
import { type IotDataDouble, startIotDataDouble } from "./iot-data-double";

const AT = new Date("2026-11-30T02:00:00.000Z");

describe("web app, iot-core profile: start-up state from the retained-message API", () => {
  let api: IotDataDouble;
  let client: IoTDataPlaneClient;
  const retain = (topic: string, payload: string) =>
    api.retained.set(topic, { payload: Buffer.from(payload), qos: 1, lastModifiedTime: AT.getTime() });

  before(async () => {
    api = await startIotDataDouble();
    client = new IoTDataPlaneClient({
      endpoint: api.url,
      region: "eu-central-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      maxAttempts: 1,
    });
  });
  after(async () => {
    client.destroy();
    await api.close();
  });
  beforeEach(() => {
    api.retained.clear();
    api.gets.length = 0;
    api.lists = 0;
    api.beforeGet = undefined;
  });

  const storeOf = () =>
    new DeviceStore(
      [
        { id: "pi1", outputs: ["led"], inputs: ["button"], sensors: [{ name: "temp" }] },
        { id: "bbb1", outputs: ["usr0"], inputs: [] },
      ],
      () => AT,
    );
  /** The web app's start-up load into `store`, as apps/web wires it. */
  const loadInto = (store: DeviceStore, log = memoryLogger(), hasNewer: (topic: string) => boolean = () => false) =>
    loadRetainedState({
      client,
      isConfigured: (id) => store.get(id) !== undefined,
      hasNewer,
      apply: (t, p) => store.apply(t, p, { retained: true }),
      log,
    });

  it("loads each configured device's state, reading and status, over as many pages as there are", async () => {
    retain(topics.state("pi1", "led"), encodeState("on", "r1", AT));
    retain(topics.sensor("pi1", "temp"), encodeSensor(21.5, "°C", AT));
    retain(topics.status("pi1"), "online");
    retain(topics.state("bbb1", "usr0"), encodeState("off", undefined, AT));
    retain(topics.status("bbb1"), "offline");
    // Another stack's devices, Home Assistant's configs: 450 retained topics the page does not show.
    for (let i = 0; i < 450; i++) retain(topics.state(`other${i}`, "led"), encodeState("on", undefined, AT));
    retain("homeassistant/switch/diy-device-cloud/pi1_led/config", "{}");
    const store = storeOf();
    const log = memoryLogger();
    const r = await loadInto(store, log);
    assert.deepEqual(r, { applied: 5, skipped: 0 });
    assert.equal(api.lists, Math.ceil(api.retained.size / RETAINED_PAGE_SIZE), "every page, each once");
    assert.deepEqual(
      [...api.gets].sort(),
      [
        topics.state("pi1", "led"),
        topics.sensor("pi1", "temp"),
        topics.status("pi1"),
        topics.state("bbb1", "usr0"),
        topics.status("bbb1"),
      ].sort(),
      "only this stack's configured devices are fetched",
    );
    const pi1 = store.get("pi1");
    assert.equal(pi1?.online, true);
    assert.equal(pi1?.outputs[0]?.value, "on");
    assert.equal(pi1?.outputs[0]?.req, "r1");
    assert.equal(pi1?.sensors[0]?.value, 21.5);
    assert.equal(store.get("bbb1")?.online, false);
    assert.equal(store.get("bbb1")?.outputs[0]?.value, "off");
    assert.ok(log.entries.some((e) => e.event === "retained_state_loaded"));
  });

  it("skips a message cleared between the list and the get (ResourceNotFoundException), and loads the rest", async () => {
    retain(topics.state("pi1", "led"), encodeState("on", undefined, AT));
    retain(topics.status("pi1"), "online");
    api.beforeGet = (topic) => {
      if (topic === topics.status("pi1")) api.retained.delete(topic);
    };
    const store = storeOf();
    const log = memoryLogger();
    const r = await loadInto(store, log);
    assert.deepEqual(r, { applied: 1, skipped: 1 });
    assert.equal(store.get("pi1")?.online, null);
    assert.equal(store.get("pi1")?.outputs[0]?.value, "on");
    assert.ok(!log.entries.some((e) => e.event === "retained_get_failed"), "a cleared message is no failure");
  });

  it("keeps a value that arrived live while the retained one was on its way", async () => {
    retain(topics.state("pi1", "led"), encodeState("off", "old", AT));
    const store = storeOf();
    const live = new Set<string>();
    api.beforeGet = (topic) => {
      // The device publishes a newer state; the web app's wildcard subscription delivers it first.
      store.apply(topic, encodeState("on", "new", AT));
      live.add(topic);
    };
    const r = await loadInto(store, memoryLogger(), (t) => live.has(t));
    assert.deepEqual(r, { applied: 0, skipped: 1 });
    assert.equal(store.get("pi1")?.outputs[0]?.req, "new");
  });

  it("fails loudly when the list itself is refused (the caller retries), and a bad payload never throws", async () => {
    const unsigned = new IoTDataPlaneClient({
      endpoint: api.url,
      region: "eu-central-1",
      credentials: { accessKeyId: "", secretAccessKey: "" },
      maxAttempts: 1,
    });
    await assert.rejects(
      loadRetainedState({
        client: unsigned,
        isConfigured: () => true,
        hasNewer: () => false,
        apply: () => {},
        log: memoryLogger(),
      }),
    );
    unsigned.destroy();
    retain(topics.state("pi1", "led"), "{not json");
    const store = storeOf();
    const r = await loadInto(store);
    assert.equal(r.applied, 1, "handed to the store, which drops it");
    assert.equal(store.get("pi1")?.outputs[0]?.value, null);
  });
});
