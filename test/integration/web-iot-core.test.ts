// The web app's iot-core broker profile, live: the real web app (broker kind "iot-core") against a real
// mosquitto for the MQTT path and the retained-message API double (test/unit/iot-data-double.ts) for the
// start-up state. As on AWS IoT Core, nothing retained reaches the web app's wildcard subscriptions here: the
// broker holds no retained message, the "cloud" holds them behind the API. Presence comes from
// $aws/events/presence/... messages published by a stand-in for IoT Core's lifecycle publisher. The page's
// HTTP API is asked, unchanged: it does not know which broker is in use.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import type { MqttClient } from "mqtt";
import { memoryLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import type { DeviceView } from "../../apps/web/state";
import {
  WEB_CLIENT_ID,
  aclModel,
  encodeSensor,
  encodeState,
  iotPresenceTopics,
  iotThingName,
  topics,
} from "../../protocol";
import { type IotDataDouble, startIotDataDouble } from "../unit/iot-data-double";
import { type TestBroker, startTestBroker } from "../support/broker";
import { waitUntil } from "../support/wait";
import { login } from "./web-harness";

const PASSWORD = "integration-password";
const SECRET = "integration-session-secret-0123456789";
const PREFIX = "diy-device-cloud-it";
const SIM1 = iotThingName(PREFIX, "sim1");
/** The identity that stands in for IoT Core's own lifecycle publisher. */
const LIFECYCLE = "awsiot";
const AT = "2026-11-30T03:00:00.000Z";

function presence(type: "connected" | "disconnected", versionNumber: number) {
  const topic = type === "connected" ? iotPresenceTopics.connected(SIM1) : iotPresenceTopics.disconnected(SIM1);
  return {
    topic,
    payload: JSON.stringify({
      clientId: SIM1,
      timestamp: Date.now(),
      eventType: type,
      sessionIdentifier: "00000000000000000000000000000000",
      principalIdentifier: "12345678901234567890123456789012",
      versionNumber,
    }),
  };
}

const publish = (c: MqttClient, topic: string, payload: string, retain = false) =>
  new Promise<void>((resolve, reject) =>
    c.publish(topic, payload, { qos: 1, retain }, (err) => (err ? reject(err) : resolve())),
  );

describe("web app, iot-core profile: retained API at start, live MQTT, presence", () => {
  let broker: TestBroker;
  let api: IotDataDouble;
  let web: RunningWeb;
  let sim1: MqttClient;
  let lifecycle: MqttClient;
  const log = memoryLogger();

  before(async () => {
    const devices = [{ id: "sim1", outputs: ["led"], inputs: [], sensors: ["temp"] }];
    const model = aclModel({ devices });
    broker = await startTestBroker("web-iot-core", {
      acl: {
        users: model.users.map((u) =>
          // IoT Core delivers its presence events to the web app (its policy: infra/render/iot-policy.ts).
          u.username === WEB_CLIENT_ID
            ? { ...u, rules: [...u.rules, { access: "read", topic: "$aws/events/presence/#" }] }
            : u,
        ),
      },
      extraAclUsers: [{ username: LIFECYCLE, rules: [{ access: "write", topic: "$aws/events/presence/#" }] }],
    });
    api = await startIotDataDouble();
    // What the cloud retains; the MQTT broker holds none of it (no replay to wildcards, as on IoT Core).
    const retain = (topic: string, payload: string) =>
      api.retained.set(topic, { payload: Buffer.from(payload), qos: 1, lastModifiedTime: Date.parse(AT) });
    retain(topics.state("sim1", "led"), encodeState("on", "r0", new Date(AT)));
    retain(topics.sensor("sim1", "temp"), encodeSensor(19.5, "°C", new Date(AT)));
    retain(topics.status("sim1"), "offline"); // a stale Will the API still holds; presence decides

    const webCert = await broker.client("web");
    sim1 = await broker.connect("sim1");
    lifecycle = await broker.connect(LIFECYCLE);
    web = await startWeb(
      {
        listen: { host: "127.0.0.1", port: 0 },
        broker: {
          kind: "iot-core",
          url: broker.url,
          ca: broker.caFile,
          cert: webCert.cert,
          key: webCert.key,
          iot: { thingPrefix: PREFIX, region: "eu-central-1", dataEndpoint: api.url },
        },
        devices: [{ id: "sim1", outputs: ["led"], inputs: [], sensors: [{ name: "temp" }] }],
        cookieSecure: false,
      },
      {
        password: PASSWORD,
        sessionSecret: SECRET,
        logger: log,
        reconnectMinMs: 200,
        iotDataClient: new IoTDataPlaneClient({
          endpoint: api.url,
          region: "eu-central-1",
          credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
        }),
      },
    );
    await waitUntil(() => web.broker.connected && api.gets.length === 3, "web connected and the state loaded");
    await web.iotCore?.loading;
  });

  after(async () => {
    sim1?.end(true);
    lifecycle?.end(true);
    await web?.close();
    await api?.close();
    await broker?.cleanup();
  });

  async function devicesOverHttp(): Promise<DeviceView[]> {
    const { cookie } = await login(web.url, PASSWORD);
    const res = await fetch(`${web.url}/api/devices`, { headers: { cookie } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { broker: string; devices: DeviceView[] };
    assert.equal(body.broker, "connected");
    return body.devices;
  }

  it("starts from the retained state the API holds, though the broker replays nothing to its wildcards", async () => {
    assert.ok(web.iotCore, "the iot-core profile is on");
    const [d] = await devicesOverHttp();
    assert.equal(d?.outputs[0]?.value, "on");
    assert.equal(d?.outputs[0]?.req, "r0");
    assert.equal(d?.sensors[0]?.value, 19.5);
    assert.equal(d?.online, false, "no presence event yet: the retained status is all there is");
  });

  it("follows live changes by wildcard subscription", async () => {
    await publish(sim1, topics.state("sim1", "led"), encodeState("off", "r1", new Date(Date.parse(AT) + 1000)));
    await waitUntil(() => web.store.get("sim1")?.outputs[0]?.req === "r1", "live state");
    const [d] = await devicesOverHttp();
    assert.equal(d?.outputs[0]?.value, "off");
  });

  it("shows online from presence, and a stale offline Will or disconnect arriving after it changes nothing", async () => {
    const c2 = presence("connected", 2);
    await publish(lifecycle, c2.topic, c2.payload);
    await waitUntil(() => web.store.get("sim1")?.online === true, "online from presence");
    // The previous connection's Last Will (retained offline) and its disconnect event, delivered late.
    await publish(sim1, topics.status("sim1"), "offline", true);
    const d1 = presence("disconnected", 1);
    await publish(lifecycle, d1.topic, d1.payload);
    // Something after them, so they have surely been delivered: a fresh reading.
    await publish(sim1, topics.sensor("sim1", "temp"), encodeSensor(20.25, "°C", new Date()));
    await waitUntil(() => web.store.get("sim1")?.sensors[0]?.value === 20.25, "reading after the stale events");
    assert.equal(web.store.get("sim1")?.online, true);
    assert.equal((await devicesOverHttp())[0]?.online, true);
    // And a real disconnect of the current connection is shown.
    const d2 = presence("disconnected", 2);
    await publish(lifecycle, d2.topic, d2.payload);
    await waitUntil(() => web.store.get("sim1")?.online === false, "offline from presence");
  });
});
