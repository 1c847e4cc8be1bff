import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAX_PAYLOAD_BYTES,
  aclModel,
  bridgeIdentity,
  encodeState,
  isDeviceId,
  parseCommand,
  parseState,
  parseStatus,
  parseTopic,
  subscriptions,
  topics,
} from "../../protocol";

describe("protocol topics", () => {
  it("builds and parses every topic kind back to its parts", () => {
    assert.deepEqual(parseTopic(topics.set("pi1", "led")), { kind: "set", deviceId: "pi1", name: "led" });
    assert.deepEqual(parseTopic(topics.state("pi1", "led")), { kind: "state", deviceId: "pi1", name: "led" });
    assert.deepEqual(parseTopic(topics.input("pi1", "button")), { kind: "input", deviceId: "pi1", name: "button" });
    assert.deepEqual(parseTopic(topics.status("pi1")), { kind: "status", deviceId: "pi1" });
  });
  it("returns undefined for topics outside the protocol", () => {
    for (const t of [
      "",
      "devices",
      "devices/pi1",
      "other/pi1/status",
      "devices/pi1/out/led",
      "devices/pi1/out/led/x",
      "devices//status",
    ]) {
      assert.equal(parseTopic(t), undefined, t);
    }
  });
  it("subscribes a device to its own commands only", () => {
    assert.deepEqual(subscriptions.device("pi1"), ["devices/pi1/out/+/set"]);
  });
});

describe("protocol ids", () => {
  it("accepts lowercase tokens and refuses wildcards, slashes, reserved names", () => {
    for (const ok of ["pi1", "bbb-kitchen", "a", "x9"]) assert.ok(isDeviceId(ok), ok);
    for (const bad of ["", "Pi1", "pi/1", "pi+", "pi#", "-pi", "pi-", "web", "has space", "a".repeat(33), "$sys"]) {
      assert.ok(!isDeviceId(bad), bad);
    }
  });

  it("gives a bridge connection an identity no device can have (the broker binds client id to it)", () => {
    for (const id of ["pi1", "bridge1", "a", "x-bridge"]) {
      const identity = bridgeIdentity(id);
      assert.notEqual(identity, id);
      assert.equal(isDeviceId(identity), false, identity);
    }
  });
});

describe("protocol payloads", () => {
  it("accepts a well-formed command and refuses anything else with a reason", () => {
    assert.deepEqual(parseCommand('{"value":"toggle","req":"r1"}'), {
      ok: true,
      value: { value: "toggle", req: "r1" },
    });
    const bad = [
      '{"value":"blink","req":"r1"}',
      '{"value":"on"}',
      "not json",
      '{"value":"on","req":"r1","extra":1}',
      "[]",
      "null",
    ];
    for (const p of bad) {
      const r = parseCommand(p);
      assert.equal(r.ok, false, p);
      if (!r.ok) assert.ok(r.error.length > 0);
    }
  });
  it("refuses payloads over the size limit before parsing", () => {
    const r = parseCommand(JSON.stringify({ value: "on", req: "x".repeat(MAX_PAYLOAD_BYTES) }));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /over the 1024-byte limit/);
  });
  it("round-trips a state payload", () => {
    const at = new Date("2026-01-02T03:04:05.000Z");
    const r = parseState(encodeState("on", "r7", at));
    assert.deepEqual(r, { ok: true, value: { value: "on", req: "r7", at: "2026-01-02T03:04:05.000Z" } });
  });
  it("reads status as plain text", () => {
    assert.deepEqual(parseStatus("offline"), { ok: true, value: "offline" });
    assert.equal(parseStatus('"online"').ok, false);
  });
});

describe("protocol ACL model", () => {
  it("gives each device exactly its configured names, web every set, a bridge only its children's names", () => {
    const m = aclModel({
      devices: [{ id: "pi1", outputs: ["led"], inputs: ["button"], sensors: ["cpu"] }],
      bridges: [{ id: "br1", children: [{ id: "ard1", outputs: ["relay"], inputs: [] }] }],
    });
    assert.deepEqual(m.users.find((u) => u.username === "pi1")?.rules, [
      { access: "read", topic: "devices/pi1/out/led/set" },
      { access: "write", topic: "devices/pi1/out/led/state" },
      { access: "write", topic: "devices/pi1/in/button" },
      { access: "write", topic: "devices/pi1/sensor/cpu" },
      { access: "write", topic: "devices/pi1/status" },
    ]);
    const web = m.users.find((u) => u.username === "web");
    assert.ok(web?.rules.some((r) => r.access === "write" && r.topic === "devices/+/out/+/set"));
    const br = m.users.find((u) => u.username === "br1:bridge");
    assert.ok(br);
    assert.ok(br.rules.every((r) => r.topic.startsWith("devices/ard1/")));
    assert.ok(
      m.users.every((u) => u.username === "web" || u.rules.every((r) => !/[+#]/.test(r.topic))),
      "only the web app has wildcards",
    );
  });

  it("denies a revoked device everything by name, its bridge connection too, and grants it nothing", () => {
    const m = aclModel({
      devices: [
        { id: "pi1", outputs: ["led"], inputs: [] },
        { id: "gw1", outputs: ["led"], inputs: [] },
        { id: "pi2", outputs: ["led"], inputs: [] },
      ],
      bridges: [{ id: "gw1", children: [{ id: "ard1", outputs: ["relay"], inputs: [] }] }],
      revoked: ["pi1", "gw1"],
    });
    const rules = (u: string) => m.users.filter((x) => x.username === u).map((x) => x.rules);
    for (const u of ["pi1", "gw1", "gw1:bridge"]) assert.deepEqual(rules(u), [[{ access: "deny", topic: "#" }]], u);
    assert.equal(rules("pi2")[0]?.length, 3, "pi2 keeps its rights");
  });

  it("refuses a device id or name that is not one topic level", () => {
    assert.throws(() => aclModel({ devices: [{ id: "pi+", outputs: [], inputs: [] }] }), /not a device id/);
    assert.throws(
      () => aclModel({ devices: [{ id: "pi1", outputs: ["+"], inputs: [] }] }),
      /invalid output\/input\/sensor/,
    );
    assert.throws(
      () => aclModel({ devices: [{ id: "pi1", outputs: [], inputs: ["a/b"] }] }),
      /invalid output\/input\/sensor/,
    );
    assert.throws(() => aclModel({ devices: [{ id: "pi1", outputs: [], inputs: [], sensors: ["#"] }] }), /sensor name/);
  });
});
