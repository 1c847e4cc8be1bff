import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newRequestId } from "../../apps/web/broker";
import { CoalescedChanges } from "../../apps/web/coalesce";
import { PendingCommands } from "../../apps/web/pending-commands";
import { DeviceStore, type DeviceView } from "../../apps/web/state";
import { encodeState, parseState, topics } from "../../protocol";

const view = (id: string, output: string, req?: string): DeviceView => ({
  id,
  label: id,
  online: true,
  outputs: [{ name: output, value: "on", ...(req ? { req } : {}) }],
  inputs: [],
  sensors: [],
});

describe("commands awaiting their state (issue 18: a click's result is not held back)", () => {
  it("a sent command's answer goes out inside the coalescing window; a req the app never sent waits for the trailing update", () => {
    const store = new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [] }]);
    const pending = new PendingCommands();
    // A window far longer than the test: whatever is emitted below was emitted at once.
    const changes = new CoalescedChanges(store, 60_000, (d) => pending.answers(d));
    const seen: (string | undefined)[] = [];
    changes.on("change", (d) => seen.push(d.outputs[0]?.req));
    const state = (value: "on" | "off", req: string) =>
      store.apply(topics.state("pi1", "led"), encodeState(value, req));
    try {
      state("off", "r0"); // first change: at once, as before
      pending.expect("pi1", "led", "c1");
      state("on", "c1"); // the answer to a click, inside the window
      state("off", "invented"); // a req the app never sent: coalesced
      state("on", "c1"); // answered already: coalesced
      pending.expect("pi1", "led", "c2");
      state("off", "c2");
      assert.deepEqual(seen, ["r0", "c1", "c2"]);
    } finally {
      changes.close();
    }
  });

  it("matches device and output, answers once, forgets expired and failed commands and keeps at most its cap", () => {
    let now = 0;
    const pending = new PendingCommands(() => now, 1000, 3);
    pending.expect("pi1", "led", "a");
    assert.equal(pending.answers(view("pi2", "led", "a")), false, "another device echoing the req");
    assert.equal(pending.answers(view("pi1", "relay", "a")), false, "another output");
    assert.equal(pending.answers(view("pi1", "led")), false, "no req");
    assert.equal(pending.answers(view("pi1", "led", "a")), true);
    assert.equal(pending.answers(view("pi1", "led", "a")), false, "answered once");

    pending.expect("pi1", "led", "late");
    now = 1000;
    assert.equal(pending.answers(view("pi1", "led", "late")), false, "expired");

    pending.expect("pi1", "led", "failed");
    pending.forget("failed");
    assert.equal(pending.answers(view("pi1", "led", "failed")), false, "publish failed");

    for (const r of ["1", "2", "3", "4"]) pending.expect("pi1", "led", r);
    assert.equal(pending.answers(view("pi1", "led", "1")), false, "the oldest went over the cap");
    assert.deepEqual(
      ["2", "3", "4"].map((r) => pending.answers(view("pi1", "led", r))),
      [true, true, true],
    );
  });
});

describe("request ids (apps/web/broker.ts newRequestId)", () => {
  it("are 12 base64url characters, valid for the protocol, and never repeat across the random pool's refills", () => {
    const ids = Array.from({ length: 5000 }, () => newRequestId()); // ~20 refills of the 256-id pool
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{12}$/);
    assert.equal(new Set(ids).size, ids.length);
    const parsed = parseState(encodeState("on", ids[0]));
    assert.ok(parsed.ok && parsed.value.req === ids[0], "the device's state carries it unchanged");
  });
});
