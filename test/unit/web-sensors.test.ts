// Sensors in the web app without a broker: the protocol's reading topic and payload, the device store's
// sensor state and "last seen", the history API's validation and answers, and threshold alerts on a
// fake clock.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AlertTimers } from "../../apps/web/alerts";
import { createWebApp } from "../../apps/web/app";
import type { CommandSender } from "../../apps/web/broker";
import { type SensorAlertConfig, WebConfig } from "../../apps/web/config";
import { parseStep, parseTime } from "../../apps/web/history-api";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../apps/web/history/downsample";
import { HistoryStore } from "../../apps/web/history/store";
import { memoryLogger, silentLogger } from "../../apps/web/log";
import { createSensorAlerter, outsideRange } from "../../apps/web/sensor-alerts";
import { DeviceStore } from "../../apps/web/state";
import { encodeSensor, parseSensor, parseTopic, subscriptions, topics } from "../../protocol";

const PASSWORD = "correct horse battery staple";
const SECRET = "0123456789abcdef0123456789abcdef";

describe("sensor readings in the protocol", () => {
  it("has one topic per device sensor, parsed back, and the web app subscribes to it", () => {
    assert.equal(topics.sensor("pi1", "cpu"), "devices/pi1/sensor/cpu");
    assert.deepEqual(parseTopic("devices/pi1/sensor/cpu"), { kind: "sensor", deviceId: "pi1", name: "cpu" });
    assert.equal(parseTopic("devices/pi1/sensor/cpu/extra"), undefined);
    assert.equal(parseTopic("devices/pi1/sensor/"), undefined);
    assert.ok(subscriptions.web.includes("devices/+/sensor/+"));
  });

  it("round-trips {value, unit, at} and refuses what is not a finite number with a printable unit", () => {
    const at = new Date("2026-11-01T12:00:00.000Z");
    assert.deepEqual(parseSensor(encodeSensor(21.5, "°C", at)), {
      ok: true,
      value: { value: 21.5, unit: "°C", at: "2026-11-01T12:00:00.000Z" },
    });
    for (const bad of [
      '{"value":"21","unit":"C","at":"2026-11-01T12:00:00Z"}',
      '{"value":null,"unit":"C","at":"2026-11-01T12:00:00Z"}',
      '{"value":1e999,"unit":"C","at":"2026-11-01T12:00:00Z"}',
      '{"value":1,"unit":"","at":"2026-11-01T12:00:00Z"}',
      '{"value":1,"unit":"<script>","at":"2026-11-01T12:00:00Z"}',
      '{"value":1,"unit":"C\\u001b[2J","at":"2026-11-01T12:00:00Z"}',
      '{"value":1,"unit":"C","at":"yesterday"}',
      '{"value":1,"unit":"C","at":"2026-11-01T12:00:00Z","extra":1}',
      `{"value":1,"unit":"${"x".repeat(17)}","at":"2026-11-01T12:00:00Z"}`,
    ])
      assert.equal(parseSensor(bad).ok, false, bad);
  });
});

describe("device store: sensors and last seen", () => {
  const now = new Date("2026-11-01T12:00:00Z");
  const store = () =>
    new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [], sensors: [{ name: "cpu" }] }], () => now);

  it("keeps the last reading, emits it with its retain flag, and drops unconfigured sensors", () => {
    const s = store();
    const seen: unknown[] = [];
    s.on("sensor", (r) => seen.push(r));
    const payload = encodeSensor(47.2, "°C", new Date("2026-11-01T11:59:00Z"));
    assert.deepEqual(s.apply("devices/pi1/sensor/cpu", payload, { retained: true }), {
      ok: true,
      kind: "sensor",
      deviceId: "pi1",
      changed: true,
    });
    assert.deepEqual(s.get("pi1")?.sensors, [{ name: "cpu", value: 47.2, unit: "°C", at: "2026-11-01T11:59:00.000Z" }]);
    assert.equal(s.get("pi1")?.lastSeen, undefined, "a retained copy is not a sign of life");
    assert.deepEqual(seen, [
      { deviceId: "pi1", name: "cpu", value: 47.2, unit: "°C", at: "2026-11-01T11:59:00.000Z", retained: true },
    ]);
    s.apply("devices/pi1/sensor/cpu", payload);
    assert.equal(s.get("pi1")?.lastSeen, now.toISOString());
    const other = s.apply("devices/pi1/sensor/gpu", payload);
    assert.equal(other.ok, false);
    assert.match(other.ok ? "" : other.reason, /sensor "gpu" not in the web config/);
    assert.equal(s.apply("devices/pi1/sensor/cpu", '{"value":"hot"}').ok, false);
  });

  it("counts a live state, an input and 'online' as seen; the Last Will 'offline' is not", () => {
    const s = new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [] }], () => now);
    s.apply("devices/pi1/status", "offline");
    assert.equal(s.get("pi1")?.lastSeen, undefined);
    s.apply("devices/pi1/status", "online");
    assert.equal(s.get("pi1")?.lastSeen, now.toISOString());
    assert.deepEqual(s.get("pi1")?.sensors, []);
  });

  it("refuses a web config that names a sensor twice or an alert without a threshold", () => {
    const base = { broker: { url: "mqtts://localhost:8883", ca: "/a", cert: "/b", key: "/c" } };
    const twice = WebConfig.safeParse({ ...base, devices: [{ id: "pi1", sensors: [{ name: "t" }, { name: "t" }] }] });
    assert.equal(twice.success, false);
    assert.match(JSON.stringify(twice.error?.issues), /names sensor \\"t\\" twice/);
    for (const alert of [{ forMinutes: 5 }, { above: 10, below: 20 }, { above: 30, forMinutes: 0 }])
      assert.equal(
        WebConfig.safeParse({ ...base, devices: [{ id: "pi1", sensors: [{ name: "t", alert }] }] }).success,
        false,
        JSON.stringify(alert),
      );
  });
});

describe("history API over HTTP", () => {
  const dir = mkdtempSync(join(tmpdir(), "diy-history-api-"));
  const T = Date.UTC(2026, 10, 1, 12);
  const store = new DeviceStore([
    { id: "pi1", outputs: [], inputs: ["button"], sensors: [{ name: "cpu" }, { name: "probe" }] },
  ]);
  const history = HistoryStore.open({
    file: join(dir, "h.db"),
    retention: { rawDays: 7, aggregateDays: 365 },
    maxBytes: 64 * 1024 * 1024,
    log: silentLogger,
    now: () => T,
  });
  let base = "";
  let cookie = "";
  let close: () => Promise<void>;
  const sender = Object.assign(new EventEmitter(), {
    connected: true,
    sendCommand: async () => "r1",
  }) as unknown as CommandSender;

  before(async () => {
    // Two hours of one reading a minute (40 + minute index), and two button events.
    for (let i = 0; i < 120; i++)
      history.recordReading({
        device: "pi1",
        sensor: "cpu",
        value: 40 + i,
        unit: "°C",
        at: new Date(T - 2 * HOUR_MS + i * MINUTE_MS).toISOString(),
        retained: true,
      });
    history.recordEvent({ device: "pi1", input: "button", value: "pressed", at: new Date(T - 1000).toISOString() });
    history.recordEvent({ device: "pi1", input: "button", value: "released", at: new Date(T - 500).toISOString() });
    history.flush();
    const web = createWebApp({
      store,
      broker: sender,
      password: PASSWORD,
      sessionSecret: SECRET,
      logger: memoryLogger(),
      cookieSecure: false,
      history,
    });
    const server = web.app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await fetch(`${base}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password: PASSWORD }),
    });
    cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    close = () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      });
  });
  after(async () => {
    await close();
    history.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (path: string, withCookie = true) => fetch(`${base}${path}`, withCookie ? { headers: { cookie } } : {});

  it("answers min/avg/max per step as parallel arrays, from raw rows for a recent range", async () => {
    const from = new Date(T - 2 * HOUR_MS).toISOString();
    const to = new Date(T).toISOString();
    const res = await get(`/api/devices/pi1/sensors/cpu/history?from=${from}&to=${to}&step=1h`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = (await res.json()) as Record<string, unknown> & { points: Record<string, number[]> };
    assert.equal(body.unit, "°C");
    assert.equal(body.source, "aggregate", "a one-hour step comes from the 5-minute table");
    assert.equal(body.step, 3600);
    assert.deepEqual(body.points.min, [40, 100]);
    assert.deepEqual(body.points.max, [99, 159]);
    assert.deepEqual(body.points.avg, [69.5, 129.5]);
    assert.deepEqual(body.points.count, [60, 60]);
    const fine = (await (
      await get(`/api/devices/pi1/sensors/cpu/history?from=${T - 10 * MINUTE_MS}&to=${T}&step=60`)
    ).json()) as {
      source: string;
      points: { avg: number[] };
    };
    assert.equal(fine.source, "raw");
    assert.deepEqual(fine.points.avg, [150, 151, 152, 153, 154, 155, 156, 157, 158, 159]);
  });

  it("defaults to the last hour, and answers an empty series for a sensor with no readings yet", async () => {
    const res = (await (await get("/api/devices/pi1/sensors/cpu/history")).json()) as { points: { t: number[] } };
    assert.ok(res.points.t.length > 0);
    assert.ok(res.points.t.every((t) => t >= T - HOUR_MS - 60_000));
    const empty = (await (await get("/api/devices/pi1/sensors/probe/history")).json()) as { points: { t: number[] } };
    assert.deepEqual(empty.points.t, []);
  });

  it("refuses bad input with a message that says what to send, and unknown devices/sensors with 404", async () => {
    const cases: [string, number, RegExp][] = [
      ["/api/devices/pi1/sensors/cpu/history?from=yesterday", 400, /from must be an ISO 8601 time/],
      ["/api/devices/pi1/sensors/cpu/history?step=-5", 400, /step must be seconds or a duration/],
      ["/api/devices/pi1/sensors/cpu/history?step=1s&from=0", 400, /longer than the history keeps|from must be/],
      [`/api/devices/pi1/sensors/cpu/history?from=${T}&to=${T - 1}`, 400, /from must be before to/],
      [
        `/api/devices/pi1/sensors/cpu/history?from=${T - DAY_MS}&to=${T}&step=1s`,
        400,
        /more than 2000: use a step of at least 44 s/,
      ],
      ["/api/devices/pi1/sensors/cpu/history?step=1&step=2", 400, /step must be given once/],
      ["/api/devices/pi9/sensors/cpu/history", 404, /no device "pi9"/],
      ["/api/devices/pi1/sensors/gpu/history", 404, /has no sensor "gpu"/],
      ["/api/devices/pi1/events?limit=0", 400, /limit must be a whole number from 1 to 1000/],
    ];
    for (const [path, status, message] of cases) {
      const res = await get(path);
      assert.equal(res.status, status, path);
      assert.match(((await res.json()) as { error: string }).error, message, path);
    }
    assert.equal((await get("/api/devices/pi1/sensors/cpu/history", false)).status, 401, "login first");
  });

  it("lists input events newest first, within the range and the limit", async () => {
    const body = (await (await get("/api/devices/pi1/events?limit=1")).json()) as { events: unknown[] };
    assert.deepEqual(body.events, [{ t: T - 500, input: "button", value: "released" }]);
    const both = (await (await get("/api/devices/pi1/events")).json()) as { events: { value: string }[] };
    assert.deepEqual(
      both.events.map((e) => e.value),
      ["released", "pressed"],
    );
  });

  it("parses times and steps as documented", () => {
    assert.equal(parseTime("from", "2026-11-01T12:00:00Z", 0), T);
    assert.equal(parseTime("from", String(T), 0), T);
    assert.equal(parseTime("from", undefined, 7), 7);
    assert.equal(parseStep("90"), 90_000);
    assert.equal(parseStep("5m"), 300_000);
    assert.equal(parseStep("1d"), DAY_MS);
    assert.equal(parseStep(undefined), undefined);
    assert.throws(() => parseStep("1w"), /duration like 30s/);
  });
});

describe("threshold alerts", () => {
  function fakeClock() {
    let now = Date.UTC(2026, 10, 1);
    const pending = new Map<number, { at: number; fn: () => void }>();
    let id = 0;
    const timers: AlertTimers = {
      setTimeout: (fn, ms) => {
        pending.set(++id, { at: now + ms, fn });
        return id;
      },
      clearTimeout: (h) => pending.delete(h as number),
    };
    const advance = (ms: number) => {
      now += ms;
      for (const [k, t] of [...pending].sort((a, b) => a[1].at - b[1].at))
        if (t.at <= now) {
          pending.delete(k);
          t.fn();
        }
    };
    return { timers, now: () => now, advance };
  }

  /** An alerter with one rule on a fake clock, an hour's rate limit, and the mails it sent. */
  function alerterOnFakeClock(key: string, rule: SensorAlertConfig) {
    const clock = fakeClock();
    const mails: { subject: string; text: string }[] = [];
    const a = createSensorAlerter({
      rules: new Map([[key, rule]]),
      rateLimitMs: HOUR_MS,
      send: (m) => {
        mails.push(m);
      },
      now: clock.now,
      timers: clock.timers,
    });
    return { a, clock, mails };
  }

  it("mails once a reading has stayed above the limit for forMinutes, then once when it is back in range", () => {
    const { a, clock, mails } = alerterOnFakeClock("pi1/cpu", { above: 70, forMinutes: 5 });
    a.reading("pi1", "cpu", 75, "°C");
    clock.advance(4 * MINUTE_MS);
    a.reading("pi1", "cpu", 71, "°C");
    assert.equal(mails.length, 0);
    clock.advance(MINUTE_MS);
    assert.equal(mails.length, 1);
    assert.equal(mails[0]?.subject, "pi1/cpu is above 70 °C");
    assert.match(mails[0]?.text ?? "", /since 2026-11-01T00:00:00.000Z .* latest reading 71 °C/);
    a.reading("pi1", "cpu", 60, "°C");
    assert.equal(mails[1]?.subject, "pi1/cpu is back in range");
    // A short excursion is not mailed; another sensor without a rule never is.
    a.reading("pi1", "cpu", 80, "°C");
    clock.advance(2 * MINUTE_MS);
    a.reading("pi1", "cpu", 50, "°C");
    a.reading("pi1", "gpu", 500, "°C");
    clock.advance(10 * MINUTE_MS);
    assert.equal(mails.length, 2);
    a.stop();
  });

  it("sends at most one threshold mail per rate-limit window and counts what it held back", () => {
    const { a, clock, mails } = alerterOnFakeClock("pi1/t", { below: 5, forMinutes: 1 });
    for (let i = 0; i < 5; i++) {
      a.reading("pi1", "t", 2, "°C");
      clock.advance(2 * MINUTE_MS);
      a.reading("pi1", "t", 10, "°C");
      clock.advance(MINUTE_MS);
    }
    const below = mails.filter((m) => m.subject.includes("below"));
    assert.equal(below.length, 1);
    clock.advance(HOUR_MS);
    a.reading("pi1", "t", 1, "°C");
    clock.advance(2 * MINUTE_MS);
    const again = mails.filter((m) => m.subject.includes("below"));
    assert.equal(again.length, 2);
    assert.match(again[1]?.text ?? "", /4 earlier threshold alert\(s\) .* not mailed/);
    a.stop();
  });

  it("classifies values against above/below", () => {
    assert.equal(outsideRange({ above: 10, forMinutes: 1 }, 10), undefined);
    assert.equal(outsideRange({ above: 10, forMinutes: 1 }, 10.1), "above");
    assert.equal(outsideRange({ below: 0, above: 10, forMinutes: 1 }, -1), "below");
  });
});
