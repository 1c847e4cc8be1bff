import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeInput, encodeState, topics } from "../../protocol";
import { DeviceStore, type DeviceView, type StatusChange } from "../../apps/web/state";

const devices = [
  { id: "pi1", label: "Kitchen", outputs: ["led"], inputs: ["button"] },
  { id: "bbb", outputs: ["led", "relay"], inputs: [] },
];

function store() {
  const s = new DeviceStore(devices, () => new Date("2026-01-01T00:00:00Z"));
  const changes: DeviceView[] = [];
  const statuses: StatusChange[] = [];
  s.on("change", (d) => changes.push(d));
  s.on("status", (c) => statuses.push(c));
  return { s, changes, statuses };
}

describe("web device store", () => {
  it("starts with every configured device and output unknown", () => {
    const { s } = store();
    assert.deepEqual(s.list(), [
      {
        id: "pi1",
        label: "Kitchen",
        online: null,
        outputs: [{ name: "led", value: null }],
        inputs: [{ name: "button", value: null }],
        sensors: [],
      },
      {
        id: "bbb",
        label: "bbb",
        online: null,
        outputs: [
          { name: "led", value: null },
          { name: "relay", value: null },
        ],
        inputs: [],
        sensors: [],
      },
    ]);
    assert.ok(s.hasOutput("pi1", "led"));
    assert.ok(!s.hasOutput("pi1", "relay"));
    assert.ok(!s.hasOutput("nope", "led"));
    assert.ok(s.has("pi1"));
    assert.ok(!s.has("nope"));
  });

  it("takes output state from a retained state message and emits one change", () => {
    const { s, changes } = store();
    const r = s.apply(topics.state("pi1", "led"), encodeState("on", "r1", new Date("2026-01-01T00:00:01Z")));
    assert.deepEqual(r, { ok: true, kind: "state", deviceId: "pi1", changed: true });
    assert.deepEqual(s.get("pi1")?.outputs, [{ name: "led", value: "on", req: "r1", at: "2026-01-01T00:00:01.000Z" }]);
    assert.equal(changes.length, 1);
    // The same message again (a retained redelivery after reconnect) changes nothing.
    const again = s.apply(topics.state("pi1", "led"), encodeState("on", "r1", new Date("2026-01-01T00:00:01Z")));
    assert.deepEqual(again, { ok: true, kind: "state", deviceId: "pi1", changed: false });
    assert.equal(changes.length, 1);
  });

  it("emits a status event only when online/offline actually changes, with what was known before", () => {
    const { s, statuses } = store();
    s.apply(topics.status("pi1"), "online");
    s.apply(topics.status("pi1"), "online");
    s.apply(topics.status("pi1"), "offline");
    assert.deepEqual(
      statuses.map((c) => [c.deviceId, c.online, c.previous]),
      [
        ["pi1", true, null],
        ["pi1", false, true],
      ],
    );
    assert.equal(s.get("pi1")?.online, false);
    assert.equal(s.get("pi1")?.statusSince, "2026-01-01T00:00:00.000Z");
  });

  it("records input events and emits them", () => {
    const { s } = store();
    const inputs: unknown[] = [];
    s.on("input", (e) => inputs.push(e));
    const at = new Date("2026-01-01T00:00:02Z");
    assert.equal(s.apply(topics.input("pi1", "button"), encodeInput("pressed", at)).ok, true);
    assert.deepEqual(inputs, [{ deviceId: "pi1", name: "button", value: "pressed", at: at.toISOString() }]);
    assert.deepEqual(s.get("pi1")?.inputs, [{ name: "button", value: "pressed", at: at.toISOString() }]);
  });

  it("drops malformed payloads, unknown devices, unknown outputs and foreign topics with a reason and no change", () => {
    const { s, changes, statuses } = store();
    const bad: [string, string][] = [
      [topics.state("pi1", "led"), "not json"],
      [topics.state("pi1", "led"), '{"value":"blink","at":"2026-01-01T00:00:00Z"}'],
      [topics.state("pi1", "led"), '{"value":"on"}'],
      [topics.state("pi1", "led"), "x".repeat(5000)],
      [topics.status("pi1"), "maybe"],
      [topics.state("ghost", "led"), encodeState("on")],
      [topics.state("pi1", "relay"), encodeState("on")],
      [topics.input("pi1", "knob"), encodeInput("pressed")],
      [topics.set("pi1", "led"), '{"value":"on","req":"r"}'],
      ["other/topic", "on"],
    ];
    for (const [t, p] of bad) {
      const r = s.apply(t, p);
      assert.equal(r.ok, false, `${t} ${p.slice(0, 40)}`);
      if (!r.ok) assert.ok(r.reason.length > 0);
    }
    assert.equal(changes.length, 0);
    assert.equal(statuses.length, 0);
    assert.deepEqual(s.list(), store().s.list());
  });

  it("hands out copies: callers cannot change the store's state", () => {
    const { s } = store();
    const d = s.get("pi1");
    assert.ok(d);
    (d.outputs[0] as { value: unknown }).value = "on";
    assert.equal(s.get("pi1")?.outputs[0]?.value, null);
  });
});
