// Threshold alerts on sensor readings, through the same mail path as the offline alerts
// (apps/web/alerts.ts: createMailTransport -> postfix's sendmail, or the log without an address).
//
// A sensor with `alert: { above, below, forMinutes }` that reads outside its range starts a timer; if
// the latest reading is still outside when forMinutes have passed, one mail goes out. At most one
// threshold mail per sensor per rateLimitMinutes (what the limit held back is counted in the next
// one), and a recovery mail follows when a reading is back inside the range.
import { type AlertTimers, type AlertsConfig, type SendMail, createMailTransport } from "./alerts";
import type { SensorAlertConfig, WebDeviceConfig } from "./config";

export interface SensorAlerterOptions {
  /** alert settings per "device/sensor". */
  rules: ReadonlyMap<string, SensorAlertConfig>;
  rateLimitMs: number;
  send: SendMail;
  now?: () => number;
  timers?: AlertTimers;
  onError?: (err: unknown) => void;
}

export interface SensorAlerter {
  /** Feed every reading. Sensors without a rule are ignored. */
  reading(deviceId: string, sensor: string, value: number, unit: string): void;
  stop(): void;
}

type Side = "above" | "below";

interface RuleState {
  /** Which side of the range the latest reading is on; undefined while inside. */
  out?: Side;
  since?: number;
  last?: { value: number; unit: string };
  timer?: unknown;
  alerted: boolean;
  lastAlertAt?: number;
  suppressed: number;
}

const realTimers: AlertTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Which side of the rule's range a value is on (undefined: inside, no alert). */
export function outsideRange(rule: SensorAlertConfig, value: number): Side | undefined {
  if (rule.above !== undefined && value > rule.above) return "above";
  if (rule.below !== undefined && value < rule.below) return "below";
  return undefined;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m === 1 ? "1 minute" : `${m} minutes`;
}

export function createSensorAlerter(opts: SensorAlerterOptions): SensorAlerter {
  const now = opts.now ?? Date.now;
  const timers = opts.timers ?? realTimers;
  const onError = opts.onError ?? ((err: unknown) => console.error("sensor alert mail failed:", err));
  const states = new Map<string, RuleState>();
  let stopped = false;

  const deliver = (mail: { subject: string; text: string }) => {
    try {
      Promise.resolve(opts.send(mail)).catch(onError);
    } catch (err) {
      onError(err);
    }
  };

  const fire = (key: string, rule: SensorAlertConfig, s: RuleState) => {
    s.timer = undefined;
    if (stopped || s.out === undefined || s.since === undefined || !s.last) return;
    const t = now();
    if (s.lastAlertAt !== undefined && t - s.lastAlertAt < opts.rateLimitMs) {
      s.suppressed += 1;
      return;
    }
    const limit = s.out === "above" ? rule.above : rule.below;
    const extra =
      s.suppressed > 0
        ? `\n${s.suppressed} earlier threshold alert(s) of this sensor were not mailed (at most one per ${minutes(opts.rateLimitMs)}).`
        : "";
    s.alerted = true;
    s.lastAlertAt = t;
    s.suppressed = 0;
    deliver({
      subject: `${key} is ${s.out} ${limit} ${s.last.unit}`,
      text: `Sensor ${key} has read ${s.out} ${limit} ${s.last.unit} since ${new Date(s.since).toISOString()} (longer than ${minutes(rule.forMinutes * 60_000)}); latest reading ${s.last.value} ${s.last.unit}.${extra}\n`,
    });
  };

  return {
    reading(deviceId, sensor, value, unit) {
      const key = `${deviceId}/${sensor}`;
      const rule = opts.rules.get(key);
      if (stopped || !rule) return;
      let s = states.get(key);
      if (!s) {
        s = { alerted: false, suppressed: 0 };
        states.set(key, s);
      }
      const state = s;
      state.last = { value, unit };
      const side = outsideRange(rule, value);
      if (side !== undefined) {
        if (state.out === side) return; // still out on the same side: the clock keeps running
        if (state.timer !== undefined) timers.clearTimeout(state.timer);
        state.out = side;
        state.since = now();
        state.timer = timers.setTimeout(() => fire(key, rule, state), rule.forMinutes * 60_000);
        return;
      }
      // Back inside the range.
      if (state.timer !== undefined) timers.clearTimeout(state.timer);
      state.timer = undefined;
      const since = state.since;
      state.out = undefined;
      state.since = undefined;
      if (state.alerted && since !== undefined) {
        state.alerted = false;
        deliver({
          subject: `${key} is back in range`,
          text: `Sensor ${key} reads ${value} ${unit} again, after ${minutes(now() - since)} out of range.\n`,
        });
      }
    },
    stop() {
      stopped = true;
      for (const s of states.values()) if (s.timer !== undefined) timers.clearTimeout(s.timer);
      states.clear();
    },
  };
}

/** The rules of every configured sensor with an alert, keyed "device/sensor". */
export function sensorAlertRules(devices: readonly WebDeviceConfig[]): Map<string, SensorAlertConfig> {
  const rules = new Map<string, SensorAlertConfig>();
  for (const d of devices) for (const s of d.sensors) if (s.alert) rules.set(`${d.id}/${s.name}`, s.alert);
  return rules;
}

/** What the alerter needs from the device store: its "sensor" event. */
export interface SensorSource {
  on(
    event: "sensor",
    listener: (r: { deviceId: string; name: string; value: number; unit: string; retained: boolean }) => void,
  ): unknown;
}

/**
 * Wires threshold alerts to the device store with the stack's alert settings (config.alerts: address and
 * rate limit). Undefined when no sensor has an alert.
 */
export function startSensorAlerts(
  store: SensorSource,
  devices: readonly WebDeviceConfig[],
  cfg: AlertsConfig,
  opts: { log: (line: string) => void; sendmailPath?: string; now?: () => number; timers?: AlertTimers },
): SensorAlerter | undefined {
  const rules = sensorAlertRules(devices);
  if (rules.size === 0) return undefined;
  const alerter = createSensorAlerter({
    rules,
    rateLimitMs: cfg.rateLimitMinutes * 60_000,
    send: createMailTransport({ to: cfg.email, log: opts.log, sendmailPath: opts.sendmailPath }),
    onError: (err) => opts.log(`sensor alert mail failed: ${err instanceof Error ? err.message : String(err)}`),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.timers ? { timers: opts.timers } : {}),
  });
  // The broker's retained copy is a reading from before this start, not a new one: it must not start a clock.
  store.on("sensor", (r) => {
    if (!r.retained) alerter.reading(r.deviceId, r.name, r.value, r.unit);
  });
  return alerter;
}
