// Attack suite, device <-> broker: what a client can leave behind on the broker in retained messages.
// Real mosquitto (rendered config + ACL), real web app, real device services (simulated lines).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WEB_CLIENT_ID, encodeCommand, topics } from "../../protocol";
import { type AttackStack, startAttackStack } from "./attack-support";
import { publish, settle } from "./broker-support";
import { eventually } from "./web-harness";

describe("attack: a retained command is never replayed to a device", () => {
  let stack: AttackStack;

  before(async () => {
    stack = await startAttackStack("attack-retained-set", [{ id: "sim1" }]);
  });
  after(() => stack?.cleanup());

  it("a retained `set` published by the web identity is not applied again when the device reconnects", async () => {
    const sim1 = stack.devices.sim1;
    assert.ok(sim1);
    // The web identity is the one allowed to write commands: a leaked web key, or a bug that sets retain.
    // (Connecting under it takes the web app's place on the broker for a moment: one connection per identity.)
    const planter = await stack.broker.connect(WEB_CLIENT_ID);
    const setTopic = topics.set("sim1", "led");
    try {
      assert.deepEqual(await publish(planter, setTopic, encodeCommand({ value: "toggle", req: "planted" }), true), {
        ok: true,
      });
      planter.end(true);
      // Live, it is a command like any other.
      await eventually(() => sim1.applied.some((a) => a.req === "planted"), "the live command applied");
      assert.equal(sim1.line("led"), "on");
      await eventually(() => stack.web.broker.connected, "the web app back on the broker", 20_000);
      const off = await stack.command("sim1", "led", "off");
      assert.equal(off.status, 202);
      await eventually(() => sim1.applied.some((a) => a.req === off.req), "the off command applied");
      assert.equal(sim1.line("led"), "off");

      // The service restarts (systemd, a crash, a reboot) and later the broker restarts: each time
      // the broker still holds the retained toggle.
      const before = sim1.applied.length;
      await sim1.restart();
      await settle(500);
      await stack.broker.restart();
      await eventually(() => !sim1.service.isConnected(), "sim1 sees the broker restart");
      await eventually(() => sim1.service.isConnected(), "sim1 reconnected", 20_000);
      await settle(500);
      assert.deepEqual(sim1.applied.slice(before), [], "a retained command was applied on reconnect");
      assert.equal(sim1.line("led"), "off");
    } finally {
      planter.end(true);
      // An empty retained message clears it.
      const cleaner = await stack.broker.connect(WEB_CLIENT_ID);
      await publish(cleaner, setTopic, "", true);
      cleaner.end(true);
    }
  });
});
