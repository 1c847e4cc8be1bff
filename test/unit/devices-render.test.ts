import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DeviceConfig } from "../../device/config";
import { backendNeeds, BOARD_PROFILES } from "../../infra/render/device-board";
import { deviceConfig, renderDeviceConfig, type DeviceConfigRenderInput } from "../../infra/render/device-config";
import {
  renderDeviceInstallScript,
  renderDeviceUninstallScript,
  renderRemoteInvocation,
  renderStagedInvocation,
} from "../../infra/render/device-install";
import { parseDevicePayload, renderDevicePayload } from "../../infra/render/device-payload";
import { devicePayload, planDevice } from "../../infra/render/device-plan";
import { renderDeviceUdevRules } from "../../infra/render/device-udev";
import { renderDeviceUnit } from "../../infra/render/device-unit";
import { piInstallScript } from "../support/device-install";
import { assertHasLines, assertRenderedHeader } from "../support/rendered";

/** SHA-256 of a stand-in device bundle. */
const SHA = createHash("sha256").update("console.log(1)").digest("hex");

const broker = { host: "203.0.113.10", port: 8883 };

function config(over: Partial<DeviceConfigRenderInput>): DeviceConfigRenderInput {
  return {
    deviceId: "pi1",
    board: "raspberrypi",
    broker,
    outputs: [{ name: "led", safeState: "off" }],
    inputs: [],
    ...over,
  };
}

/** Outputs with these names, each off when safe and with no backend named. */
const outputsNamed = (...names: string[]) => names.map((name) => ({ name, safeState: "off" as const }));

describe("device config renderer", () => {
  it("drives the Pi's LED through the libgpiod line GPIO17 when the entry names no backend", () => {
    const c = deviceConfig(config({ inputs: [{ name: "button" }] }));
    assert.deepEqual(c.outputs, [{ name: "led", safeState: "off", backend: { type: "gpiod", line: "GPIO17" } }]);
    assert.deepEqual(c.inputs, [
      { name: "button", backend: { type: "gpiod", line: "GPIO27", activeLow: true, bias: "pull-up" } },
    ]);
  });

  it("uses the BeagleBone's user LEDs usr0..usr3 in order, and simulates on a generic board", () => {
    const bbb = deviceConfig(config({ board: "beaglebone", outputs: outputsNamed("a", "b", "c", "d") }));
    assert.deepEqual(
      bbb.outputs.map((o) => o.backend),
      [0, 1, 2, 3].map((n) => ({ type: "led", led: `beaglebone:green:usr${n}` })),
    );
    const gen = deviceConfig(config({ board: "generic", inputs: [{ name: "button" }] }));
    assert.deepEqual(gen.outputs[0]?.backend, { type: "simulated" });
    assert.deepEqual(gen.inputs[0]?.backend, { type: "simulated" });
  });

  it("keeps a configured backend as is (a gpio-led overlay LED on a Pi)", () => {
    const c = deviceConfig(
      config({ outputs: [{ name: "led", safeState: "on", backend: { type: "led", led: "led" } }] }),
    );
    assert.deepEqual(c.outputs[0], { name: "led", safeState: "on", backend: { type: "led", led: "led" } });
  });

  it("points the service at the contract paths and the broker over mqtts", () => {
    const c = JSON.parse(
      renderDeviceConfig(
        config({ broker: { host: "203.0.113.10", port: 8883, servername: "cloud.example.org" }, keepaliveSeconds: 30 }),
      ),
    );
    assert.deepEqual(c.broker, {
      url: "mqtts://203.0.113.10:8883",
      ca: "/etc/diy-device/ca.pem",
      cert: "/etc/diy-device/device.pem",
      key: "/etc/diy-device/device.key",
      servername: "cloud.example.org",
    });
    assert.equal(c.stateDir, "/var/lib/diy-device");
    assert.equal(c.keepaliveSeconds, 30);
    assert.deepEqual(DeviceConfig.parse(c), c, "the device service's own schema accepts it");
  });

  it("says which output needs a backend when the board has no default for it", () => {
    assert.throws(
      () => deviceConfig(config({ outputs: outputsNamed("a", "b") })),
      /device pi1: output b needs a backend \(Raspberry Pi .* has no default for output #2\)/,
    );
    assert.throws(
      () => deviceConfig(config({ board: "beaglebone", inputs: [{ name: "button" }] })),
      /input button needs a backend/,
    );
  });

  it("rejects what the device service would reject, naming the key", () => {
    assert.throws(() => deviceConfig(config({ deviceId: "web" })), /device web: config is invalid: deviceId/);
    assert.throws(
      () =>
        deviceConfig(
          config({
            outputs: [
              { name: "led", safeState: "off" },
              { name: "led", safeState: "off", backend: { type: "simulated" } },
            ],
          }),
        ),
      /outputs: output names must be unique/,
    );
  });

  it("always renders JSON the device schema accepts, for any valid id and board (property)", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}[a-z0-9]$/),
        fc.constantFrom(...(Object.keys(BOARD_PROFILES) as (keyof typeof BOARD_PROFILES)[])),
        (id, board) => {
          fc.pre(!["web", "server", "broker", "admin", "all"].includes(id));
          const text = renderDeviceConfig(config({ deviceId: id, board }));
          DeviceConfig.parse(JSON.parse(text));
          assert.ok(text.endsWith("}\n"));
        },
      ),
    );
  });
});

describe("backend needs", () => {
  it("asks for gpiod and the gpio group for libgpiod lines, a udev grant per kernel LED", () => {
    assert.deepEqual(
      backendNeeds([
        { type: "gpiod", line: "GPIO17" },
        { type: "led", led: "led0" },
        { type: "led", led: "led0" },
      ]),
      {
        gpiod: true,
        gpioGroup: true,
        kernelLeds: ["led0"],
      },
    );
    assert.deepEqual(backendNeeds([{ type: "sysfs", gpio: 529 }]), { gpiod: false, gpioGroup: true, kernelLeds: [] });
    assert.deepEqual(backendNeeds([{ type: "simulated" }]), { gpiod: false, gpioGroup: false, kernelLeds: [] });
  });
});

describe("device unit renderer", () => {
  const unit = renderDeviceUnit({ deviceId: "pi1", source: "stack dev, device pi1" });
  const directives = unit.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));

  it("starts with a header naming the renderer and the stack", () => {
    assertRenderedHeader(unit, "infra/render/device-unit.ts", "stack dev, device pi1");
  });

  it("runs the bundle as diy-device and restarts it forever", () => {
    assertHasLines(directives, [
      "User=diy-device",
      "Group=diy-device",
      "Restart=always",
      "RestartSec=2",
      "StartLimitIntervalSec=0",
      "WantedBy=multi-user.target",
    ]);
    assert.ok(
      directives.includes("ExecStart=/usr/bin/node /opt/diy-device/device.js --config /etc/diy-device/config.json"),
    );
  });

  it("hardens without breaking GPIO and kernel LEDs", () => {
    assertHasLines(directives, [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "CapabilityBoundingSet=",
    ]);
    assert.ok(directives.includes("ReadWritePaths=-/sys/class/leds -/sys/class/gpio /var/lib/diy-device"));
    for (const forbidden of [
      "PrivateDevices",
      "ProtectKernelTunables",
      "ProtectClock",
      "DeviceAllow",
      "DevicePolicy",
      "MemoryDenyWriteExecute",
    ]) {
      assert.ok(!directives.some((d) => d.startsWith(`${forbidden}=`)), `${forbidden} must not be set`);
    }
  });

  it("refuses an id that is not a device id", () => {
    assert.throws(() => renderDeviceUnit({ deviceId: "Pi 1" }), /not a valid device id/);
  });
});

describe("device udev rules renderer", () => {
  it("grants the service group write on exactly the configured LEDs and gpiochips to the gpio group", () => {
    const rules = renderDeviceUdevRules({ kernelLeds: ["beaglebone:green:usr0"], gpioGroup: true }) ?? "";
    assert.match(rules, /^# Rendered by diy-device-cloud infra\/render\/device-udev.ts/);
    assert.match(
      rules,
      /^SUBSYSTEM=="leds", KERNEL=="beaglebone:green:usr0", ACTION=="add\|change", RUN\+="\/bin\/chgrp diy-device \/sys%p\/brightness \/sys%p\/trigger", RUN\+="\/bin\/chmod g\+w \/sys%p\/brightness \/sys%p\/trigger"$/m,
    );
    assert.match(rules, /^SUBSYSTEM=="gpio", KERNEL=="gpiochip\*", GROUP="gpio", MODE="0660"$/m);
    assert.equal(rules.split("\n").filter((l) => l.startsWith("SUBSYSTEM")).length, 2);
  });

  it("renders nothing when no backend needs a rule, and refuses an LED name that could break the rule", () => {
    assert.equal(renderDeviceUdevRules({ kernelLeds: [], gpioGroup: false }), undefined);
    assert.throws(
      () => renderDeviceUdevRules({ kernelLeds: ['led", RUN+="/bin/sh'], gpioGroup: false }),
      /kernel LED name/,
    );
  });
});

describe("device payload", () => {
  const files = {
    "config.json": "{}",
    "ca.pem": "ca",
    "device.pem": "cert",
    "device.key": "KEY",
    "diy-device.service": "unit",
  };

  it("round-trips every file, and carries no file in clear", () => {
    const payload = renderDevicePayload({ ...files, "bridge.passwd": "ard1:pässwörd\n" });
    assert.deepEqual(parseDevicePayload(payload), { ...files, "bridge.passwd": "ard1:pässwörd\n" });
    assert.ok(!payload.includes("KEY") && !payload.includes("ard1"));
  });

  it("round-trips arbitrary text (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 400 }).filter((s) => s.length > 0),
        (text) => {
          assert.equal(
            parseDevicePayload(renderDevicePayload({ ...files, "config.json": text }))["config.json"],
            Buffer.from(text, "utf8").toString("utf8"),
          );
        },
      ),
    );
  });

  it("refuses a payload without a required file", () => {
    const { "device.key": _key, ...rest } = files;
    assert.throws(() => renderDevicePayload(rest), /device payload needs device.key/);
  });
});

describe("install scripts renderer", () => {
  it("renders strict bash with a header, the device id and the role flags", () => {
    const s = renderDeviceInstallScript({
      deviceId: "bbb1",
      gpiod: false,
      gpioGroup: true,
      bridge: true,
      source: "stack dev",
      bundleSha256: SHA,
    });
    assert.match(
      s,
      /^#!\/usr\/bin\/env bash\n# Rendered by diy-device-cloud infra\/render\/device-install.ts; do not edit by hand.\n# Source: stack dev\n/,
    );
    assert.match(s, /^set -euo pipefail$/m);
    assert.match(s, /^readonly DEVICE_ID="bbb1"$/m);
    assert.match(s, /^readonly NEED_GPIOD=0$/m);
    assert.match(s, /^readonly NEED_GPIO_GROUP=1$/m);
    assert.match(s, /^readonly BRIDGE=1$/m);
    assert.match(s, new RegExp(`^readonly BUNDLE_SHA256="${SHA}"$`, "m"));
    assert.match(renderDeviceUninstallScript({ deviceId: "bbb1" }), /^set -euo pipefail$/m);
  });

  it("is one self-contained file whose every upper-case variable is set in it (rendered value or the script's own)", () => {
    // shellcheck takes an upper-case name for the environment's, so a value the renderer forgot passes the lint
    // in place: this is the check that the values rendered in front and the .sh files agree.
    const environment = new Set(["DIY_ROOT", "DIY_SYSTEMCTL", "BASH_SOURCE"]);
    for (const script of [
      piInstallScript({ gpiod: true, gpioGroup: true, bridge: true }, SHA),
      renderDeviceUninstallScript({ deviceId: "pi1" }),
    ]) {
      assert.doesNotMatch(script, /^\s*(source|\.) /m, "the library is written in, not sourced");
      const set = new Set(
        [...script.matchAll(/^\s*(?:readonly |local )?([A-Z][A-Z0-9_]*)=|read -r -a ([A-Z][A-Z0-9_]*)/gm)].map(
          (m) => m[1] ?? m[2],
        ),
      );
      const read = new Set([...script.matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] ?? ""));
      const unset = [...read].filter((name) => !set.has(name) && !environment.has(name));
      assert.deepEqual(unset, [], "read but never set");
      const rendered = [...script.matchAll(/^readonly ([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? "");
      const unused = rendered.filter((name) => !read.has(name));
      assert.deepEqual(unused, [], "rendered but never read");
    }
  });

  it("changes with the role, so a changed role re-runs the install", () => {
    const a = piInstallScript({ gpiod: true, gpioGroup: true, bridge: false }, SHA);
    assert.notEqual(a, piInstallScript({ gpiod: true, gpioGroup: true, bridge: true }, SHA));
    assert.equal(a, piInstallScript({ gpiod: true, gpioGroup: true, bridge: false }, SHA));
  });

  it("wraps a script into one remote command line that fits one argv string", () => {
    const script = piInstallScript({ gpiod: true, gpioGroup: true, bridge: true }, SHA);
    const line = renderRemoteInvocation(script, "diy-device-install", ".diy-device-cloud");
    assert.ok(!line.includes("\n"));
    assert.ok(line.length < 64 * 1024, `${line.length} bytes`);
    assert.match(line, /sudo -n bash -c "\$s" diy-device-install "\$HOME\/\.diy-device-cloud"/);
    assert.throws(() => renderRemoteInvocation(script, "x; rm -rf /", ".d"), /invocation name/);
    assert.throws(() => renderRemoteInvocation(script, "x", "../etc"), /staging directory/);
    assert.throws(() => renderRemoteInvocation(script, "x", "/etc"), /staging directory/);
  });

  it("runs a copied install script only when it is the one rendered, and keeps it out of the command line", () => {
    const script = piInstallScript({ gpiod: true, gpioGroup: true, bridge: true }, SHA);
    const line = renderStagedInvocation(script, "diy-device-install", ".diy-device-cloud");
    assert.ok(line.length < 1024, `${line.length} bytes`);
    assert.ok(!line.includes(Buffer.from(script).toString("base64").slice(0, 40)), "the script is not in the line");
    const sum = createHash("sha256").update(script).digest("hex");
    assert.ok(
      line.includes(`"${sum}  -"`),
      "the line names the script's SHA-256: a new script is a new line (an update)",
    );
    assert.match(line, /cat -- "\$HOME\/\.diy-device-cloud\/install\.sh"/);
  });
});

describe("device config renderer: inputs", () => {
  it("says a kernel LED cannot be an input", () => {
    assert.throws(
      () => deviceConfig(config({ inputs: [{ name: "button", backend: { type: "led", led: "led0" } }] })),
      /input button uses a kernel LED, which is output only/,
    );
  });
});

describe("device plan", () => {
  const base = { source: "stack dev", broker, bundle: "js", caCertPem: "ca", certPem: "cert" };
  /** A device with no outputs or inputs on a generic board: what the plan adds beyond them. */
  const bareDevice = { id: "pi1", board: "generic", outputs: [], inputs: [] } as const;

  it("derives packages, groups and the udev rule from the configured backends", () => {
    const bbb = planDevice({
      ...base,
      device: { id: "bbb1", board: "beaglebone", outputs: [{ name: "usr0", safeState: "off" }], inputs: [] },
    });
    assert.match(bbb.files["udev.rules"] ?? "", /KERNEL=="beaglebone:green:usr0"/);
    assert.match(bbb.installScript, /^readonly NEED_GPIOD=0$/m);
    const pi = planDevice({
      ...base,
      device: { id: "pi1", board: "raspberrypi", outputs: [{ name: "led", safeState: "off" }], inputs: [] },
    });
    assert.match(pi.installScript, /^readonly NEED_GPIOD=1$/m);
    assert.match(pi.files["udev.rules"] ?? "", /gpiochip/);
    const gen = planDevice({
      ...base,
      device: { id: "gen1", board: "generic", outputs: [{ name: "led", safeState: "off" }], inputs: [] },
    });
    assert.equal(gen.files["udev.rules"], undefined);
    assert.match(gen.files["diy-device.service"] ?? "", /^# Source: stack dev, device gen1$/m);
  });

  it("lets the service drive the Pi's activity LED under either name the kernel may give it", () => {
    const pi = planDevice({
      ...base,
      device: {
        id: "pi1",
        board: "raspberrypi",
        outputs: [{ name: "act", safeState: "off", backend: { type: "led", led: "ACT" } }],
        inputs: [],
      },
    });
    const config = JSON.parse(pi.files["config.json"] ?? "{}") as { outputs: { backend: unknown }[] };
    assert.deepEqual(config.outputs[0]?.backend, { type: "led", led: "ACT", alternatives: ["led0"] });
    const rules = pi.files["udev.rules"] ?? "";
    assert.match(rules, /KERNEL=="ACT"/);
    assert.match(rules, /KERNEL=="led0"/);
    assert.match(pi.installScript, /^readonly NEED_GPIOD=0$/m);
  });

  it("adds the bridge files for the bridge role and needs a LAN password per child in the payload", () => {
    const bridgeDevice = {
      ...bareDevice,
      id: "pib",
      bridge: { lanAddress: "192.168.1.41", port: 1883, children: [{ id: "ard1", outputs: ["led"], inputs: [] }] },
    };
    assert.throws(() => planDevice({ ...base, device: bridgeDevice }), /bridge pib: no certificate for its bridge/);
    const plan = planDevice({ ...base, bridgeCertPem: "bridge cert", device: bridgeDevice });
    assert.match(plan.files["bridge.conf"] ?? "", /^address 203\.0\.113\.10:8883$/m);
    assert.match(plan.files["bridge.acl"] ?? "", /^user ard1$/m);
    assert.match(plan.installScript, /^readonly BRIDGE=1$/m);
    // The bridge connection has its own identity: the cloud binds the client id to the CN.
    assert.equal(plan.files["bridge.pem"], "bridge cert");
    assert.match(plan.files["bridge.conf"] ?? "", /^remote_clientid pib:bridge$/m);
    assert.throws(() => devicePayload(plan, { keyPem: "k" }), /bridge pib: no LAN password for ard1/);
    const lanPasswords = { ard1: "abcdefghijkl0123" };
    assert.throws(() => devicePayload(plan, { keyPem: "k", lanPasswords }), /bridge pib: no key for its bridge/);
    const files = parseDevicePayload(devicePayload(plan, { keyPem: "k", lanPasswords, bridgeKeyPem: "bk" }));
    assert.equal(files["bridge.passwd"], "ard1:abcdefghijkl0123\n");
    assert.equal(files["device.key"], "k");
    assert.equal(files["bridge.key"], "bk");
    const plain = planDevice({ ...base, device: bareDevice });
    assert.throws(
      () => devicePayload(plain, { keyPem: "k", lanPasswords: { ard1: "abcdefghijkl0123" } }),
      /has no bridge role/,
    );
  });

  it("stages the bundle and the install script for a copy, keeping them out of stdin and the command line", () => {
    const plan = planDevice({ ...base, device: bareDevice });
    assert.deepEqual(plan.staged, {
      dir: ".diy-device-cloud",
      files: { "device.js": "js", "install.sh": plan.installScript },
    });
    const payload = devicePayload(plan, { keyPem: "k" });
    assert.ok(!("device.js" in parseDevicePayload(payload)), "the bundle is not on stdin");
    const jsSha = createHash("sha256").update("js").digest("hex");
    assert.match(plan.installScript, new RegExp(`^readonly BUNDLE_SHA256="${jsSha}"$`, "m"));
    assert.ok(plan.installCommand.length < 1024, "the install script is not in the command line");
    const other = planDevice({
      ...base,
      bundle: "js v2",
      device: bareDevice,
    });
    assert.notEqual(other.installCommand, plan.installCommand, "a new bundle is a new command line: an update");
  });

  it("keeps the secrets out of the plan and its hash input", () => {
    const plan = planDevice({ ...base, device: bareDevice });
    assert.equal(plan.files["device.key"], undefined);
    assert.equal(plan.files["bridge.passwd"], undefined);
    assert.match(plan.contentHash, /^[0-9a-f]{64}$/);
  });
});
