import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { BrokerLink } from "../../apps/web/broker";
import { memoryLogger } from "../../apps/web/log";
import { DeviceStore } from "../../apps/web/state";
import type { DeviceConfigInput } from "../../device/config";
import { bundle } from "../../infra/bundle";
import { WEB_CLIENT_ID, encodeCommand, subscriptions, topics } from "../../protocol";
import { type LocalBroker, type LocalPki, ensureLocalPki, startLocalBroker } from "../support/broker";
import { connectWithFiles, publish } from "../support/mqtt";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";

// What our MQTT clients put on the wire, read from the real mosquitto's own log at `log_type all`
// (mosquitto.conf(5): debug lines "Received PUBLISH from <client> (d0, q1, r1, m2, '<topic>', ...)",
// "Received PUBACK from <client> (Mid: <n>, RC:<n>)", "Received SUBSCRIBE from <client>" followed by
// "\t<filter> (QoS <n>)"). mosquitto handles a connection's packets in the order they arrive, so the
// log's order is the order on the wire.
describe("our clients on the wire, as the real mosquitto logs them", () => {
  const tmp = tempDir("mqtt-wire", { daemonsMayEnter: true });
  let pki: LocalPki;
  let broker: LocalBroker;
  let device: ChildProcess | undefined;
  let commander: MqttClient | undefined;
  let link: BrokerLink | undefined;

  before(async () => {
    pki = await ensureLocalPki(join(tmp.dir, "pki"));
    broker = await startLocalBroker({
      dir: join(tmp.dir, "broker"),
      pki,
      source: "mqtt-wire test",
      devices: [{ id: "sim1", outputs: ["led"], inputs: [] }],
    });
    // The rendered file as shipped, plus mosquitto's debug logging (which packets arrive, in order).
    await broker.stop();
    appendFileSync(broker.confPath, "log_type all\n");
    await broker.start();
  });

  after(async () => {
    device?.kill("SIGKILL");
    commander?.end(true);
    await link?.close();
    await broker?.stop();
    tmp.cleanup();
  });

  it("the device's state answering a command arrives before its PUBACK for that command", async () => {
    const state = join(tmp.dir, "state");
    mkdirSync(state);
    const bundlePath = join(tmp.dir, "device.js");
    writeFileSync(bundlePath, bundle("device").code);
    const creds = await pki.client("sim1");
    const config: DeviceConfigInput = {
      deviceId: "sim1",
      broker: { url: broker.url, ca: pki.ca, cert: creds.cert, key: creds.key },
      outputs: [{ name: "led", safeState: "off", backend: { type: "simulated" } }],
      inputs: [],
      keepaliveSeconds: 10,
      stateDir: state,
    };
    writeFileSync(join(tmp.dir, "device.json"), JSON.stringify(config));
    device = spawn(process.execPath, [bundlePath, "--config", join(tmp.dir, "device.json")], { stdio: "ignore" });
    await waitUntil(() => /Received SUBSCRIBE from sim1/.test(broker.output()), "the device subscribed");
    commander = await connectWithFiles(
      broker.port,
      { ca: pki.ca, ...(await pki.client(WEB_CLIENT_ID)) },
      WEB_CLIENT_ID,
    );
    const from = broker.output().length;
    for (const [i, value] of (["on", "off", "toggle"] as const).entries()) {
      assert.deepEqual(await publish(commander, topics.set("sim1", "led"), encodeCommand({ value, req: `w${i}` })), {
        ok: true,
      });
    }
    const sim1 = () =>
      broker
        .output()
        .slice(from)
        .split("\n")
        .filter((l) => / from sim1 /.test(l));
    await waitUntil(() => sim1().filter((l) => l.includes("PUBACK")).length === 3, "three PUBACKs from sim1");
    // Per command: mosquitto sent it with a message id (its "Sending PUBLISH to sim1 (... m<id> ...)"), and
    // the device's lines about that id and its state come as PUBLISH (state) then PUBACK (Mid: id).
    const sent = [
      ...broker
        .output()
        .slice(from)
        .matchAll(/Sending PUBLISH to sim1 \(d0, q1, r0, m(\d+), '[^']+\/set'/g),
    ].map((m) => m[1]);
    assert.equal(sent.length, 3, broker.output().slice(from));
    const lines = sim1();
    for (const mid of sent) {
      const ack = lines.findIndex((l) => l.includes(`Received PUBACK from sim1 (Mid: ${mid},`));
      assert.ok(ack > 0, `PUBACK for m${mid}\n${lines.join("\n")}`);
      assert.ok(
        (lines[ack - 1] ?? "").includes(`Received PUBLISH from sim1 (d0, q1, r1, `) &&
          (lines[ack - 1] ?? "").includes(`'${topics.state("sim1", "led")}'`),
        `the line before the PUBACK for m${mid} is the state it answers\n${lines.join("\n")}`,
      );
    }
  });

  it("the web app subscribes the device topics at QoS 0 (a clean session: QoS 1 would add only a PUBACK each)", async () => {
    const from = broker.output().length;
    // The commander above holds the web identity's client id; the broker binds it to one connection.
    commander?.end(true);
    commander = undefined;
    const files = await pki.client(WEB_CLIENT_ID);
    link = new BrokerLink(
      broker.url,
      { ca: readFileSync(pki.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) },
      new DeviceStore([{ id: "sim1", outputs: ["led"], inputs: [] }]),
      memoryLogger(),
    );
    await waitUntil(() => /Received SUBSCRIBE from web/.test(broker.output().slice(from)), "the web app subscribed");
    const log = broker.output().slice(from);
    for (const filter of subscriptions.web)
      assert.ok(log.includes(`\t${filter} (QoS 0)`), `${filter} at QoS 0\n${log}`);
  });
});
