import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseDeviceConfig } from "../../device/config";
import { silentLogger } from "../../device/log";
import { type DeviceService, startDeviceService } from "../../device/service";
import { type TestBroker, startTestBroker } from "../support/broker";
import { waitUntil } from "../support/wait";

// A device stopping while its broker does not answer (frozen, or gone without closing the connection): the
// retained "offline" it publishes on the way out is never acknowledged, and mqtt.js's end(false) waits for
// every in-flight message's PUBACK. The stop must still finish, or `systemctl stop`, the demo's Ctrl-C and
// every test that stops a device hang with it.
describe("a device stopping while the broker does not answer", () => {
  let broker: TestBroker;
  let device: DeviceService | undefined;
  let brokerPid = 0;

  before(async () => {
    broker = await startTestBroker("device-stop", { devices: [{ id: "sim1", outputs: ["led"], inputs: [] }] });
    const cert = await broker.client("sim1");
    device = await startDeviceService({
      config: parseDeviceConfig({
        deviceId: "sim1",
        broker: { url: broker.url, ca: broker.caFile, cert: cert.cert, key: cert.key },
        outputs: [{ name: "led", safeState: "off", backend: { type: "simulated", file: join(broker.dir, "led") } }],
        inputs: [],
        stateDir: join(broker.dir, "sim1"),
      }),
      log: silentLogger,
    });
    await waitUntil(() => device?.isConnected() === true, "sim1 connected");
    brokerPid = Number(execFileSync("pgrep", ["-f", `mosquitto -c ${broker.confPath}`], { encoding: "utf8" }).trim());
  });

  after(async () => {
    if (brokerPid) process.kill(brokerPid, "SIGCONT");
    await broker?.cleanup();
  });

  it("finishes its stop although the broker never acknowledges the offline status", async () => {
    process.kill(brokerPid, "SIGSTOP"); // the TCP connection stays open; nothing is answered
    const outcome = await Promise.race([
      device?.stop().then(() => "stopped"),
      new Promise((r) => setTimeout(() => r("still waiting after 30 s"), 30_000).unref()),
    ]);
    assert.equal(outcome, "stopped");
    assert.equal(device?.isConnected(), false, "the connection is closed, not left open");
  });
});
