import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DeviceConfigInput, parseDeviceConfig } from "../../device/config";

const valid: DeviceConfigInput = {
  deviceId: "pi1",
  broker: {
    url: "mqtts://203.0.113.10:8883",
    ca: "/etc/diy-device/ca.pem",
    cert: "/etc/diy-device/device.pem",
    key: "/etc/diy-device/device.key",
  },
  outputs: [
    { name: "led", safeState: "off", backend: { type: "gpiod", line: "GPIO17", activeLow: false, bias: "disable" } },
    { name: "act", safeState: "on", backend: { type: "led", led: "ACT" } },
    { name: "relay", safeState: "off", backend: { type: "sysfs", gpio: 529 } },
    { name: "sim", safeState: "off", backend: { type: "simulated", file: "/var/lib/diy-device/led.state" } },
  ],
  inputs: [{ name: "button", backend: { type: "gpiod", line: "GPIO27", bias: "pull-up" } }],
  keepaliveSeconds: 30,
  stateDir: "/var/lib/diy-device",
};

// Each case edits a deep path of a copy; a loose type keeps those one-liners readable.
// biome-ignore lint/suspicious/noExplicitAny: test fixture mutation
type Loose = any;

function withChange(change: (c: Loose) => void): unknown {
  const c = structuredClone(valid) as Loose;
  change(c);
  return c;
}

describe("device config", () => {
  it("accepts the documented example with every backend type", () => {
    assert.deepEqual(parseDeviceConfig(valid), valid);
  });

  it("refuses bad values with a message naming the key", () => {
    const cases: [string, (c: Loose) => void, RegExp][] = [
      [
        "reserved id",
        (c) => {
          c.deviceId = "web";
        },
        /deviceId/,
      ],
      [
        "plain mqtt",
        (c) => {
          c.broker.url = "mqtt://h:1883";
        },
        /TLS only[\s\S]*broker\.url/,
      ],
      [
        "relative cert path",
        (c) => {
          c.broker.cert = "device.pem";
        },
        /absolute[\s\S]*broker\.cert/,
      ],
      [
        "unknown backend",
        (c) => {
          c.outputs[0].backend = { type: "pwm" };
        },
        /outputs\[0\]\.backend/,
      ],
      [
        "kernel LED as an input",
        (c) => {
          c.inputs[0].backend = { type: "led", led: "x" };
        },
        /inputs\[0\]\.backend/,
      ],
      [
        "duplicate output",
        (c) => {
          c.outputs[1].name = "led";
        },
        /unique[\s\S]*outputs/,
      ],
      [
        "bad safe state",
        (c) => {
          c.outputs[0].safeState = "toggle";
        },
        /outputs\[0\]\.safeState/,
      ],
      [
        "unknown key",
        (c) => {
          c.extra = 1;
        },
        /extra/,
      ],
      [
        "led name with a slash",
        (c) => {
          c.outputs[1].backend.led = "../x";
        },
        /outputs\[1\]\.backend\.led/,
      ],
    ];
    for (const [what, change, message] of cases) {
      assert.throws(() => parseDeviceConfig(withChange(change)), message, what);
    }
  });
});
