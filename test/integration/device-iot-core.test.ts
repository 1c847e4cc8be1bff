// The device service with the config infra renders for broker iot-core (infra/render/device-config.ts, through
// device/config.ts's schema) needs nothing else to reach AWS IoT Core: against a stand-in for the ATS endpoint
// (test/support/iot-endpoint.ts: mutual TLS, IoT Core's rules for CONNECT and SUBSCRIBE) it connects with its thing
// name as the client id, over MQTT 5, trusting only the CA file it was given, and subscribes to its commands at QoS 1.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deviceConfig } from "../../infra/render/device-config";
import { createCa, issueCert } from "../../infra/render/x509";
import { iotThingName, subscriptions } from "../../protocol";
import { type DeviceService, startDeviceService } from "../../device/service";
import { type IotEndpointStandIn, standInIotEndpoint } from "../support/iot-endpoint";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";

const THING = iotThingName("diy-device-cloud-test", "pi1");

describe("device service on AWS IoT Core (a stand-in endpoint)", () => {
  const tmp = tempDir("device-iot-core");
  let endpoint: IotEndpointStandIn;
  let service: DeviceService | undefined;

  before(async () => {
    const issuer = await createCa({ commonName: "AWS IoT issuer stand-in", days: 2 });
    const thing = await issueCert(issuer, { commonName: "iot-stand-in", kind: "client", days: 2 });
    endpoint = await standInIotEndpoint(tmp.dir, issuer.certPem, THING);
    const paths = {
      ca: endpoint.caFile,
      cert: join(tmp.dir, "device.pem"),
      key: join(tmp.dir, "device.key"),
      stateDir: join(tmp.dir, "state"),
    };
    writeFileSync(paths.cert, thing.certPem);
    writeFileSync(paths.key, thing.keyPem, { mode: 0o600 });
    mkdirSync(paths.stateDir);
    const config = deviceConfig({
      deviceId: "pi1",
      board: "generic",
      broker: { host: "localhost", port: endpoint.port, clientId: THING },
      outputs: [{ name: "led", safeState: "off", backend: { type: "simulated" } }],
      inputs: [],
      paths,
    });
    service = await startDeviceService({ config });
  });

  after(async () => {
    await service?.stop();
    await endpoint?.close();
    tmp.cleanup();
  });

  it("connects as its thing over MQTT 5 and subscribes to its own commands at QoS 1", async () => {
    await waitUntil(() => endpoint.subscribed.length > 0, "a subscription at the endpoint");
    assert.deepEqual(
      endpoint.attempts.map((c) => [c.protocolLevel, c.clientId]),
      [[5, THING]],
    );
    assert.deepEqual(
      endpoint.subscribed,
      subscriptions.device("pi1").map((filter) => ({ filter, qos: 1 })),
    );
  });
});
