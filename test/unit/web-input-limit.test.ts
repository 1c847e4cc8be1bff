import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CoalescedChanges } from "../../apps/web/coalesce";
import { InputRateLimit } from "../../apps/web/input-limit";
import { DeviceStore, type DeviceView } from "../../apps/web/state";
import { encodeInput, encodeState, topics } from "../../protocol";

describe("input event limit per device", () => {
  it("lets a burst through, then the sustained rate; one flood is reported once, its end with the count", () => {
    const limit = new InputRateLimit({ burst: 3, perSecond: 2 });
    const actions = [0, 0, 0, 0, 0].map(() => limit.take("pi1", 0).action);
    assert.deepEqual(actions, ["accept", "accept", "accept", "drop-first", "drop"]);
    // Half a second later one token is back: accepted, the flood goes on (no second report).
    assert.deepEqual(limit.take("pi1", 500), { action: "accept" });
    assert.deepEqual(limit.take("pi1", 500), { action: "drop" });
    // Quiet long enough to fill the bucket: the flood is over and its count reported once.
    assert.deepEqual(limit.take("pi1", 5_000), { action: "accept-after-flood", dropped: 3 });
    assert.deepEqual(limit.take("pi1", 5_000), { action: "accept" });
    // Another device has its own bucket.
    assert.deepEqual(limit.take("bbb1", 0), { action: "accept" });
  });

  it("the store drops events over the limit before they reach the page or the history", () => {
    let now = 0;
    const store = new DeviceStore(
      [{ id: "pi1", outputs: ["led"], inputs: ["button"] }],
      () => new Date(1_800_000_000_000 + now),
      new InputRateLimit({ burst: 2, perSecond: 1 }),
    );
    const inputs: unknown[] = [];
    store.on("input", (e) => inputs.push(e));
    const results = [1, 2, 3, 4].map(() => store.apply(topics.input("pi1", "button"), encodeInput("pressed")));
    assert.deepEqual(
      results.map((r) => (r.ok ? (r.dropped ?? "accepted") : r.reason)),
      ["accepted", "accepted", "first", "more"],
    );
    assert.equal(inputs.length, 2);
    now = 10_000;
    const after = store.apply(topics.input("pi1", "button"), encodeInput("released"));
    assert.ok(after.ok && after.droppedBefore === 2);
    assert.equal(inputs.length, 3);
    // Over the cap even a bad payload is dropped quietly (no reason to log), before any parsing.
    store.apply(topics.input("pi1", "button"), encodeInput("pressed"));
    const bad = store.apply(topics.input("pi1", "button"), "{not json");
    assert.deepEqual(bad, { ok: true, kind: "input", deviceId: "pi1", changed: false, dropped: "first" });
  });
});

describe("device updates for the page", () => {
  it("sends the first change at once and merges the rest of the window into one with the latest view", async () => {
    const store = new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [] }]);
    const changes = new CoalescedChanges(store, 50);
    const seen: DeviceView[] = [];
    changes.on("change", (d) => seen.push(d));
    try {
      for (let i = 0; i < 100; i++) store.apply(topics.state("pi1", "led"), encodeState(i % 2 ? "on" : "off", `r${i}`));
      assert.deepEqual(
        seen.map((d) => d.outputs[0]?.req),
        ["r0"],
        "the first at once",
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        seen.map((d) => d.outputs[0]?.req),
        ["r0", "r99"],
        "then one with the latest",
      );
    } finally {
      changes.close();
    }
  });
});
