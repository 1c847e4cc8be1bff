// Attack suite, device <-> broker: one device's certificate against everyone else's connection.
// MQTT lets a new connection with a taken client id throw the old one off ("Client web already
// connected, closing old connection"); the broker binds the client id to the certificate's CN instead
// (use_username_as_clientid), so pi1's key can only ever be pi1.
// Real mosquitto (rendered config + ACL), real web app, real device services, and the attacker is the
// stock mosquitto_sub with pi1's certificate, which reconnects by itself when thrown off.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AttackStack, startAttackStack } from "./attack-support";
import { letMessagesArrive, waitUntil } from "../support/wait";
import { type Daemon, startDaemon } from "../support/daemon";

/** How long each attacker stays connected while the test watches the victims. */
const WINDOW_MS = 3000;

describe("attack: a device certificate connecting under another client's id", () => {
  let stack: AttackStack;
  let attacker: Daemon | undefined;

  /** `mosquitto_sub -i <clientId>` with pi1's certificate: the repro of the attack, as is. */
  const attack = async (clientId: string) => {
    await waitUntil(() => stack.web.broker.connected, "the web app connected before the attack", { timeoutMs: 20_000 });
    const pi1 = await stack.broker.client("pi1");
    const from = stack.broker.output().length;
    attacker = await startDaemon(
      "mosquitto_sub",
      [
        ...["-h", "127.0.0.1", "-p", String(stack.broker.port), "-V", "mqttv5"],
        ...["--cafile", stack.broker.caFile, "--cert", pi1.cert, "--key", pi1.key],
        ...["-i", clientId, "-t", "x"],
      ],
      null, // it prints nothing until a message arrives: the broker's log says when it is in
    );
    // Without the binding the broker logs it under the id it asked for; with it, as pi1.
    await waitUntil(
      () =>
        new RegExp(`New client connected from .* as (${clientId}|pi1) \\(p5, [^)]*u'pi1'\\)`).test(
          stack.broker.output().slice(from),
        ),
      `the attacker connected\n${stack.broker.output().slice(from)}`,
    );
  };
  const webDisconnects = () => stack.log.entries.filter((e) => e.event === "broker_disconnected").length;

  before(async () => {
    stack = await startAttackStack("attack-client-id", [{ id: "pi1" }, { id: "bbb1" }]);
  });
  after(async () => {
    await attacker?.stop();
    await stack?.cleanup();
  });

  it("with pi1's certificate and `-i web`: the web app stays connected, healthy and able to command", async () => {
    const before = webDisconnects();
    try {
      await attack("web");
      const deadline = Date.now() + WINDOW_MS;
      let commands = 0;
      while (Date.now() < deadline) {
        assert.equal((await fetch(`${stack.web.url}/healthz`)).status, 200, "/healthz failed");
        const sent = await stack.command("bbb1", "led", "toggle");
        assert.equal(sent.status, 202, "the command was not accepted");
        await waitUntil(() => stack.devices.bbb1?.applied.some((a) => a.req === sent.req), "bbb1 applying it");
        commands++;
        await letMessagesArrive(200);
      }
      assert.equal(webDisconnects(), before, `the web app was thrown off\n${stack.broker.output()}`);
      assert.ok(commands > 0);
      assert.doesNotMatch(stack.broker.output(), /Client web already connected, closing old connection/);
    } finally {
      await attacker?.stop();
    }
  });

  it("with pi1's certificate and `-i bbb1`: bbb1 stays connected and applies every command sent to it", async () => {
    const bbb1 = stack.devices.bbb1;
    assert.ok(bbb1);
    const before = { disconnects: bbb1.disconnects, applied: bbb1.applied.length };
    const offline: boolean[] = [];
    const watch = (s: { deviceId: string; online: boolean }) => {
      if (s.deviceId === "bbb1" && !s.online) offline.push(true);
    };
    stack.web.store.on("status", watch);
    const reqs: string[] = [];
    try {
      await attack("bbb1");
      for (let i = 0; i < 20; i++) {
        const sent = await stack.command("bbb1", "led", "toggle");
        assert.equal(sent.status, 202);
        if (sent.req) reqs.push(sent.req);
        await letMessagesArrive(WINDOW_MS / 20);
      }
      await waitUntil(
        () => reqs.every((r) => bbb1.applied.some((a) => a.req === r)),
        `bbb1 applying all 20 commands (applied ${bbb1.applied.length - before.applied})`,
      );
      assert.equal(bbb1.disconnects, before.disconnects, "bbb1 was thrown off the broker");
      assert.deepEqual(offline, [], "bbb1's Last Will (offline) was published");
      assert.doesNotMatch(stack.broker.output(), /Client bbb1 already connected, closing old connection/);
    } finally {
      stack.web.store.off("status", watch);
      await attacker?.stop();
    }
  });
});
