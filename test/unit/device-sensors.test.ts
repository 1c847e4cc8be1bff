// Sensor backends of the device service on fake sysfs trees laid out as the kernel documents them
// (thermal: Documentation/driver-api/thermal/sysfs-api.rst; 1-Wire: Documentation/w1/slaves/w1_therm.rst;
// IIO: Documentation/ABI/testing/sysfs-bus-iio), the sampler's publish decisions and the config schema.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { createLogger } from "../../device/log";
import { SensorConfig } from "../../device/sensors/config";
import { parseW1Slave } from "../../device/sensors/ds18b20";
import { iioSiblings } from "../../device/sensors/file";
import { type SensorEnv, openSensor } from "../../device/sensors";
import { type SamplePolicy, samplePolicy, shouldPublish, startSampling } from "../../device/sensors/sampler";
import { DEFAULT_SIGNAL, signalAt } from "../../device/sensors/simulated";

const root = mkdtempSync(join(tmpdir(), "diy-device-sensors-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function fakeSys(files: Record<string, string>): SensorEnv & { dir: string } {
  const dir = join(root, String(n++));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(join(full, ".."), { recursive: true });
    writeFileSync(full, content);
  }
  mkdirSync(dir, { recursive: true });
  return { dir, sysfsRoot: dir };
}

/** Thermal zones 0, 1, ... as the kernel lists them: class/thermal/thermal_zone<N>/{type,temp}. */
const thermalZones = (...zones: { type: string; temp: string }[]): Record<string, string> =>
  Object.fromEntries(
    zones.flatMap(({ type, temp }, i) => [
      [`class/thermal/thermal_zone${i}/type`, type],
      [`class/thermal/thermal_zone${i}/temp`, temp],
    ]),
  );
const sensor = (backend: unknown, extra: Record<string, unknown> = {}) =>
  SensorConfig.parse({ name: "s", backend, ...extra });

// Real w1_slave output of a DS18B20 at 23.125 °C (scratchpad: LSB 0x72, MSB 0x01 = 370 / 16).
const W1_OK = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";
const W1_CRC_NO = "72 01 4b 46 7f ff 0e 10 57 : crc=a1 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";
const W1_ZEROS = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n";
const W1_POWER_ON = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n";
const W1_NEGATIVE = "5e ff 4b 46 7f ff 02 10 6f : crc=6f YES\n5e ff 4b 46 7f ff 02 10 6f t=-10125\n";

describe("CPU temperature (thermal zones)", () => {
  it("reads the zone whose type names the CPU, in degrees from millidegrees", async () => {
    const env = fakeSys(
      thermalZones({ type: "acpitz\n", temp: "27800\n" }, { type: "cpu-thermal\n", temp: "47250\n" }),
    );
    const r = await openSensor(sensor({ type: "cpu-thermal" }), env);
    assert.equal(await r.read(), 47.25);
    assert.match(r.description, /thermal_zone1$/);
    const zone0 = await openSensor(sensor({ type: "cpu-thermal", zone: 0 }), env);
    assert.equal(await zone0.read(), 27.8);
  });

  it("falls back to zone 0, and says what to use instead when the kernel has no thermal zone", async () => {
    const env = fakeSys(thermalZones({ type: "bcm2835_thermal\n", temp: "51540" }));
    assert.equal(await (await openSensor(sensor({ type: "cpu-thermal" }), env)).read(), 51.54);
    await assert.rejects(
      openSensor(sensor({ type: "cpu-thermal" }), fakeSys({})),
      /no thermal zone under .*use a ds18b20 or file sensor/,
    );
  });

  it("rejects a read that is not a number, naming the file", async () => {
    const env = fakeSys(thermalZones({ type: "cpu-thermal", temp: "\n" }));
    const r = await openSensor(sensor({ type: "cpu-thermal" }), env);
    await assert.rejects(r.read(), /thermal_zone0\/temp does not hold a number/);
  });
});

describe("DS18B20 1-Wire probe", () => {
  it("parses w1_slave: the CRC verdict, then t= in millidegrees (negative too)", () => {
    assert.deepEqual(parseW1Slave(W1_OK), { ok: true, celsius: 23.125 });
    assert.deepEqual(parseW1Slave(W1_NEGATIVE), { ok: true, celsius: -10.125 });
    assert.match(String((parseW1Slave(W1_CRC_NO) as { error: string }).error), /CRC check failed/);
    assert.match(String((parseW1Slave(W1_ZEROS) as { error: string }).error), /all zeros: the probe dropped off/);
    assert.match(String((parseW1Slave(W1_POWER_ON) as { error: string }).error), /power-on value/);
    assert.equal(parseW1Slave("").ok, false);
    assert.equal(parseW1Slave("72 01 : crc=57 YES\nno temperature here").ok, false);
  });

  it("reads the only probe on the bus; a CRC 'NO' is an error for that sample, and the next good one reads", async () => {
    const env = fakeSys({ "bus/w1/devices/28-0316a2792fff/w1_slave": W1_OK, "bus/w1/devices/w1_bus_master1/x": "" });
    const r = await openSensor(sensor({ type: "ds18b20" }), env);
    assert.equal(await r.read(), 23.125);
    writeFileSync(join(env.dir, "bus/w1/devices/28-0316a2792fff/w1_slave"), W1_CRC_NO);
    await assert.rejects(r.read(), /28-0316a2792fff: CRC check failed/);
    writeFileSync(join(env.dir, "bus/w1/devices/28-0316a2792fff/w1_slave"), W1_NEGATIVE);
    assert.equal(await r.read(), -10.125);
  });

  it("says how to enable 1-Wire when no probe is there, and which ids to choose from when there are two", async () => {
    await assert.rejects(openSensor(sensor({ type: "ds18b20" }), fakeSys({})), /no DS18B20 .*dtoverlay=w1-gpio/);
    const two = fakeSys({
      "bus/w1/devices/28-000000000001/w1_slave": W1_OK,
      "bus/w1/devices/28-000000000002/w1_slave": W1_OK,
    });
    await assert.rejects(
      openSensor(sensor({ type: "ds18b20" }), two),
      /2 DS18B20 probes on the bus \(28-000000000001, 28-000000000002\): set backend.id/,
    );
    const chosen = await openSensor(sensor({ type: "ds18b20", id: "28-000000000002" }), two);
    assert.equal(await chosen.read(), 23.125);
  });

  it("reports a probe that left the bus (its directory is gone) as unplugged", async () => {
    const env = fakeSys({ "bus/w1/devices/28-0316a2792fff/w1_slave": W1_OK });
    const r = await openSensor(sensor({ type: "ds18b20" }), env);
    rmSync(join(env.dir, "bus/w1/devices/28-0316a2792fff"), { recursive: true });
    await assert.rejects(r.read(), /is not on the bus \(unplugged/);
  });
});

describe("generic sysfs / IIO file", () => {
  it("applies the IIO channel's own scale and offset: (raw + offset) * scale", async () => {
    const env = fakeSys({
      "bus/iio/devices/iio:device0/in_voltage0_raw": "1000\n",
      "bus/iio/devices/iio:device0/in_voltage0_scale": "0.5\n",
      "bus/iio/devices/iio:device0/in_voltage_scale": "99\n",
      "bus/iio/devices/iio:device0/in_voltage0_offset": "-10\n",
    });
    const r = await openSensor(
      sensor({ type: "file", path: "/sys/bus/iio/devices/iio:device0/in_voltage0_raw" }, { unit: "mV" }),
      env,
    );
    assert.equal(await r.read(), 495);
    writeFileSync(join(env.dir, "bus/iio/devices/iio:device0/in_voltage0_raw"), "2000");
    assert.equal(await r.read(), 995);
  });

  it("falls back to the type's shared scale, and a configured scale wins over the files", async () => {
    const env = fakeSys({
      "bus/iio/devices/iio:device0/in_temp1_raw": "2500",
      "bus/iio/devices/iio:device0/in_temp_scale": "0.01",
    });
    const path = "/sys/bus/iio/devices/iio:device0/in_temp1_raw";
    assert.equal(await (await openSensor(sensor({ type: "file", path }, { unit: "°C" }), env)).read(), 25);
    assert.equal(
      await (await openSensor(sensor({ type: "file", path, scale: 2, offset: 1 }, { unit: "x" }), env)).read(),
      5002,
    );
    assert.deepEqual(iioSiblings("in_voltage3_raw", "scale"), ["in_voltage3_scale", "in_voltage_scale"]);
    assert.deepEqual(iioSiblings("in_illuminance_raw", "offset"), ["in_illuminance_offset"]);
    assert.deepEqual(iioSiblings("temp1_input", "scale"), []);
  });

  it("reads a hwmon input as it is, and fails clearly for a missing or non-numeric file", async () => {
    const env = fakeSys({ "class/hwmon/hwmon0/temp1_input": "41000\n", "class/hwmon/hwmon0/name": "cpu_thermal" });
    const r = await openSensor(
      sensor({ type: "file", path: "/sys/class/hwmon/hwmon0/temp1_input", scale: 0.001 }, { unit: "°C" }),
      env,
    );
    assert.equal(await r.read(), 41);
    await assert.rejects(
      openSensor(sensor({ type: "file", path: "/sys/class/hwmon/hwmon9/temp1_input" }, { unit: "°C" }), env),
      /does not exist \(is the driver loaded/,
    );
    const name = await openSensor(sensor({ type: "file", path: "/sys/class/hwmon/hwmon0/name" }, { unit: "?" }), env);
    await assert.rejects(name.read(), /does not hold a number \(it holds "cpu_thermal"\)/);
  });
});

describe("simulated sensor", () => {
  it("gives a plausible signal around the sine, deterministic under a fixed clock and randomness", async () => {
    let t = Date.UTC(2026, 0, 1);
    const env: SensorEnv = { sysfsRoot: "/nonexistent", now: () => t, random: () => 0.9 };
    const r = await openSensor(sensor({ type: "simulated", periodSeconds: 600 }), env);
    const values: number[] = [];
    for (let i = 0; i < 120; i++) {
      t += 10_000;
      const v = await r.read();
      values.push(v);
      const centre = signalAt({ ...DEFAULT_SIGNAL, periodSeconds: 600 }, t);
      assert.ok(Math.abs(v - centre) <= 3.5 * DEFAULT_SIGNAL.noise + 1e-9, `${v} near ${centre}`);
    }
    assert.ok(Math.max(...values) - Math.min(...values) > 3, "it moves over a period");
  });

  it("reads a number from its file when there is one, and fails like a broken probe on anything else", async () => {
    const env = fakeSys({});
    const file = join(env.dir, "probe.value");
    const r = await openSensor(sensor({ type: "simulated", file }), env);
    const synthetic = await r.read();
    assert.ok(Math.abs(synthetic - DEFAULT_SIGNAL.base) <= DEFAULT_SIGNAL.amplitude + 1);
    writeFileSync(file, "23.5\n");
    assert.equal(await r.read(), 23.5);
    writeFileSync(file, "hot");
    await assert.rejects(r.read(), /does not hold a number/);
  });
});

describe("sampling and report-on-change", () => {
  const policy: SamplePolicy = { intervalMs: 1000, reportChange: 0.5, heartbeatMs: 60_000 };

  it("publishes every sample without reportChange, and with it only a move of reportChange or a heartbeat", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.01, max: 5, noNaN: true }),
        (values, delta) => {
          const p: SamplePolicy = { intervalMs: 1000, reportChange: delta, heartbeatMs: 10_000 };
          let last: { value: number; at: number } | undefined;
          values.forEach((v, i) => {
            const now = i * 1000;
            const publish = shouldPublish(last, v, now, p);
            const expected = last === undefined || Math.abs(v - last.value) >= delta || now - last.at >= 10_000;
            assert.equal(publish, expected);
            assert.equal(shouldPublish(last, v, now, { ...p, reportChange: undefined }), true);
            if (publish) last = { value: v, at: now };
            // Never silent longer than the heartbeat.
            assert.ok(last && now - last.at < 10_000);
          });
        },
      ),
    );
  });

  it("takes the interval and heartbeat from the config (heartbeat at least the interval)", () => {
    assert.deepEqual(samplePolicy(sensor({ type: "cpu-thermal" })), { intervalMs: 60_000, heartbeatMs: 900_000 });
    assert.deepEqual(samplePolicy(sensor({ type: "cpu-thermal" }, { intervalSeconds: 3600, reportChange: 1 })), {
      intervalMs: 3_600_000,
      reportChange: 1,
      heartbeatMs: 3_600_000,
    });
  });

  it("logs a failing sensor once (and again only when the error changes), then its recovery once", async () => {
    const lines: { event: string; err?: string }[] = [];
    const log = createLogger({ write: (l) => lines.push(JSON.parse(l)) });
    const script: (number | Error)[] = [20, new Error("CRC"), new Error("CRC"), new Error("gone"), 21, 21.1, 30];
    let i = 0;
    const published: number[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const s = startSampling({
      name: "probe",
      reader: {
        description: "scripted",
        read: async () => {
          if (i >= script.length) return new Promise<number>(() => {}); // the script is over: no more samples
          const next = script[i++];
          if (i >= script.length) done();
          if (next instanceof Error) throw next;
          return next as number;
        },
      },
      policy: { ...policy, intervalMs: 1 },
      publish: (v) => {
        published.push(v);
        return true;
      },
      log,
    });
    await finished;
    await new Promise((r) => setTimeout(r, 5));
    s.stop();
    assert.deepEqual(published, [20, 21, 30], "21.1 moved less than reportChange 0.5");
    assert.deepEqual(
      lines.map((l) => `${l.event}${l.err ? `: ${l.err}` : ""}`),
      ["sensor read failed: CRC", "sensor read failed: gone", "sensor recovered"],
    );
    assert.deepEqual(s.last()?.value, 30);
  });
});

describe("sampling while offline", () => {
  it("keeps the latest sample it could not send and sends it on reconnect, not a backlog", async () => {
    let value = 10;
    let online = false;
    const sent: number[] = [];
    let reads = 0;
    const s = startSampling({
      name: "t",
      reader: {
        description: "counter",
        read: async () => {
          if (reads >= 5) return new Promise<number>(() => {}); // a slow probe: no more samples for now
          reads++;
          return value++;
        },
      },
      policy: { intervalMs: 1, heartbeatMs: 60_000 },
      publish: (v) => {
        if (online) sent.push(v);
        return online;
      },
      log: createLogger({ write: () => {} }),
    });
    while (reads < 5) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(sent, []);
    online = true;
    s.flushPending();
    assert.deepEqual(sent, [14], "the latest sample, not a backlog");
    assert.equal(s.last()?.value, 14);
    s.flushPending();
    assert.equal(sent.length, 1, "sent once");
    s.stop();
  });
});

describe("sensor config", () => {
  it("refuses a file sensor without a unit, a path outside /sys or with '..', a bad probe id and a zero interval", () => {
    const bad = [
      { name: "v", backend: { type: "file", path: "/sys/bus/iio/devices/iio:device0/in_voltage0_raw" } },
      { name: "v", unit: "mV", backend: { type: "file", path: "/etc/diy-device/device.key" } },
      { name: "v", unit: "mV", backend: { type: "file", path: "/sys/../etc/shadow" } },
      { name: "t", backend: { type: "ds18b20", id: "28-XYZ" } },
      { name: "t", intervalSeconds: 0, backend: { type: "cpu-thermal" } },
      { name: "T!", backend: { type: "cpu-thermal" } },
      { name: "t", reportChange: -1, backend: { type: "cpu-thermal" } },
    ];
    for (const b of bad) assert.equal(SensorConfig.safeParse(b).success, false, JSON.stringify(b));
    assert.match(String(SensorConfig.safeParse(bad[0]).error?.issues[0]?.message), /a file sensor needs its unit/);
  });
});
