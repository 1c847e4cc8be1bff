import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { BOARDS, type DeviceConfigInput, parseDeviceConfig } from "../../device/config";
import { ConfigError, parseSettings } from "../../infra/config";
import { BOARD_PROFILES } from "../../infra/render/device-board";

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

  it("takes an MQTT client id for AWS IoT Core (the thing name); without one the device id is used", () => {
    const iot = withChange((c) => {
      c.broker.clientId = "diy-device-cloud-dev:pi1";
    });
    assert.equal(parseDeviceConfig(iot).broker.clientId, "diy-device-cloud-dev:pi1");
    assert.equal(parseDeviceConfig(valid).broker.clientId, undefined);
    // That the service connects with it: test/integration/device-iot-core.test.ts.
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
        "client id IoT Core would refuse as a thing name",
        (c) => {
          c.broker.clientId = "stack/pi1";
        },
        /thing name[\s\S]*broker\.clientId/,
      ],
      [
        "client id over IoT Core's 128 bytes",
        (c) => {
          c.broker.clientId = "a".repeat(129);
        },
        /broker\.clientId/,
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

describe("one definition of a backend and a board (device/config.ts)", () => {
  // The stack config builds its device entries on the device config's schemas: a bad value gets the same words on
  // `pulumi preview` as on the board.
  const stackProblem = (device: Record<string, unknown>): string => {
    const raw = {
      adminCidrs: '["198.51.100.7/32"]',
      deviceSshPrivateKey:
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
      devices: JSON.stringify([{ id: "pi1", host: "192.0.2.21", board: "raspberrypi", ...device }]),
    };
    try {
      parseSettings(raw, (k) => pulumi.secret(String(raw[k as keyof typeof raw])));
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems.map((p) => p.problem).join("\n");
    }
    return assert.fail("expected the stack config to be refused");
  };
  const deviceProblem = (change: (c: Loose) => void): string => {
    try {
      parseDeviceConfig(withChange(change));
    } catch (e) {
      return (e as Error).message;
    }
    return assert.fail("expected the device config to be refused");
  };

  it("refuses a bad LED name, GPIO line, sysfs number, activeLow and backend type with the same message", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: "led", led: "../x" }, 'led "../x" is not a kernel LED name (see /sys/class/leds)'],
      [{ type: "gpiod", line: "GPIO 17" }, 'line "GPIO 17" is not a GPIO line name (e.g. GPIO17)'],
      [{ type: "sysfs", gpio: 5000 }, "gpio must be 0-4095, got 5000"],
      [{ type: "gpiod", line: "GPIO17", activeLow: "maybe" }, 'activeLow must be true or false, got "maybe"'],
      [{ type: "pwm" }, 'backend type must be led, gpiod, sysfs or simulated, got "pwm"'],
    ];
    for (const [backend, message] of cases) {
      assert.ok(stackProblem({ outputs: [{ name: "led", backend }] }).includes(message), `stack: ${message}`);
      assert.ok(
        deviceProblem((c) => {
          c.outputs[0].backend = backend;
        }).includes(message),
        `device: ${message}`,
      );
    }
  });

  it("names the boards the stack may use, from the same list the profiles are keyed by", () => {
    assert.deepEqual([...BOARDS].sort(), Object.keys(BOARD_PROFILES).sort());
    assert.match(stackProblem({ board: "arduino" }), /board must be raspberrypi, beaglebone or generic, got "arduino"/);
  });
});
