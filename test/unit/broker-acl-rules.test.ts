// The broker ACL's security properties at the unit tier, for any stack: the rendered acl_file is read
// by a double of mosquitto's own evaluation (mosquitto-acl-double.ts) and asked what each identity may
// do. The same properties run against the real broker in broker-acl.test.ts and the attack suite; this
// tier catches an ACL that regresses in a way those fixed stacks do not exercise.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import { type AclStack, WEB_CLIENT_ID, aclModel, bridgeIdentity, topics } from "../../protocol";
import { parseMosquittoAcl, topicMatches } from "./mosquitto-acl-double";

const IDS = ["pi1", "pi2", "bbb1", "gw1", "ard1", "ard2"];
const OUTS = ["led", "relay", "fan"];
const INS = ["button", "door"];

/** A stack: some devices with some names, maybe a bridge relaying children, maybe revoked devices. */
const stacks = fc
  .record({
    ids: fc.uniqueArray(fc.constantFrom(...IDS), { minLength: 2, maxLength: IDS.length }),
    outputs: fc.array(fc.subarray(OUTS), { minLength: IDS.length, maxLength: IDS.length }),
    inputs: fc.array(fc.subarray(INS), { minLength: IDS.length, maxLength: IDS.length }),
    children: fc.nat(2),
    revoked: fc.nat(3),
  })
  .map(({ ids, outputs, inputs, children, revoked }) => {
    const all = ids.map((id, i) => ({ id, outputs: outputs[i] ?? [], inputs: inputs[i] ?? [] }));
    // The first device is a bridge board relaying the last `children` ids (as children, not devices).
    const kids = all.slice(Math.max(2, all.length - children));
    const devices = all.slice(0, all.length - kids.length);
    const stack: AclStack = {
      devices,
      bridges: kids.length > 0 && devices[0] ? [{ id: devices[0].id, children: kids }] : [],
      revoked: devices.slice(1, 1 + revoked).map((d) => d.id),
    };
    return stack;
  });

/** Every topic of a device's subtree an attacker would try: its names, and invented ones. */
function topicsOf(id: string): string[] {
  return [...OUTS, "junk"]
    .flatMap((n) => [topics.set(id, n), topics.state(id, n), topics.input(id, n)])
    .concat([topics.status(id), `${topics.status(id)}/x`]);
}

/** The identities a stack gives out (client id = username = CN: use_username_as_clientid). */
function identities(
  stack: AclStack,
): { who: string; owns: { id: string; outputs: readonly string[]; inputs: readonly string[] }[] }[] {
  const revoked = new Set(stack.revoked);
  return [
    ...stack.devices.map((d) => ({ who: d.id, owns: revoked.has(d.id) ? [] : [d] })),
    ...(stack.bridges ?? []).map((b) => ({
      who: bridgeIdentity(b.id),
      owns: revoked.has(b.id) ? [] : [...b.children],
    })),
    { who: "outsider", owns: [] }, // signed by the CA, not in the stack (removed, or never listed)
  ];
}

describe("broker ACL properties, for any stack (rendered acl_file, mosquitto's evaluation)", () => {
  it("an identity writes exactly its own devices' configured state, inputs and status, and reads only their commands", () => {
    fc.assert(
      fc.property(stacks, (stack) => {
        const acl = parseMosquittoAcl(renderMosquittoAcl(aclModel(stack)));
        const everyDevice = [...stack.devices, ...(stack.bridges ?? []).flatMap((b) => b.children)].map((d) => d.id);
        for (const { who, owns } of identities(stack)) {
          const as = { username: who, clientId: who };
          for (const id of [...everyDevice, "web", "outsider"]) {
            const mine = owns.find((d) => d.id === id);
            for (const topic of topicsOf(id)) {
              const parts = topic.split("/");
              const name = parts[3] ?? "";
              const isState = parts[2] === "out" && parts[4] === "state" && parts.length === 5;
              const isSet = parts[2] === "out" && parts[4] === "set" && parts.length === 5;
              const isInput = parts[2] === "in" && parts.length === 4;
              const isStatus = topic === topics.status(id);
              const mayWrite =
                mine !== undefined &&
                ((isState && mine.outputs.includes(name)) || (isInput && mine.inputs.includes(name)) || isStatus);
              const mayRead = mine !== undefined && isSet && mine.outputs.includes(name);
              assert.equal(acl.allows(as, "write", topic), mayWrite, `${who} write ${topic}`);
              assert.equal(acl.allows(as, "read", topic), mayRead, `${who} read ${topic}`);
            }
          }
          // Nothing outside the protocol's root, and no commands of its own making.
          assert.equal(acl.allows(as, "write", "x/y"), false);
          assert.equal(acl.allows(as, "write", "$SYS/broker/x"), false);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("the web identity commands every device and reads every state, input and status, and writes nothing else", () => {
    fc.assert(
      fc.property(stacks, (stack) => {
        const acl = parseMosquittoAcl(renderMosquittoAcl(aclModel(stack)));
        const web = { username: WEB_CLIENT_ID, clientId: WEB_CLIENT_ID };
        for (const d of stack.devices) {
          assert.ok(acl.allows(web, "write", topics.set(d.id, "led")));
          assert.ok(acl.allows(web, "read", topics.state(d.id, "led")));
          assert.ok(acl.allows(web, "read", topics.status(d.id)));
          assert.ok(!acl.allows(web, "write", topics.state(d.id, "led")));
          assert.ok(!acl.allows(web, "write", topics.status(d.id)));
          assert.ok(!acl.allows(web, "read", topics.set(d.id, "led")));
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("the mosquitto ACL double itself (mosquitto.conf(5), src/security_default.c)", () => {
  it("matches topics the MQTT way", () => {
    assert.ok(topicMatches("a/+/c", "a/b/c"));
    assert.ok(topicMatches("a/#", "a"));
    assert.ok(topicMatches("a/#", "a/b/c"));
    assert.ok(!topicMatches("a/+", "a/b/c"));
    assert.ok(!topicMatches("#", "$SYS/x"));
    assert.ok(topicMatches("$SYS/#", "$SYS/x"));
  });

  it("checks deny rules first, the user's rules before patterns, and refuses wildcard usernames with patterns", () => {
    const acl = parseMosquittoAcl(
      ["topic read public/#", "user u1", "topic readwrite u/#", "topic deny u/secret", "pattern write own/%u/#"].join(
        "\n",
      ),
    );
    assert.ok(acl.allows({ username: "u1", clientId: "c" }, "write", "u/x"));
    assert.ok(!acl.allows({ username: "u1", clientId: "c" }, "read", "u/secret"), "deny before the earlier grant");
    assert.ok(acl.allows({ username: "u1", clientId: "c" }, "write", "own/u1/x"));
    assert.ok(!acl.allows({ username: "u2", clientId: "c" }, "write", "own/u1/x"));
    assert.ok(acl.allows({ username: undefined, clientId: "c" }, "read", "public/x"), "lines before `user`: anonymous");
    assert.ok(!acl.allows({ username: "u1", clientId: "c" }, "read", "public/x"), "... and only anonymous");
    assert.ok(!acl.allows({ username: "a+", clientId: "c" }, "write", "own/a+/x"));
  });
});
