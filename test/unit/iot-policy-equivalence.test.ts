// The IoT Core policies grant exactly what the mosquitto ACL grants. For every identity of a stack (the web
// app, each device, each bridge connection, a revoked device), the rendered acl_file is read
// by the mosquitto ACL double (mosquitto-acl-double.ts, src/security_default.c) and the rendered policies by
// the IoT policy double (iot-policy-double.ts, the developer guide's rules), and both are asked the same
// question for every topic a client could try: may this identity publish it, may it read it. The two sets of
// (action, topic) pairs must be equal, so the brokers can never drift apart. Home Assistant has no IoT Core
// identity (its discovery subscribes more filters than one connection holds): the renderer refuses it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type IotArnContext,
  IOT_POLICY_MAX_CHARS,
  iotIdentities,
  policyChars,
  renderIotPolicies,
} from "../../infra/render/iot-policy";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import {
  type AclStack,
  type DeviceAcl,
  HA_COMPONENTS,
  HA_STATUS_TOPIC,
  HOME_ASSISTANT_CLIENT_ID,
  WEB_CLIENT_ID,
  aclModel,
  bridgeIdentity,
  haTopics,
  iotPresenceTopics,
  iotThingName,
  parseTopic,
  topics,
} from "../../protocol";
import { type IotClientDouble, iotClient } from "./iot-policy-double";
import { parseMosquittoAcl } from "./mosquitto-acl-double";

const CTX: IotArnContext = { partition: "aws", region: "eu-central-1", accountId: "123456789012" };
const ARN = `arn:${CTX.partition}:iot:${CTX.region}:${CTX.accountId}:`;
const PREFIX = "diy-device-cloud-dev";

/** Several devices, sensors, a bridge with children, a revoked device. */
const pi1: DeviceAcl = { id: "pi1", outputs: ["led", "relay"], inputs: ["button"], sensors: ["temp"] };
const bbb1: DeviceAcl = { id: "bbb1", outputs: ["usr0"], inputs: [], sensors: [] };
const gw1: DeviceAcl = { id: "gw1", outputs: ["led"], inputs: [], sensors: ["cpu"] };
const ard1: DeviceAcl = { id: "ard1", outputs: ["led", "fan"], inputs: ["door"], sensors: ["hum"] };
const ard2: DeviceAcl = { id: "ard2", outputs: ["relay"], inputs: [], sensors: [] };
const pi9: DeviceAcl = { id: "pi9", outputs: ["led"], inputs: [], sensors: [] };
const FULL: AclStack = {
  devices: [pi1, bbb1, gw1, pi9],
  bridges: [{ id: "gw1", children: [ard1, ard2] }],
  revoked: ["pi9"],
};

/**
 * Every topic a client of this stack could try: each kind of protocol topic for every id (configured, a
 * child, the web app's, an outsider's) and every name (configured and invented), the same with a level too
 * many or too few, Home Assistant's configs (ours, another node's, one level too deep), its status, the
 * broker's `$` trees and a topic outside the protocol.
 */
function universe(stack: AclStack): string[] {
  const devices = [...stack.devices, ...(stack.bridges ?? []).flatMap((b) => b.children)];
  const ids = [...new Set([...devices.map((d) => d.id), WEB_CLIENT_ID, "outsider", "out", "status"])];
  const names = [...new Set([...devices.flatMap((d) => [...d.outputs, ...d.inputs, ...(d.sensors ?? [])]), "junk"])];
  const out: string[] = [];
  for (const id of ids) {
    out.push(topics.device(id), topics.status(id), `${topics.status(id)}/x`, `${topics.device(id)}/x/status`);
    for (const n of names) {
      for (const t of [topics.set(id, n), topics.state(id, n), topics.input(id, n), topics.sensor(id, n)])
        out.push(t, `${t}/x`, t.replace(`/${id}/`, `/${id}/x/`));
      out.push(
        `${topics.device(id)}/out/${n}`,
        `${topics.device(id)}/out/${n}/x/set`,
        `${topics.device(id)}/in/a/${n}`,
      );
    }
  }
  const objectIds = [...devices.flatMap((d) => [...d.outputs, ...d.inputs].map((n) => `${d.id}_${n}`)), "x_y"];
  for (const c of [...HA_COMPONENTS, "light"])
    for (const o of objectIds) {
      const ours = haTopics.ourConfigs()[0]?.replace("switch", c).replace("+", o) ?? "";
      out.push(ours, ours.replace("/config", "/x/config"), `homeassistant/${c}/other-node/${o}/config`);
    }
  out.push(HA_STATUS_TOPIC, "homeassistant/status/x", "homeassistant", "$SYS/broker/uptime", "x/y", "devices");
  return [...new Set(out)];
}

interface Identity {
  identity: string;
  mosquitto: { write: (t: string) => boolean; read: (t: string) => boolean };
  iot: IotClientDouble;
  thingName: string;
}

function identitiesOf(stack: AclStack): Identity[] {
  const model = aclModel(stack);
  const acl = parseMosquittoAcl(renderMosquittoAcl(model));
  return iotIdentities(model, PREFIX).map((id) => {
    const docs = renderIotPolicies(CTX, id);
    for (const d of docs) assert.ok(policyChars(d) <= IOT_POLICY_MAX_CHARS, id.identity);
    // mosquitto: username = CN and client id = username (use_identity_as_username, use_username_as_clientid).
    const who = { username: id.identity, clientId: id.identity };
    return {
      identity: id.identity,
      thingName: id.thingName,
      mosquitto: {
        write: (t: string) => acl.allows(who, "write", t),
        read: (t: string) => acl.allows(who, "read", t),
      },
      iot: iotClient(docs, ARN, { clientId: id.thingName, thingName: id.thingName }),
    };
  });
}

/** The (action, topic) pairs each side grants one identity over a set of topics. */
function grants(id: Identity, topicsToTry: readonly string[]) {
  const pairs = (side: "mosquitto" | "iot") =>
    topicsToTry.flatMap((t) => {
      const write = side === "mosquitto" ? id.mosquitto.write(t) : id.iot.publishes(t);
      const read = side === "mosquitto" ? id.mosquitto.read(t) : id.iot.reads(t);
      return [...(write ? [`publish ${t}`] : []), ...(read ? [`read ${t}`] : [])];
    });
  return { mosquitto: pairs("mosquitto"), iot: pairs("iot") };
}

/** What the protocol retains (DESIGN "Protocol"), written out independently. */
function protocolRetains(t: string): boolean {
  const kind = parseTopic(t)?.kind;
  return kind === "state" || kind === "status" || kind === "sensor";
}

describe("IoT Core policies grant exactly what the mosquitto ACL grants", () => {
  const every = identitiesOf(FULL);
  const tried = universe(FULL);

  it("covers every identity of the stack: web, each device, the bridge connection, the revoked one", () => {
    assert.deepEqual(
      every.map((i) => i.identity).sort(),
      ["bbb1", bridgeIdentity("gw1"), "gw1", "pi1", "pi9", WEB_CLIENT_ID].sort(),
    );
    assert.ok(tried.length > 500, `${tried.length} topics`);
  });

  for (const id of identitiesOf(FULL)) {
    it(`${id.identity}: the same (publish|read, topic) pairs on both brokers`, () => {
      const g = grants(id, tried);
      assert.deepEqual(g.iot, g.mosquitto);
      // Not a vacuous match: every identity but the revoked one is granted something.
      if (id.identity !== "pi9") assert.ok(g.mosquitto.length > 0, `${id.identity} is granted nothing`);
      else assert.deepEqual(g.mosquitto, []);
    });
  }

  it("retains exactly the protocol's retained topics (state, status, sensor), and never a command or an event", () => {
    for (const id of every)
      for (const t of tried) {
        const may = id.mosquitto.write(t) && protocolRetains(t);
        assert.equal(id.iot.publishes(t, { retain: true }), may, `${id.identity} retain ${t}`);
      }
    const web = every.find((i) => i.identity === WEB_CLIENT_ID) as Identity;
    assert.ok(
      web.iot.publishes(topics.set("pi1", "led")) && !web.iot.publishes(topics.set("pi1", "led"), { retain: true }),
    );
    const p = every.find((i) => i.identity === "pi1") as Identity;
    assert.ok(p.iot.publishes(topics.status("pi1"), { retain: true }), "the status and its Last Will are retained");
    assert.ok(!p.iot.publishes(topics.input("pi1", "button"), { retain: true }));
  });

  it("binds the client id to the identity: each connects with its own thing name only; the revoked one not at all", () => {
    for (const id of every) {
      const revoked = id.identity === "pi9";
      assert.equal(id.iot.connects(id.thingName), !revoked, id.identity);
      for (const other of every.filter((o) => o !== id))
        assert.ok(!id.iot.connects(other.thingName), `${id.identity} as ${other.identity}`);
      assert.ok(!id.iot.connects(id.identity), `${id.identity} without the stack prefix`);
    }
    // A certificate not attached to its thing: the thing variable does not resolve, nothing connects.
    const model = aclModel(FULL);
    const pi = iotIdentities(model, PREFIX).find((i) => i.identity === "pi1");
    assert.ok(pi);
    const detached = iotClient(renderIotPolicies(CTX, pi), ARN, { clientId: pi.thingName, thingName: undefined });
    assert.ok(!detached.connects(pi.thingName));
  });

  it("the web app alone reads presence events, and only of this stack's things", () => {
    const presence = (thing: string) => [iotPresenceTopics.connected(thing), iotPresenceTopics.disconnected(thing)];
    for (const id of every)
      for (const thing of every.map((i) => i.thingName))
        for (const t of presence(thing))
          assert.equal(id.iot.reads(t), id.identity === WEB_CLIENT_ID, `${id.identity} ${t}`);
    const web = every.find((i) => i.identity === WEB_CLIENT_ID) as Identity;
    for (const t of [
      ...presence("other-stack:pi1"),
      ...presence(`${PREFIX}x:pi1`),
      `${iotPresenceTopics.connected(`${PREFIX}:pi1`)}/x`,
    ])
      assert.ok(!web.iot.reads(t), t);
    for (const id of every) assert.ok(!id.iot.publishes(iotPresenceTopics.connected(iotThingName(PREFIX, "pi1"))));
  });

  it("holds for any stack: devices with any names, bridges, revocations", () => {
    const IDS = ["pi1", "pi2", "bbb1", "gw1", "ard1", "ard2"];
    const NAMES = ["led", "relay", "button", "temp"];
    const stacks = fc
      .record({
        ids: fc.uniqueArray(fc.constantFrom(...IDS), { minLength: 2, maxLength: IDS.length }),
        io: fc.array(fc.tuple(fc.subarray(NAMES), fc.subarray(NAMES), fc.subarray(NAMES)), {
          minLength: IDS.length,
          maxLength: IDS.length,
        }),
        children: fc.nat(2),
        revoked: fc.nat(2),
      })
      .map(({ ids, io, children, revoked }): AclStack => {
        const all = ids.map((id, i) => {
          const [outputs, inputs, sensors] = io[i] ?? [[], [], []];
          return { id, outputs, inputs, sensors };
        });
        const kids = all.slice(Math.max(2, all.length - children));
        const devices = all.slice(0, all.length - kids.length);
        return {
          devices,
          bridges: kids.length > 0 && devices[0] ? [{ id: devices[0].id, children: kids }] : [],
          revoked: devices.slice(1, 1 + revoked).map((d) => d.id),
        };
      });
    fc.assert(
      fc.property(stacks, (stack) => {
        const t = universe(stack);
        for (const id of identitiesOf(stack)) {
          const g = grants(id, t);
          assert.deepEqual(g.iot, g.mosquitto, id.identity);
        }
      }),
      { numRuns: 12 },
    );
  });

  it("refuses a model with Home Assistant: no IoT Core identity, rather than policies for a client that cannot connect", () => {
    assert.throws(
      () => iotIdentities(aclModel({ ...FULL, homeAssistant: [pi1] }), PREFIX),
      /Home Assistant has no AWS IoT Core identity: .*needs broker mosquitto/,
    );
    // The model itself (mosquitto's) has the identity.
    assert.ok(aclModel({ ...FULL, homeAssistant: [pi1] }).users.some((u) => u.username === HOME_ASSISTANT_CLIENT_ID));
  });
});
