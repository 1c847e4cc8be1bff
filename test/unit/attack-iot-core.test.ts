// Attack suite, broker iot-core: the device <-> AWS IoT Core boundary as the program builds it. Each client is
// evaluated with the IoT policy double (iot-policy-double.ts: the developer guide's rules) on exactly the policies
// the program attached to its certificate, connected as the thing its certificate is attached to; the stack file
// <-> program boundary refuses ids that would break or borrow a thing name, and Home Assistant (which cannot hold
// its discovery subscriptions on one IoT Core connection), before anything exists.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ConfigError, NAMESPACE } from "../../infra/config";
import { iotNamePrefix, iotThingName, topics } from "../../protocol";
import { configErrorOf, settingsFrom } from "../support/settings";
import { MOCK_ACCOUNT } from "./aws-iot-double";
import { type IotClientDouble, iotClient } from "./iot-policy-double";
import { type Deployment, deployCloud, MOCK_REGION, TEST_SSH_KEY } from "./program-harness";

const PREFIX = iotNamePrefix("diy-device-cloud", "dev");
const ARN = `arn:aws:iot:${MOCK_REGION}:${MOCK_ACCOUNT}:`;
const thing = (identity: string) => iotThingName(PREFIX, identity);

const pi = (id: string) => ({
  id,
  host: `${id}.lan`,
  board: "raspberrypi",
  outputs: [{ name: "led" }],
  inputs: [{ name: "button" }],
});
const RAW = {
  adminCidrs: '["198.51.100.7/32"]',
  broker: "iot-core",
  deviceSshPrivateKey: TEST_SSH_KEY,
  devices: JSON.stringify([
    pi("pi1"),
    pi("pi2"),
    pi("pi3"),
    {
      id: "gw1",
      host: "gw1.lan",
      board: "generic",
      bridge: { lanAddress: "192.0.2.30", children: [{ id: "ard1", outputs: ["relay"], inputs: [] }] },
    },
  ]),
  revokedDevices: '["pi3"]',
};

describe("attack: a board's AWS IoT Core identity, as the program deploys it", () => {
  let d: Deployment;
  /** The certificate's policies and the thing it is attached to, by thing name. */
  let identities: Map<string, { documents: string[]; thingName: string; active: boolean }>;
  /** A client holding `identity`'s certificate, presenting `clientId` (default: its own thing name). */
  const holding = (identity: string, clientId = thing(identity)): IotClientDouble => {
    const id = identities.get(thing(identity));
    assert.ok(id, identity);
    return iotClient(id.documents, ARN, { clientId, thingName: id.thingName });
  };

  before(async () => {
    d = await deployCloud(RAW);
    identities = new Map();
    for (const cert of d.h.ofType("aws:iot/certificate:Certificate")) {
      const attachments = d.h
        .ofType("aws:iot/thingPrincipalAttachment:ThingPrincipalAttachment")
        .filter((a) => a.inputs.principal === cert.state.arn);
      assert.equal(attachments.length, 1, `${cert.name}: one thing`);
      const names = d.h
        .ofType("aws:iot/policyAttachment:PolicyAttachment")
        .filter((a) => a.inputs.target === cert.state.arn)
        .map((a) => a.inputs.policy);
      const documents = d.h
        .ofType("aws:iot/policy:Policy")
        .filter((p) => names.includes(p.inputs.name))
        .map((p) => p.inputs.policy as string);
      const thingName = attachments[0]?.inputs.thing as string;
      identities.set(thingName, { documents, thingName, active: cert.inputs.active });
    }
  });

  test("a device's policy cannot command another device, nor itself, nor write another's state or status", () => {
    const pi1 = holding("pi1");
    assert.equal(pi1.publishes(topics.state("pi1", "led"), { retain: true }), true, "its own state (sanity)");
    assert.equal(pi1.publishes(topics.set("pi2", "led")), false);
    assert.equal(pi1.publishes(topics.set("pi1", "led")), false);
    assert.equal(pi1.publishes(topics.state("pi2", "led"), { retain: true }), false);
    assert.equal(pi1.publishes(topics.status("pi2"), { retain: true }), false);
    assert.equal(pi1.publishes(topics.state("pi1", "invented"), { retain: true }), false, "a name nobody configured");
  });

  test("a device's policy cannot read another device's commands, by exact topic or by wildcard", () => {
    const pi1 = holding("pi1");
    assert.equal(pi1.reads(topics.set("pi1", "led")), true, "its own commands (sanity)");
    assert.equal(pi1.reads(topics.set("pi2", "led")), false);
    assert.equal(pi1.subscribes("devices/+/out/+/set"), false);
    assert.equal(pi1.subscribes("#"), false);
  });

  test("a certificate connects only as its own thing: presenting another device's client id is refused", () => {
    assert.equal(holding("pi1").connects(thing("pi1")), true);
    assert.equal(holding("pi1").connects(thing("pi2")), false);
    assert.equal(holding("pi1").connects(thing("web")), false);
  });

  test("a device cannot retain a command (iot:RetainPublish only on state, status and sensors)", () => {
    const web = holding("web");
    assert.equal(web.publishes(topics.set("pi1", "led")), true, "the web app commands (sanity)");
    assert.equal(web.publishes(topics.set("pi1", "led"), { retain: true }), false);
  });

  test("a bridge connection relays only its children: it cannot command or impersonate a stack device", () => {
    const bridge = holding("gw1:bridge");
    assert.equal(bridge.publishes(topics.state("ard1", "relay"), { retain: true }), true, "its child (sanity)");
    assert.equal(bridge.reads(topics.set("ard1", "relay")), true, "its child's commands (sanity)");
    assert.equal(bridge.publishes(topics.state("pi1", "led"), { retain: true }), false);
    assert.equal(bridge.publishes(topics.set("pi1", "led")), false);
    assert.equal(bridge.reads(topics.set("pi1", "led")), false);
  });

  test("a revoked device's certificate is inactive, and its policy allows nothing even if it were active", () => {
    const revoked = identities.get(thing("pi3"));
    assert.equal(revoked?.active, false);
    assert.equal(identities.get(thing("pi1"))?.active, true);
    const pi3 = holding("pi3");
    assert.equal(pi3.connects(thing("pi3")), false);
    assert.equal(pi3.publishes(topics.status("pi3"), { retain: true }), false);
    assert.equal(pi3.reads(topics.set("pi3", "led")), false);
  });
});

describe("attack: a stack file giving a device an id that would break or borrow a thing name", () => {
  const withId = (id: string) => ({
    ...RAW,
    revokedDevices: "[]",
    devices: JSON.stringify([{ ...pi(id), host: "board.lan" }]),
  });

  for (const [id, why] of [
    ["pi.1", "'.' is no thing-name character"],
    ["Pi1", "upper case"],
    ["gw1:bridge", "would be a bridge connection's thing"],
    ["web", "would be the web app's thing"],
    ["homeassistant", "would be Home Assistant's thing"],
    ["a".repeat(40), "longer than a device id (and its thing name) may be"],
  ] as const) {
    test(`refuses ${JSON.stringify(id)} (${why}) at config, naming devices[0].id`, () => {
      const err = configErrorOf(withId(id));
      assert.deepEqual(
        err.problems.map((p) => p.path),
        ["devices[0].id"],
      );
      assert.match(err.message, new RegExp(`${NAMESPACE}:devices\\[0\\]\\.id`));
    });
  }

  test("a good id at the longest length becomes a valid thing name", () => {
    const id = `p${"1".repeat(31)}`;
    assert.equal(settingsFrom(withId(id)).devices[0]?.id, id);
    assert.match(iotThingName("x".repeat(64), id), /^[a-zA-Z0-9:_-]{1,128}$/);
  });
});

describe("attack: a stack file enabling Home Assistant with broker iot-core", () => {
  // However the stack file spells it (YAML map, pulumi config set --path's strings), it never reaches a deploy:
  // no thing, certificate or policy for a client IoT Core would cut off at its 51st subscription.
  for (const integrations of ['{"homeAssistant":{"enabled":true}}', '{"homeAssistant":{"enabled":"true"}}']) {
    test(`${integrations} is refused before any resource exists, naming integrations.homeAssistant`, async () => {
      await assert.rejects(
        deployCloud({ ...RAW, integrations }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.problems.map((p) => p.path).join() === "integrations.homeAssistant" &&
          /subscriptions on one connection; at most 50/.test(e.message),
      );
    });
  }

  test("the same stack with the integration off deploys, and no identity is Home Assistant's", async () => {
    const d = await deployCloud({ ...RAW, integrations: '{"homeAssistant":{"enabled":false}}' });
    const things = d.h.ofType("aws:iot/thing:Thing").map((r) => r.inputs.name);
    assert.ok(things.includes(thing("pi1")), "deployed (sanity)");
    assert.ok(!things.includes(thing("homeassistant")));
    assert.equal(d.cloud.homeAssistant, undefined);
  });
});
