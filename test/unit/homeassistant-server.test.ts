// From stack settings to what the server gets with integrations.homeAssistant: the broker ACL's users and
// the web app's config (which must parse with the web app's own schema, as on the server).
import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, test } from "node:test";
import { parseWebConfig } from "../../apps/web/config";
import { haDevices } from "../../apps/web/homeassistant";
import type { Settings } from "../../infra/config";
import { BOARD_PROFILES } from "../../infra/render/device-board";
import { renderMosquittoAcl } from "../../infra/render/mosquitto-acl";
import { serverFilesInput } from "../../infra/server-input";
import { readStackFile } from "../../infra/stack-file";
import { settingsFrom } from "../support/settings";

const root = path.resolve(__dirname, "../..");
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

function devSettings(integrations?: unknown): Settings {
  const raw: Record<string, unknown> = {
    ...readStackFile(path.join(root, "Pulumi.example-full.yaml")).raw,
    deviceSshPrivateKey: KEY,
    smtpPassword: "relay-password",
  };
  if (integrations !== undefined) raw.integrations = JSON.stringify(integrations);
  // Two sensors on pi1: the CPU temperature (°C by default) and a file in millivolts.
  const devices = JSON.parse(String(raw.devices)) as { id: string; sensors?: unknown[] }[];
  const pi1 = devices.find((d) => d.id === "pi1");
  assert.ok(pi1);
  pi1.sensors = [
    { name: "cpu", backend: { type: "cpu-thermal" } },
    { name: "level", unit: "mV", backend: { type: "file", path: "/sys/bus/iio/devices/iio:device0/in_voltage0_raw" } },
  ];
  raw.devices = JSON.stringify(devices);
  return settingsFrom(raw);
}

function inputOf(s: Settings) {
  return serverFilesInput(s, {
    source: "test",
    webUrl: "https://203.0.113.10",
    pki: { caCertPem: "", serverCertPem: "", serverKeyPem: "", webCertPem: "", webKeyPem: "" },
    webPassword: "a-web-password",
    sessionSecret: "s".repeat(48),
    webBundle: "",
  });
}

describe("server files with integrations.homeAssistant", () => {
  test("the full example stack turns it on", () => assert.equal(devSettings().integrations.homeAssistant, true));

  test("the broker ACL gives Home Assistant exactly the shown devices' names, and the web app our discovery topics", () => {
    const acl = renderMosquittoAcl(inputOf(devSettings()).acl);
    const block = (user: string) => {
      const start = acl.indexOf(`\nuser ${user}\n`);
      assert.ok(start >= 0, `no user ${user} in\n${acl}`);
      const rest = acl.slice(start + 1);
      const end = rest.indexOf("\n\n");
      return (end < 0 ? rest : rest.slice(0, end)).trim().split("\n");
    };
    assert.deepEqual(block("homeassistant"), [
      "user homeassistant",
      "topic read devices/pi1/status",
      "topic write devices/pi1/out/led/set",
      "topic read devices/pi1/out/led/state",
      "topic write devices/pi1/out/act/set",
      "topic read devices/pi1/out/act/state",
      "topic read devices/pi1/in/button",
      "topic read devices/pi1/sensor/cpu",
      "topic read devices/pi1/sensor/level",
      "topic read devices/bbb1/status",
      "topic write devices/bbb1/out/led/set",
      "topic read devices/bbb1/out/led/state",
      "topic read devices/arduino1/status",
      "topic write devices/arduino1/out/relay/set",
      "topic read devices/arduino1/out/relay/state",
      "topic read devices/arduino1/in/door",
      "topic read homeassistant/switch/diy-device-cloud/+/config",
      "topic read homeassistant/event/diy-device-cloud/+/config",
      "topic read homeassistant/sensor/diy-device-cloud/+/config",
      "topic write homeassistant/status",
    ]);
    const web = block("web");
    for (const line of [
      "topic readwrite homeassistant/switch/diy-device-cloud/+/config",
      "topic readwrite homeassistant/event/diy-device-cloud/+/config",
      "topic readwrite homeassistant/sensor/diy-device-cloud/+/config",
      "topic read homeassistant/status",
    ])
      assert.ok(web.includes(line), `web lacks ${line}`);
  });

  test("the web app's config names each shown device's model (board, or the bridge a child uses) and sensor units, and parses", () => {
    const config = parseWebConfig(inputOf(devSettings()).web.config);
    assert.deepEqual(config.homeAssistant, {
      devices: {
        pi1: { model: BOARD_PROFILES.raspberrypi.title, units: { cpu: "°C", level: "mV" } },
        bbb1: { model: BOARD_PROFILES.beaglebone.title },
        arduino1: { model: "MQTT device via bridge bridge1", via: "bridge1" },
      },
    });
    assert.deepEqual(
      haDevices(config).map((d) => [d.id, d.via]),
      [
        ["pi1", undefined],
        ["bbb1", undefined],
        ["arduino1", "bridge1"],
      ],
    );
  });

  test("off: no Home Assistant user, no discovery rights for the web app, no homeAssistant in its config", () => {
    const input = inputOf(devSettings({}));
    const acl = renderMosquittoAcl(input.acl);
    assert.doesNotMatch(acl, /homeassistant/);
    assert.equal("homeAssistant" in input.web.config, false);
  });
});
