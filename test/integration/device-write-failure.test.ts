import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { parseDeviceConfig } from "../../device/config";
import { type DeviceService, startDeviceService } from "../../device/service";
import { encodeCommand, parseState, topics } from "../../protocol";
import { memoryLogger } from "../../protocol/log";
import { WEB_CLIENT_ID } from "../../protocol/ids";
import { type TestBroker, startTestBroker } from "../support/broker";
import { collect, publish, type Received, subscribe } from "../support/mqtt";
import { waitUntil } from "../support/wait";

// A command whose output write fails (a GPIO line another program holds, a full or read-only state directory):
// the device must answer it anyway with the value that is true, so the page stops waiting and shows the real
// state, keep running, and apply the next command once the line works again (device/service.ts).
describe("a device whose output write fails", () => {
  let broker: TestBroker;
  let device: DeviceService | undefined;
  let web: MqttClient;
  let seen: Received[];
  const log = memoryLogger();
  let ledFile = "";

  const stateWithReq = (req: string) =>
    seen
      .filter((m) => m.topic === topics.state("sim1", "led"))
      .map((m) => parseState(m.payload))
      .find((p) => p.ok && p.value.req === req);

  before(async () => {
    broker = await startTestBroker("device-write-failure", {
      devices: [{ id: "sim1", outputs: ["led"], inputs: [] }],
    });
    ledFile = join(broker.dir, "led");
    const cert = await broker.client("sim1");
    device = await startDeviceService({
      config: parseDeviceConfig({
        deviceId: "sim1",
        broker: { url: broker.url, ca: broker.caFile, cert: cert.cert, key: cert.key },
        outputs: [{ name: "led", safeState: "off", backend: { type: "simulated", file: ledFile } }],
        inputs: [],
        stateDir: join(broker.dir, "sim1"),
      }),
      log,
    });
    web = await broker.connect(WEB_CLIENT_ID);
    seen = collect(web);
    await subscribe(web, [topics.state("sim1", "+"), topics.status("sim1")]);
    await waitUntil(
      () => seen.some((m) => m.topic === topics.status("sim1") && m.payload === "online"),
      "sim1 online (subscribed)",
    );
  });

  after(async () => {
    web?.end(true);
    await device?.stop();
    await broker?.cleanup();
  });

  it("answers the command with the value that is still true, logs why, and applies the next one once it can", async () => {
    assert.equal(readFileSync(ledFile, "utf8"), "off\n");
    // The simulated line's file becomes a directory with something in it: the write's rename over it fails
    // (EISDIR), as root too.
    rmSync(ledFile);
    mkdirSync(ledFile);
    writeFileSync(join(ledFile, "held"), "");
    assert.deepEqual(await publish(web, topics.set("sim1", "led"), encodeCommand({ value: "on", req: "fails" })), {
      ok: true,
    });
    const answer = await waitUntil(() => stateWithReq("fails"), "a state naming the failed command's req");
    assert.ok(answer.ok);
    assert.equal(answer.value.value, "off", "the value that is true, not the one asked for");
    assert.deepEqual(device?.states(), { led: "off" });
    const failed = log.entries.filter((e) => e.event === "output write failed; state unchanged");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.output, "led");
    assert.equal(
      log.entries.some((e) => e.event === "applied command" && e.req === "fails"),
      false,
      "not logged as applied",
    );
    // The line works again: the next command is applied as usual.
    rmSync(ledFile, { recursive: true });
    assert.deepEqual(await publish(web, topics.set("sim1", "led"), encodeCommand({ value: "on", req: "works" })), {
      ok: true,
    });
    const next = await waitUntil(() => stateWithReq("works"), "the next command's state");
    assert.ok(next.ok);
    assert.equal(next.value.value, "on");
    assert.equal(readFileSync(ledFile, "utf8"), "on\n");
    assert.equal(device?.isConnected(), true);
  });
});
