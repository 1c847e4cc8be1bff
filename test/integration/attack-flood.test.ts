// Attack suite, device -> broker -> web: one device's key floods input events. What reaches the page
// (SSE), the log and /healthz must stay bounded by the app's own limits, whatever the flood's size.
// Real mosquitto (rendered config + ACL), real web app, real device services (simulated lines).
// Counts and bounds only: the bounds follow from the limits and the flood's measured length.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { DEVICE_UPDATE_WINDOW_MS } from "../../apps/web/coalesce";
import { INPUT_EVENTS_BURST, INPUT_EVENTS_PER_SECOND } from "../../apps/web/input-limit";
import type { DeviceView } from "../../apps/web/state";
import { encodeInput, encodeState, topics } from "../../protocol";
import { type AttackStack, startAttackStack } from "./attack-support";
import { openEvents } from "./web-harness";

const FLOOD = 1000;

/**
 * Publishes each line as one message with `mosquitto_pub -l` (QoS 1, MQTT 5) under a device's
 * certificate, as the attacker did: a separate process, so the flood does not share the app's event loop.
 */
async function mosquittoPub(stack: AttackStack, cn: string, topic: string, lines: readonly string[]): Promise<void> {
  const creds = await stack.broker.client(cn);
  // mosquitto_pub(1): -l sends each line of stdin as a separate message; -q 1 waits for each PUBACK.
  const args = ["-h", "127.0.0.1", "-p", String(stack.broker.port), "--cafile", stack.broker.caFile];
  args.push("--cert", creds.cert, "--key", creds.key, "-V", "mqttv5", "-q", "1", "-t", topic, "-l");
  const proc = spawn("mosquitto_pub", args, { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr += d;
  });
  proc.stdin.end(`${lines.join("\n")}\n`);
  const code = await new Promise<number | null>((resolve) => proc.on("close", resolve));
  assert.equal(code, 0, `mosquitto_pub: ${stderr}`);
}

describe("attack: an input event flood from one device", () => {
  let stack: AttackStack;

  before(async () => {
    stack = await startAttackStack("attack-flood", [{ id: "sim1" }, { id: "flood1", inputs: ["button"] }]);
  });
  after(() => stack?.cleanup());

  it("1,000 events reach the page as a capped few, the log as one line, and /healthz keeps answering", async (t) => {
    // The attacker holds flood1's key; its own service is off (else the two fight over the identity).
    await stack.devices.flood1?.stop();
    const events = await openEvents(stack.web.url, stack.session.cookie);
    try {
      await events.next((e) => e.event === "snapshot", "snapshot");
      const sseFrom = events.events.length;
      const logFrom = stack.log.entries.length;

      // /healthz, polled one request after another: a same-run baseline, then for as long as the flood lasts.
      // A request that fails outright (on main before the fix, one did during the flood) counts as status 0.
      const healthz = async () => {
        const start = performance.now();
        try {
          const res = await fetch(`${stack.web.url}/healthz`);
          await res.body?.cancel();
          return { status: res.status, ms: performance.now() - start };
        } catch (err) {
          return { status: 0, ms: performance.now() - start, error: String((err as Error).cause ?? err) };
        }
      };
      const baseline: { status: number; ms: number; error?: string }[] = [];
      for (let i = 0; i < 5; i++) baseline.push(await healthz());
      const health: { status: number; ms: number; error?: string }[] = [];
      let flooding = true;
      const poller = (async () => {
        while (flooding) health.push(await healthz());
      })();

      const t0 = performance.now();
      const flood = Array.from({ length: FLOOD }, (_, i) => encodeInput(i % 2 ? "released" : "pressed"));
      await mosquittoPub(stack, "flood1", topics.input("flood1", "button"), flood);
      // A marker after the flood: once the page shows it, the app has handled every event before it.
      await mosquittoPub(stack, "flood1", topics.state("flood1", "led"), [encodeState("on", "flood-end")]);
      await events.next(
        (e) => e.event === "device" && (e.data as DeviceView).outputs.some((o) => o.req === "flood-end"),
        "the marker after the flood on the page",
        sseFrom,
        60_000,
      );
      const seconds = (performance.now() - t0) / 1000;
      flooding = false;
      await poller;

      const sse = events.events.slice(sseFrom);
      const inputs = sse.filter((e) => e.event === "input").length;
      const updates = sse.filter((e) => e.event === "device" && (e.data as DeviceView).id === "flood1").length;
      const lines = stack.log.entries.slice(logFrom).filter((e) => e.level !== "debug" && e.event !== "http");
      t.diagnostic(
        `flood of ${FLOOD} in ${seconds.toFixed(2)} s -> SSE ${inputs} input + ${updates} device events, ` +
          `${lines.length} log lines (${lines.map((e) => e.event).join(", ")}); /healthz ${health.length} answers, ` +
          `slowest ${Math.max(...health.map((h) => h.ms)).toFixed(0)} ms (before the flood: ` +
          `slowest ${Math.max(...baseline.map((h) => h.ms)).toFixed(0)} ms of ${baseline.length})`,
      );

      // Input events: a person's burst gets through, the rest only at the sustained rate.
      assert.ok(inputs >= INPUT_EVENTS_BURST, `a burst of ${INPUT_EVENTS_BURST} presses reaches the page: ${inputs}`);
      const inputBound = INPUT_EVENTS_BURST + Math.ceil(INPUT_EVENTS_PER_SECOND * seconds) + 1;
      assert.ok(inputs <= inputBound, `${inputs} input events on the page, limit ${inputBound}`);
      // Device updates: the first at once, then at most one per window.
      const updateBound = 2 + Math.ceil((seconds * 1000) / DEVICE_UPDATE_WINDOW_MS);
      assert.ok(updates <= updateBound, `${updates} device updates on the page, limit ${updateBound}`);
      // The log: one line saying what is dropped and why, not one per event.
      const dropped = lines.filter((e) => e.event === "input_events_dropped");
      assert.equal(dropped.length, 1, JSON.stringify(lines));
      assert.equal(dropped[0]?.device, "flood1");
      assert.match(
        String(dropped[0]?.limit),
        new RegExp(`${INPUT_EVENTS_BURST} at once, then ${INPUT_EVENTS_PER_SECOND} per second`),
      );
      assert.ok(lines.length <= 3, `log lines during the flood: ${JSON.stringify(lines)}`);
      // The server kept answering, connected to the broker.
      assert.ok(health.length >= 1);
      assert.deepEqual(
        health.filter((h) => h.status !== 200),
        [],
        "every /healthz during the flood answered 200",
      );

      // Another device is still served: a command reaches sim1 and its new state the page.
      const sseAfter = events.events.length;
      const cmd = await stack.command("sim1", "led", "on");
      assert.equal(cmd.status, 202);
      await events.next(
        (e) =>
          e.event === "device" && (e.data as DeviceView).outputs.some((o) => o.req === cmd.req && o.value === "on"),
        "sim1's new state on the page",
        sseAfter,
        20_000,
      );
    } finally {
      events.close();
    }
  });
});
