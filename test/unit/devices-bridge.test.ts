import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  renderBridgeAcl,
  renderBridgeMosquittoConf,
  renderBridgePasswords,
  type BridgeMosquittoInput,
} from "../../infra/render/bridge-mosquitto";
import { assertHasLines, assertRenderedHeader } from "../support/rendered";

const input: BridgeMosquittoInput = {
  bridgeId: "pib",
  lanAddress: "192.168.1.50",
  lanPort: 1883,
  cloud: { host: "203.0.113.10", port: 8883 },
  children: [
    { id: "ard1", outputs: ["relay"], inputs: ["door"] },
    { id: "ard2", outputs: ["led"], inputs: [] },
  ],
  source: "stack dev, device pib",
};

describe("bridge mosquitto drop-in renderer", () => {
  const conf = renderBridgeMosquittoConf(input);
  const rows = conf.split("\n");

  it("starts with a header naming the renderer and the stack", () => {
    assertRenderedHeader(conf, "infra/render/bridge-mosquitto.ts", "stack dev, device pib");
  });

  it("listens in plain MQTT on the LAN address only, with passwords and the ACL", () => {
    assertHasLines(rows, [
      "listener 1883 192.168.1.50",
      "allow_anonymous false",
      "password_file /etc/mosquitto/diy-bridge/passwd",
      "acl_file /etc/mosquitto/diy-bridge/acl",
    ]);
    assert.equal(rows.filter((r) => r.startsWith("listener ")).length, 1);
  });

  it("bridges to the cloud with mutual TLS under the bridge identity's own certificate", () => {
    assertHasLines(rows, [
      "connection diy-cloud",
      "address 203.0.113.10:8883",
      "remote_clientid pib:bridge",
      "bridge_protocol_version mqttv50",
      "bridge_cafile /etc/mosquitto/diy-bridge/ca.pem",
      "bridge_certfile /etc/mosquitto/diy-bridge/bridge.pem",
      "bridge_keyfile /etc/mosquitto/diy-bridge/bridge.key",
      "bridge_tls_version tlsv1.2",
      "bridge_insecure false",
    ]);
  });

  it("relays exactly its children's configured topics, name by name: commands in, state, inputs and status out", () => {
    assert.deepEqual(
      rows.filter((r) => r.startsWith("topic ")),
      [
        "topic devices/ard1/out/relay/set in 1",
        "topic devices/ard1/out/relay/state out 1",
        "topic devices/ard1/in/door out 1",
        "topic devices/ard1/status out 1",
        "topic devices/ard2/out/led/set in 1",
        "topic devices/ard2/out/led/state out 1",
        "topic devices/ard2/status out 1",
      ],
    );
    assert.ok(!/^topic [^\n]*[+#]/m.test(conf), "no wildcard");
  });

  it("refuses to listen on every interface, an empty or duplicate child list, and itself as a child", () => {
    for (const lanAddress of ["0.0.0.0", "::"]) {
      assert.throws(
        () => renderBridgeMosquittoConf({ ...input, lanAddress }),
        /would listen on every interface; give the board's LAN address/,
      );
    }
    assert.throws(() => renderBridgeMosquittoConf({ ...input, children: [] }), /bridge pib has no children/);
    assert.throws(
      () =>
        renderBridgeMosquittoConf({
          ...input,
          children: [
            { id: "a1", outputs: [], inputs: [] },
            { id: "a1", outputs: [], inputs: [] },
          ],
        }),
      /child ids must be unique/,
    );
    const child = (id: string) => [{ id, outputs: [], inputs: [] }];
    assert.throws(() => renderBridgeMosquittoConf({ ...input, children: child("pib") }), /cannot be its own child/);
    assert.throws(() => renderBridgeMosquittoConf({ ...input, children: child("web") }), /not a valid device id/);
  });
});

describe("bridge LAN ACL and passwords", () => {
  it("gives each child username exactly a device's rules on its own configured topics", () => {
    const acl = renderBridgeAcl({ bridgeId: "pib", children: [{ id: "ard1", outputs: ["led"], inputs: ["door"] }] });
    assert.match(acl, /^# Rendered by diy-device-cloud infra\/render\/bridge-mosquitto.ts/);
    assert.deepEqual(
      acl.split("\n").filter((l) => /^(user|topic|pattern) /.test(l)),
      [
        "user ard1",
        "topic read devices/ard1/out/led/set",
        "topic write devices/ard1/out/led/state",
        "topic write devices/ard1/in/door",
        "topic write devices/ard1/status",
      ],
    );
  });

  it("writes user:password lines and refuses passwords mosquitto_passwd or a sketch would mangle", () => {
    assert.equal(
      renderBridgePasswords({ bridgeId: "pib", children: [{ id: "ard1", password: "abcdefghijkl" }] }),
      "ard1:abcdefghijkl\n",
    );
    for (const password of ["short", "has:colon-inside", "has space inside"]) {
      assert.throws(
        () => renderBridgePasswords({ bridgeId: "pib", children: [{ id: "ard1", password }] }),
        /LAN password of ard1/,
      );
    }
  });
});
