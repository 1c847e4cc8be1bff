// Sensors and history in the stack config: what a good entry becomes (the device's config.json through
// the device's own schema, the web app's config), and every bad value refused before anything is created,
// with the key path and what to write instead.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseWebConfig } from "../../apps/web/config";
import { renderDeviceConfig } from "../../infra/render/device-config";
import { webDevices } from "../../infra/server-input";
import { parseDeviceConfig } from "../../device/config";
import { configErrorOf, settingsFrom } from "../support/settings";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const parse_ = settingsFrom;
const withSensors = (sensors: unknown, extra: Record<string, unknown> = {}) => ({
  adminCidrs: '["198.51.100.7/32"]',
  deviceSshPrivateKey: KEY,
  devices: JSON.stringify([{ id: "pi1", host: "192.0.2.21", board: "raspberrypi", sensors }]),
  ...extra,
});

const problemsOf = (raw: Record<string, unknown>): string[] =>
  configErrorOf(raw).problems.map((p) => `${p.path}: ${p.problem}`);

describe("sensors in the stack config", () => {
  test("a good entry reaches the device's config.json (without the alert) and the web app's config (with it)", () => {
    const s = parse_(
      withSensors([
        { name: "cpu", backend: { type: "cpu-thermal" }, alert: { above: "70" } },
        { name: "probe", backend: { type: "ds18b20" }, intervalSeconds: "30", reportChange: "0.25" },
        {
          name: "light",
          unit: "lx",
          backend: { type: "file", path: "/sys/bus/iio/devices/iio:device0/in_illuminance_raw", scale: "0.5" },
        },
      ]),
    );
    const d = s.devices[0];
    assert.ok(d?.sensors);
    assert.deepEqual(d.sensors[0], {
      name: "cpu",
      intervalSeconds: 60,
      backend: { type: "cpu-thermal" },
      alert: { above: 70, forMinutes: 5 },
    });
    assert.deepEqual(d.sensors[1], {
      name: "probe",
      intervalSeconds: 30,
      reportChange: 0.25,
      backend: { type: "ds18b20" },
    });
    const config = parseDeviceConfig(
      JSON.parse(
        renderDeviceConfig({
          deviceId: d.id,
          board: d.board,
          broker: { host: "203.0.113.10", port: 8883 },
          outputs: [],
          inputs: [],
          sensors: d.sensors,
        }),
      ),
    );
    assert.deepEqual(
      config.sensors?.map((x) => x.name),
      ["cpu", "probe", "light"],
    );
    assert.ok(
      config.sensors?.every((x) => !("alert" in x)),
      "alerts are the web app's business",
    );
    const web = parseWebConfig({
      broker: { url: "mqtts://localhost:8883", ca: "/a", cert: "/b", key: "/c" },
      devices: webDevices(s.devices),
    });
    assert.deepEqual(web.devices[0]?.sensors, [
      { name: "cpu", alert: { above: 70, forMinutes: 5 } },
      { name: "probe" },
      { name: "light" },
    ]);
  });

  test("refuses each bad sensor value with its path and what is expected", () => {
    const cases: [unknown, RegExp][] = [
      [
        { name: "t", backend: { type: "thermometer" } },
        /sensors\[0\]\.backend\.type.*cpu-thermal, ds18b20, file or simulated/,
      ],
      [{ name: "t", backend: { type: "ds18b20", id: "28-XYZ" } }, /sensors\[0\]\.backend\.id.*not a DS18B20 id/],
      [{ name: "v", unit: "mV", backend: { type: "file", path: "/etc/shadow" } }, /backend\.path.*under \/sys/],
      [{ name: "v", unit: "mV", backend: { type: "file", path: "/sys/class/../../etc/shadow" } }, /without '\.\.'/],
      [
        { name: "v", backend: { type: "file", path: "/sys/bus/iio/devices/iio:device0/in_voltage0_raw" } },
        /sensors\[0\]\.unit.*needs its unit/,
      ],
      [{ name: "t", intervalSeconds: 0, backend: { type: "cpu-thermal" } }, /intervalSeconds must be 1-86400, got 0/],
      [{ name: "t", reportChange: "-1", backend: { type: "cpu-thermal" } }, /reportChange must be more than 0/],
      [{ name: "t", alert: { forMinutes: 5 }, backend: { type: "cpu-thermal" } }, /alert needs above, below or both/],
      [
        { name: "t", alert: { above: 10, below: 20 }, backend: { type: "cpu-thermal" } },
        /below must be less than above/,
      ],
      [{ name: "t", unit: "<b>", backend: { type: "cpu-thermal" } }, /unit "<b>" must be 1-16 printable/],
      [{ name: "Temp", backend: { type: "cpu-thermal" } }, /sensor name "Temp" is not a valid name/],
    ];
    for (const [sensor, expected] of cases) {
      const problems = problemsOf(withSensors([sensor]));
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${JSON.stringify(sensor)}: ${problems.join(" | ")}`,
      );
    }
    const twice = problemsOf(
      withSensors([
        { name: "t", backend: { type: "cpu-thermal" } },
        { name: "t", backend: { type: "ds18b20" } },
      ]),
    );
    assert.ok(
      twice.some((p) => /sensors\[1\]\.name: sensor "t" is listed twice/.test(p)),
      twice.join(" | "),
    );
  });
});

describe("sensors: the stack checks an entry with the board's own schema (device/sensors/config.ts)", () => {
  test("a negative amplitude or noise is refused while the config is read, naming the key and the fix", () => {
    for (const field of ["amplitude", "noise"]) {
      const path = `devices[0].sensors[0].backend.${field}`;
      const problems = configErrorOf(
        withSensors([{ name: "s", backend: { type: "simulated", [field]: "-1" } }]),
      ).problems;
      const problem = problems.find((p) => p.path === path);
      assert.ok(problem, `${field}: ${problems.map((p) => `${p.path}: ${p.problem}`).join(" | ")}`);
      assert.equal(problem.problem, `${field} must be 0 or more, got -1`);
      assert.match(
        problem.fix,
        new RegExp(`pulumi config set --path 'diy-device-cloud:${path.replace(/[[\].]/g, "\\$&")}'`),
      );
    }
  });

  test("a file path that leaves /sys, also right after /sys/, is refused", () => {
    for (const path of ["/sys/../etc/shadow", "/sys/class/../../etc/shadow", "/sys/.."]) {
      const problems = problemsOf(withSensors([{ name: "v", unit: "mV", backend: { type: "file", path } }]));
      assert.ok(
        problems.some((p) => /^devices\[0\]\.sensors\[0\]\.backend\.path: .*under \/sys without '\.\.'/.test(p)),
        `${path}: ${problems.join(" | ")}`,
      );
    }
    assert.equal(
      parse_(withSensors([{ name: "v", unit: "mV", backend: { type: "file", path: "/sys/a/..b" } }])).devices.length,
      1,
    );
  });

  test("every entry the stack accepts renders into a config.json the board accepts", () => {
    const backends = [
      { type: "simulated", base: "-40", amplitude: "0", noise: "0", periodSeconds: "10" },
      { type: "simulated", amplitude: "-0.5" },
      { type: "simulated", noise: "-3" },
      { type: "simulated", file: "/tmp/reading" },
      { type: "cpu-thermal", zone: "255" },
      { type: "file", path: "/sys/class/hwmon/hwmon0/temp1_input", scale: "-0.001", offset: "-5" },
    ];
    for (const backend of backends) {
      const raw = withSensors([{ name: "s", unit: "u", intervalSeconds: "1", reportChange: "0.1", backend }]);
      let sensors: NonNullable<ReturnType<typeof parse_>["devices"][number]["sensors"]>;
      try {
        sensors = parse_(raw).devices[0]?.sensors ?? [];
      } catch {
        continue; // refused while the config is read: nothing reaches the board
      }
      const render = () =>
        renderDeviceConfig({
          deviceId: "pi1",
          board: "raspberrypi",
          broker: { host: "203.0.113.10", port: 8883 },
          outputs: [],
          inputs: [],
          sensors,
        });
      assert.doesNotThrow(render, JSON.stringify(backend));
    }
  });
});

describe("history settings", () => {
  test("default to raw 7 days, aggregates 365 days, 1024 MiB, and reach the web app's config", () => {
    const s = parse_({ adminCidrs: '["198.51.100.7/32"]' });
    assert.equal(s.historyRawDays, 7);
    assert.equal(s.historyAggregateDays, 365);
    assert.equal(s.historyMaxMegabytes, 1024);
  });

  test("refuse out-of-range values and aggregates kept shorter than raw readings", () => {
    const problems = problemsOf({
      adminCidrs: '["198.51.100.7/32"]',
      historyRawDays: "30",
      historyAggregateDays: "10",
      historyMaxMegabytes: "1",
    });
    assert.ok(problems.some((p) => /historyAggregateDays: \(10\) must be at least historyRawDays \(30\)/.test(p)));
    assert.ok(problems.some((p) => /historyMaxMegabytes/.test(p)));
    assert.ok(
      problemsOf({ adminCidrs: '["198.51.100.7/32"]', historyRawDays: "91" }).some((p) => /historyRawDays/.test(p)),
    );
  });
});
