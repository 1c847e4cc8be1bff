import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffMs, decide, nextValue, RECONNECT_MAX_MS } from "../../device/state";
import { encodeCommand, topics } from "../../protocol";

const states = new Map([["led", "off" as const]]);

describe("device command decisions", () => {
  it("toggles between on and off and keeps explicit values", () => {
    assert.equal(nextValue("off", "toggle"), "on");
    assert.equal(nextValue("on", "toggle"), "off");
    assert.equal(nextValue("on", "on"), "on");
    assert.equal(nextValue("on", "off"), "off");
  });

  it("applies a valid command for its own output with the request id", () => {
    const d = decide("pi1", states, topics.set("pi1", "led"), encodeCommand({ value: "toggle", req: "r-1" }));
    assert.deepEqual(d, { kind: "apply", output: "led", value: "on", req: "r-1" });
  });

  it("drops commands for another device, unknown outputs, other topics and bad payloads with a reason", () => {
    const good = encodeCommand({ value: "on", req: "r" });
    const cases: [string, string | Buffer, RegExp][] = [
      [topics.set("bbb1", "led"), good, /another device \(bbb1\)/],
      [topics.set("pi1", "fan"), good, /unknown output "fan"/],
      [topics.state("pi1", "led"), good, /not a command topic/],
      [topics.set("pi1", "led"), "not json", /not valid JSON/],
      [topics.set("pi1", "led"), JSON.stringify({ value: "blink", req: "r" }), /bad command payload/],
      [topics.set("pi1", "led"), JSON.stringify({ value: "on" }), /bad command payload[\s\S]*req/],
      [topics.set("pi1", "led"), Buffer.alloc(5000, 0x20), /over the 1024-byte limit/],
    ];
    for (const [topic, payload, reason] of cases) {
      const d = decide("pi1", states, topic, payload);
      assert.equal(d.kind, "drop", topic);
      assert.match(d.kind === "drop" ? d.reason : "", reason);
    }
  });

  it("drops a retained command: the broker replaying an old `set` is not a command sent now", () => {
    const cmd = encodeCommand({ value: "toggle", req: "planted" });
    const d = decide("pi1", states, topics.set("pi1", "led"), cmd, true);
    assert.equal(d.kind, "drop");
    assert.match(d.kind === "drop" ? d.reason : "", /retained command/);
    assert.equal(decide("pi1", states, topics.set("pi1", "led"), cmd, false).kind, "apply");
  });
});

describe("device reconnect backoff", () => {
  it("doubles from one second and is capped at thirty seconds", () => {
    const mid = () => 0.5; // no jitter
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 20].map((a) => backoffMs(a, mid)),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
    );
  });

  it("jitters by at most 20 % and never exceeds the cap", () => {
    assert.equal(
      backoffMs(1, () => 0),
      1600,
    );
    assert.equal(
      backoffMs(1, () => 1),
      2400,
    );
    for (let a = 0; a < 40; a++) assert.ok(backoffMs(a) <= RECONNECT_MAX_MS);
  });
});
