// Attack suite, device <-> broker: one device against another, with the real device services and the
// real web app (broker-acl.test.ts holds the same line with bare MQTT clients, broker-acl-rules.test.ts
// for any stack at the unit tier).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeCommand, encodeState, topics } from "../../protocol";
import { type AttackStack, startAttackStack } from "./attack-support";
import { publish } from "../support/mqtt";
import { letMessagesArrive, waitUntil } from "../support/wait";

describe("attack: one device against another", () => {
  let stack: AttackStack;

  before(async () => {
    // pi9's key is the attacker's (configured, its service not running).
    stack = await startAttackStack("attack-cross-device", [
      { id: "pi1" },
      { id: "bbb1" },
      { id: "pi9", service: false },
    ]);
  });
  after(() => stack?.cleanup());

  it("a command for bbb1 is applied by bbb1 alone", async () => {
    const pi1 = stack.devices.pi1;
    const bbb1 = stack.devices.bbb1;
    assert.ok(pi1 && bbb1);
    const before = pi1.applied.length;
    const sent = await stack.command("bbb1", "led", "on");
    assert.equal(sent.status, 202);
    await waitUntil(() => bbb1.applied.some((a) => a.req === sent.req), "bbb1 applying it");
    await letMessagesArrive();
    assert.deepEqual(pi1.applied.slice(before), [], "pi1 acted on bbb1's command");
    assert.equal(pi1.line("led"), "off");
    assert.equal(bbb1.line("led"), "on");
  });

  it("with pi9's key: no command, state or status forged for bbb1 reaches bbb1 or the page", async () => {
    const bbb1 = stack.devices.bbb1;
    assert.ok(bbb1);
    const applied = bbb1.applied.length;
    const view = stack.web.store.get("bbb1");
    const pi9 = await stack.broker.connect("pi9");
    try {
      for (const [topic, payload] of [
        [topics.set("bbb1", "led"), encodeCommand({ value: "toggle", req: "forged" })],
        [topics.state("bbb1", "led"), encodeState("off", "forged")],
        [topics.status("bbb1"), "offline"],
      ] as const) {
        const r = await publish(pi9, topic, payload, true);
        assert.equal(r.ok ? 0 : r.reasonCode, 135, `${topic}: ${JSON.stringify(r)}`);
      }
      await letMessagesArrive();
      assert.deepEqual(bbb1.applied.slice(applied), [], "bbb1 applied a forged command");
      assert.deepEqual(stack.web.store.get("bbb1"), view, "the page's view of bbb1 changed");
    } finally {
      pi9.end(true);
    }
  });
});
