import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { PageUpdates, type PageUpdateSink } from "../../apps/web/page-updates";
import type { DeviceView, InputEvent } from "../../apps/web/state";

// apps/web/page-updates.ts: every open page and event stream is fed from one listener per source.
describe("page updates", () => {
  const sources = () => ({ changes: new EventEmitter(), store: new EventEmitter(), broker: new EventEmitter() });
  const counts = (s: ReturnType<typeof sources>) => [
    s.changes.listenerCount("change"),
    s.store.listenerCount("input"),
    s.broker.listenerCount("connection"),
  ];
  const recorder = () => {
    const seen: string[] = [];
    const sink: PageUpdateSink = {
      device: (d) => seen.push(`device ${d.id}`),
      input: (e) => seen.push(`input ${e.name}`),
      broker: (c) => seen.push(`broker ${c}`),
    };
    return { seen, sink };
  };

  it("listens once for any number of sinks, tells each of them, and stops listening with the last", () => {
    const s = sources();
    const updates = new PageUpdates(s as unknown as ConstructorParameters<typeof PageUpdates>[0]);
    assert.deepEqual(counts(s), [0, 0, 0], "nothing attached while no page is open");
    const pages = Array.from({ length: 20 }, recorder);
    const stops = pages.map((p) => updates.add(p.sink));
    assert.deepEqual(counts(s), [1, 1, 1]);
    s.changes.emit("change", { id: "pi1" } as DeviceView);
    s.store.emit("input", { deviceId: "pi1", name: "button", value: "pressed", at: "" } as InputEvent);
    s.broker.emit("connection", false);
    for (const p of pages) assert.deepEqual(p.seen, ["device pi1", "input button", "broker false"]);
    stops[0]?.();
    stops[0]?.(); // twice: no harm
    s.broker.emit("connection", true);
    assert.equal(pages[0]?.seen.length, 3, "a stopped sink hears nothing more");
    assert.equal(pages[1]?.seen.at(-1), "broker true");
    assert.deepEqual(counts(s), [1, 1, 1]);
    for (const stop of stops.slice(1)) stop();
    assert.deepEqual(counts(s), [0, 0, 0], "detached with the last");
    updates.add(recorder().sink);
    assert.deepEqual(counts(s), [1, 1, 1], "attached again for the next");
  });
});
